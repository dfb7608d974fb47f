// Marketing's mailings (#mailings): write one, read it as a subscriber would, send it once
// after a confirmation, and the list of what was written, sent, and to how many.
//
// The API answers with counts only: no address, no name, no customer number reaches this
// page, and the preview greets a placeholder. Every value goes in with textContent.

import { onSubmit, say } from "/static/js/forms.js";
import { acknowledged, checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell, showPage } from "./dom.js";

const API = "/api/v1/staff/mailings";
// As the need-to-know table grants send_mailings (the server decides; this only shows the
// screen to those who could use it).
const MAY_SEND = ["marketing"];
const PAGE_SIZE = 25;

const $ = (selector) => document.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const when = (value) => (value ? dateTime.format(new Date(value)) : "");
const list = { before: null };
let subscribers = null; // how many a send would reach now, as last counted
let previewed = null; // the mailing in the preview: {id, subject, sent_at}

/** Say what went wrong in `where`; 403 policies_pending brings the policy gate back. */
function failed(error, where) {
  if (error?.signInShown) return;
  if (error instanceof ApiError && error.code === "policies_pending") {
    checkPolicies();
    where.textContent = "Please acknowledge the current policies first.";
    return;
  }
  where.textContent = error.message;
}

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

async function countSubscribers() {
  const counted = await staffFetch(`${API}/subscribers`);
  subscribers = counted.subscribers;
  $("[data-mailings-subscribers]").textContent =
    `Right now a mailing would go to ${plural(subscribers, "subscriber", "subscribers")}.`;
}

function mailingRow(mailing) {
  const row = document.createElement("tr");
  row.dataset.mailingId = String(mailing.id);
  cell(row, mailing.subject);
  cell(row, when(mailing.created_at));
  cell(row, mailing.sent_at ? when(mailing.sent_at) : "Not sent");
  cell(row, mailing.sent_at ? String(mailing.recipient_count) : "—");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = mailing.sent_at ? "Read it" : "Preview";
  button.addEventListener("click", () => openPreview(mailing));
  cell(row, "").append(button);
  return row;
}

async function loadMailings({ more = false } = {}) {
  const message = $("[data-mailings-message]");
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && list.before !== null) query.set("before", String(list.before));
  let page;
  try {
    page = await staffFetch(`${API}?${query}`);
    if (!more) await countSubscribers();
  } catch (error) {
    failed(error, message);
    return;
  }
  message.textContent = "";
  showPage($("[data-mailing-rows]"), page.mailings, mailingRow, {
    more,
    empty: $("[data-mailings-empty]"),
    moreButton: $("[data-mailings-more]"),
    hasNext: page.next_before !== null,
  });
  list.before = page.next_before;
}

// ---------------------------------------------------------------- preview and send

function showConfirm(shown) {
  $("[data-mailing-send-actions]").hidden = shown;
  $("[data-mailing-confirm]").hidden = !shown;
}

async function openPreview(mailing) {
  const panel = $("[data-mailing-preview]");
  const status = $("[data-mailing-send-message]");
  let preview;
  try {
    preview = await staffFetch(`${API}/${mailing.id}/preview`);
  } catch (error) {
    failed(error, $("[data-mailings-message]"));
    return;
  }
  previewed = mailing;
  $("[data-mailing-preview-subject]").textContent = preview.subject;
  $("[data-mailing-preview-text]").textContent = preview.text;
  const reached = plural(mailing.recipient_count ?? 0, "subscriber", "subscribers");
  status.textContent = mailing.sent_at ? `Sent ${when(mailing.sent_at)} to ${reached}.` : "";
  showConfirm(false);
  $("[data-mailing-send]").hidden = Boolean(mailing.sent_at);
  panel.hidden = false;
  panel.focus();
}

function askToSend() {
  const reach =
    subscribers === null ? "every subscriber" : plural(subscribers, "subscriber", "subscribers");
  $("[data-mailing-confirm-text]").textContent =
    `Send “${previewed.subject}” to ${reach} now? A mailing goes once and cannot be called back.`;
  showConfirm(true);
  $("[data-mailing-confirm-send]").focus();
}

async function send() {
  const status = $("[data-mailing-send-message]");
  const buttons = document.querySelectorAll("[data-mailing-confirm] button");
  for (const button of buttons) button.disabled = true;
  try {
    const sent = await staffFetch(`${API}/${previewed.id}/send`, { method: "POST" });
    previewed = sent.mailing;
    status.textContent = `Sent: queued for ${plural(sent.queued, "subscriber", "subscribers")}.`;
    $("[data-mailing-send]").hidden = true;
    showConfirm(false);
    await loadMailings();
  } catch (error) {
    showConfirm(false);
    if (error instanceof ApiError && error.code === "mailing_already_sent") {
      status.textContent = "This mailing was already sent; it goes once.";
      $("[data-mailing-send]").hidden = true;
      loadMailings();
    } else failed(error, status);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

function wire() {
  const form = $("[data-mailing-form]");
  onSubmit(form, async (typed) => {
    const made = await staffFetch(API, {
      method: "POST",
      body: { subject: typed.subject, text: typed.text },
    });
    form.reset();
    say(form, `Saved “${made.subject}”. Read the preview below before sending it.`, "success");
    await loadMailings();
    await openPreview(made);
  });
  $("[data-mailing-send]").addEventListener("click", askToSend);
  $("[data-mailing-confirm-send]").addEventListener("click", send);
  $("[data-mailing-confirm-cancel]").addEventListener("click", () => showConfirm(false));
  $("[data-mailing-close]").addEventListener("click", () => {
    $("[data-mailing-preview]").hidden = true;
    previewed = null;
  });
  $("[data-mailings-more]").addEventListener("click", () => loadMailings({ more: true }));
}

// ---------------------------------------------------------------- which screen

function route() {
  const here = decodeURIComponent(window.location.hash.slice(1)) === "mailings";
  $("[data-mailings-screen]").hidden = !here;
  document.querySelector('[data-nav="mailings"] a')?.toggleAttribute("aria-current", here);
  if (here) acknowledged.then(() => loadMailings());
}

async function start() {
  const me = await ready;
  if (!me || !me.roles.some((role) => MAY_SEND.includes(role))) return;
  const entry = document.querySelector('[data-nav="mailings"]');
  if (entry) entry.hidden = false;
  wire();
  window.addEventListener("hashchange", route);
  route();
}

start();
