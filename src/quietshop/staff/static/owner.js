// The owner's staff screens (issue 9 items 1 and 7): who works here, with which roles
// (#staff), and the six-monthly access review (#access-review).
//
// The staff list shows each person's roles, last activity and status, with the changes
// the owner may make in place: roles, disable (with a reason), enable. Adding someone
// shows their one-time enrolment link in this tab, once: it goes into no storage, "Done"
// forgets it, and the API never hands it out again. The server refuses what would leave
// the shop without an active owner (409 "last_owner"), and says so here. Every value goes
// in with textContent.

import { onSubmit, say } from "/static/js/forms.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";

const MEMBERS = "/api/v1/staff/members";
const REVIEW = "/api/v1/staff/access-review";
// As the need-to-know table grants manage_staff and review_access (the server decides;
// this only shows the screens to those who could use them).
const OWNER_ROLES = ["owner"];
const ROLES = [
  ["owner", "Owner"],
  ["billing", "Billing"],
  ["customer_service", "Customer service"],
  ["fulfilment", "Fulfilment"],
  ["catalog", "Catalog"],
  ["marketing", "Marketing"],
  ["analyst", "Analyst"],
  ["privacy_officer", "Privacy officer"],
];
const ROLE_NAMES = Object.fromEntries(ROLES);

const $ = (selector, root = document) => root.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });

const when = (iso) => (iso ? dateTime.format(new Date(iso)) : "Never");
const roleText = (roles) => roles.map((role) => ROLE_NAMES[role] ?? role).join(", ");

function cell(row, content, header = false) {
  const element = document.createElement(header ? "th" : "td");
  if (header) element.scope = "row";
  if (content instanceof Node) element.append(content);
  else element.textContent = content;
  row.append(element);
  return element;
}

function button(text, onClick, kind = "") {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  if (kind) element.className = kind;
  element.addEventListener("click", onClick);
  return element;
}

/** Say what went wrong with a change, where the owner is looking. */
function refused(box, error) {
  if (error?.signInShown) return;
  if (!(error instanceof ApiError)) throw error;
  const fields = error.fields.map((problem) => problem.message).join(" ");
  box.textContent = fields || error.message;
}

// ---------------------------------------------------------------- the staff list

/** Checkboxes of every role, ticked for `held`, named role:<role>. */
function roleChoices(held, prefix) {
  const box = document.createElement("span");
  box.className = "role-choices";
  for (const [role, label] of ROLES) {
    const wrap = document.createElement("label");
    wrap.className = "role-choice";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = `role:${role}`;
    input.id = `${prefix}-${role}`;
    input.checked = held.includes(role);
    wrap.append(input, ` ${label}`);
    box.append(wrap);
  }
  return box;
}

const ticked = (root) =>
  [...root.querySelectorAll('input[type="checkbox"][name^="role:"]:checked')].map((input) =>
    input.name.slice("role:".length),
  );

async function change(path, body) {
  const message = $("[data-owner-message]");
  message.textContent = "";
  try {
    const member = await staffFetch(path, { method: path.endsWith("/roles") ? "PUT" : "POST", body });
    message.textContent = `${member.name}: ${member.status}, ${roleText(member.roles)}.`;
  } catch (error) {
    refused(message, error);
  }
  await loadStaff();
}

function editRoles(row, member) {
  const roles = row.querySelector("[data-roles]");
  const actions = row.querySelector("[data-actions]");
  roles.replaceChildren(roleChoices(member.roles, `roles-${member.id}`));
  actions.replaceChildren(
    button("Save roles", () => change(`${MEMBERS}/${member.id}/roles`, { roles: ticked(roles) })),
    button("Cancel", () => loadStaff(), "secondary"),
  );
  roles.querySelector("input")?.focus();
}

function askDisable(row, member) {
  const actions = row.querySelector("[data-actions]");
  const reason = document.createElement("input");
  reason.type = "text";
  reason.maxLength = 200;
  reason.placeholder = "Why (the list shows it)";
  reason.setAttribute("aria-label", `Why ${member.name} is disabled`);
  actions.replaceChildren(
    reason,
    button("Disable now", () =>
      change(`${MEMBERS}/${member.id}/disable`, { reason: reason.value.trim() }),
    ),
    button("Cancel", () => loadStaff(), "secondary"),
  );
  reason.focus();
}

function staffRow(member) {
  const row = document.createElement("tr");
  cell(row, member.name, true);
  cell(row, member.email);
  cell(row, roleText(member.roles)).dataset.roles = "";
  cell(row, when(member.last_active_at));
  cell(row, member.status);
  const actions = cell(row, "");
  actions.dataset.actions = "";
  const disabled = member.status.startsWith("disabled");
  actions.append(
    button("Change roles", () => editRoles(row, member), "secondary"),
    disabled
      ? button("Enable", () => change(`${MEMBERS}/${member.id}/enable`))
      : button("Disable", () => askDisable(row, member), "secondary"),
  );
  return row;
}

async function loadStaff() {
  const rows = $("[data-staff-rows]");
  try {
    const { staff } = await staffFetch(MEMBERS);
    rows.replaceChildren(...staff.map(staffRow));
  } catch (error) {
    refused($("[data-owner-message]"), error);
  }
}

function showLink(added) {
  const panel = $("[data-enrolment-link]");
  $("[data-enrolment-who]").textContent = added.member.name;
  $("[data-enrolment-until]").textContent = when(added.enrolment_expires_at);
  $("[data-enrolment-url]").value = added.enrolment_url;
  panel.hidden = false;
  panel.focus();
}

function forgetLink() {
  $("[data-enrolment-url]").value = "";
  $("[data-enrolment-link]").hidden = true;
}

function wireAdding() {
  const form = $("[data-add-staff-form]");
  const choices = $("[data-role-choices]");
  choices.insertBefore(roleChoices([], "new-staff"), choices.querySelector(".field-error"));
  onSubmit(form, async ({ name, email }) => {
    forgetLink();
    const added = await staffFetch(MEMBERS, {
      method: "POST",
      body: { name, email, roles: ticked(choices) },
    });
    form.reset();
    say(form, `${added.member.name} was added.`, "success");
    showLink(added);
    await loadStaff();
  });
  $("[data-enrolment-copy]").addEventListener("click", async () => {
    const field = $("[data-enrolment-url]");
    field.select();
    await navigator.clipboard?.writeText(field.value).catch(() => null);
  });
  $("[data-enrolment-done]").addEventListener("click", forgetLink);
}

// ---------------------------------------------------------------- the access review

function reviewStatus(review) {
  const last = review.last_review;
  if (!last) return "No access review has been confirmed yet: one is due now.";
  const done = `Last confirmed on ${dateOnly.format(new Date(last.confirmed_at))} by ${last.confirmed_by_name} (${last.staff_count} people).`;
  const next = dateOnly.format(new Date(review.next_due_at));
  return review.due ? `${done} The next was due on ${next}: review now.` : `${done} Next due on ${next}.`;
}

function reviewRow(held) {
  const row = document.createElement("tr");
  cell(row, held.name, true);
  cell(row, held.email);
  cell(row, roleText(held.roles));
  cell(row, held.status);
  cell(row, when(held.last_active_at));
  cell(row, held.days_since_active === null ? "Never active" : String(held.days_since_active));
  cell(row, dateOnly.format(new Date(held.unused_disable_at)));
  return row;
}

async function loadReview() {
  try {
    const review = await staffFetch(REVIEW);
    $("[data-review-status]").textContent = reviewStatus(review);
    $("[data-review-rows]").replaceChildren(...review.staff.map(reviewRow));
  } catch (error) {
    refused($("[data-review-message]"), error);
  }
}

function wireReview() {
  const form = $("[data-review-form]");
  onSubmit(form, async ({ note }) => {
    const confirmed = await staffFetch(REVIEW, { method: "POST", body: { note } });
    form.reset();
    const next = dateOnly.format(new Date(confirmed.next_due_at));
    say(form, `Confirmed. The next review is due on ${next}.`, "success");
    await loadReview();
  });
}

// ---------------------------------------------------------------- which screen

const SCREENS = [
  ["staff", "[data-owner-screen]", loadStaff],
  ["access-review", "[data-access-review-screen]", loadReview],
];

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1));
  for (const [name, selector, load] of SCREENS) {
    const here = hash === name;
    $(selector).hidden = !here;
    $(`[data-nav="${name}"] a`)?.toggleAttribute("aria-current", here);
    if (here) load();
  }
}

async function start() {
  const me = await ready;
  if (!me || !me.roles.some((role) => OWNER_ROLES.includes(role))) return;
  for (const [name] of SCREENS) {
    const entry = $(`[data-nav="${name}"]`);
    if (entry) entry.hidden = false;
  }
  wireAdding();
  wireReview();
  window.addEventListener("hashchange", route);
  route();
}

start();
