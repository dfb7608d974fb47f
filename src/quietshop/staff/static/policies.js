// Policy acknowledgements in the back office (P7), and the owner's policy screen.
//
// Once the shell has opened, this asks what the signed-in person still has to read this
// quarter. While anything is pending, the gate shows each text with an "I have read and
// understood this" button, before anything else: the rest of the back office is hidden
// (body[data-policies-pending]) until every one is acknowledged. The server refuses
// personal data meanwhile whatever this page shows (403 "policies_pending"); a screen that
// meets that answer calls checkPolicies() to bring the gate back.
//
// The owner also gets the form to publish a version, and the owner and the privacy
// officer the compliance table. Every text goes in with textContent.

import { onSubmit, say } from "/static/js/forms.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";

const API = "/api/v1/staff/policies";
// As the need-to-know table grants them (the server decides; this only shows the screens).
const MAY_PUBLISH = ["owner"];
const MAY_SEE_COMPLIANCE = ["owner", "privacy_officer"];

const byId = (selector) => document.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const date = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });

/** The policy's text as headings and paragraphs, as the public page lays it out. */
function renderBody(container, text) {
  container.replaceChildren();
  for (const block of text.split(/\n\s*\n/)) {
    const trimmed = block.trim();
    if (!trimmed) continue;
    const heading = trimmed.startsWith("## ");
    const element = document.createElement(heading ? "h3" : "p");
    element.textContent = heading ? trimmed.slice(3).trim() : trimmed;
    container.append(element);
  }
}

let markAcknowledged;
/** Resolves once nothing is pending (at once for someone who has nothing to read): a screen
 * that asks the server something on start waits for it instead of meeting 403. */
export const acknowledged = new Promise((resolve) => {
  markAcknowledged = resolve;
});

function setPending(pending) {
  if (pending) document.body.dataset.policiesPending = "";
  else {
    delete document.body.dataset.policiesPending;
    markAcknowledged();
  }
  byId("[data-policy-gate]").hidden = !pending;
}

function policyItem(policy, onDone) {
  const item = byId("template[data-policy-item]").content.firstElementChild.cloneNode(true);
  item.querySelector("[data-policy-title]").textContent = policy.title;
  item.querySelector("[data-policy-meta]").textContent =
    `${policy.kind} policy, version ${policy.version}, published ` +
    `${date.format(new Date(policy.published_at))}`;
  renderBody(item.querySelector("[data-policy-body]"), policy.body);
  const button = item.querySelector("[data-policy-acknowledge]");
  button.addEventListener("click", async () => {
    button.disabled = true;
    say(item, "");
    try {
      await staffFetch(`${API}/${policy.id}/acknowledge`, { method: "POST" });
      item.remove();
      onDone();
    } catch (error) {
      if (error?.signInShown) return;
      const replaced = error instanceof ApiError && error.code === "policy_superseded";
      say(item, error.message, "error");
      if (replaced) checkPolicies(); // a newer version was published meanwhile: show it
      else button.disabled = false;
    }
  });
  return item;
}

/** Ask the server what is pending and show the gate if anything is; resolves when done. */
export async function checkPolicies() {
  const { pending } = await staffFetch(`${API}/pending`);
  const list = byId("[data-policy-gate-list]");
  list.replaceChildren();
  if (!pending.length) {
    setPending(false);
    return;
  }
  const left = () => {
    if (!list.children.length) {
      setPending(false);
      loadCompliance(); // the table shows this person's new acknowledgements
      return;
    }
    list.firstElementChild.focus();
  };
  for (const policy of pending) list.append(policyItem(policy, left));
  setPending(true);
  byId("#policy-gate-heading").scrollIntoView?.({ block: "start" });
}

// ---------------------------------------------------------------- the owner's screen

let showCompliance = false;

function cell(row, text, header = false) {
  const element = document.createElement(header ? "th" : "td");
  if (header) element.scope = header;
  element.textContent = text;
  row.append(element);
}

function statusText(status) {
  if (status.acknowledged_version === null) return "Never acknowledged";
  const when = dateTime.format(new Date(status.acknowledged_at));
  const what = `Version ${status.acknowledged_version}, ${when}`;
  if (status.valid) return what;
  return status.acknowledged_version === status.current_version
    ? `${what} (lapsed with the quarter)`
    : `${what} (version ${status.current_version} is current)`;
}

async function loadCompliance() {
  if (!showCompliance) return;
  const message = byId("[data-compliance-message]");
  let answer;
  try {
    answer = await staffFetch(`${API}/compliance`);
  } catch (error) {
    if (!error?.signInShown) message.textContent = error.message;
    return;
  }
  message.textContent = "";
  byId("[data-compliance-quarter]").textContent =
    `Quarter ${answer.quarter}, since ${date.format(new Date(answer.quarter_started_at))}.`;
  const head = byId("[data-compliance-head]");
  const kinds = answer.staff[0]?.policies.map((status) => status.kind) ?? [];
  head.replaceChildren();
  for (const title of ["Staff member", "Roles", ...kinds.map((k) => `${k} policy`), "Up to date"]) {
    cell(head, title, "col");
  }
  const rows = byId("[data-compliance-rows]");
  rows.replaceChildren();
  for (const member of answer.staff) {
    const row = document.createElement("tr");
    cell(row, member.name, "row");
    cell(row, member.roles.join(", "));
    for (const status of member.policies) cell(row, statusText(status));
    cell(row, member.compliant ? "Yes" : "No");
    rows.append(row);
  }
}

function wirePublishing() {
  byId("[data-policy-publish]").hidden = false;
  const form = byId("[data-publish-form]");
  onSubmit(form, async ({ kind, title, summary, body }) => {
    const answer = await staffFetch(API, { method: "POST", body: { kind, title, summary, body } });
    const { policy, staff_reminded: reminded, customers_to_notify: customers } = answer;
    form.reset();
    const staff = reminded === 1 ? "1 staff member was" : `${reminded} staff members were`;
    const told = customers ? "; every customer is being told" : "";
    say(
      form,
      `Published version ${policy.version} of the ${policy.kind} policy. ${staff} reminded${told}.`,
      "success",
    );
    await checkPolicies(); // the publisher must acknowledge it too
    await loadCompliance();
  });
}

async function start() {
  const me = await ready;
  if (!me) return; // the shell could not open (or went to the sign-in page)
  const mayPublish = me.roles.some((role) => MAY_PUBLISH.includes(role));
  showCompliance = me.roles.some((role) => MAY_SEE_COMPLIANCE.includes(role));
  if (mayPublish || showCompliance) byId("[data-policy-admin]").hidden = false;
  if (mayPublish) wirePublishing();
  if (showCompliance) byId("[data-policy-compliance]").hidden = false;
  try {
    await checkPolicies();
  } catch (error) {
    if (error?.signInShown) return;
    byId("[data-page-message]").textContent =
      "The policies to acknowledge could not be loaded. Please reload the page.";
  }
  await loadCompliance();
}

start();
