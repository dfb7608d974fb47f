// Customer service's inboxes (issue 9 item 7): the questions from the product pages
// (#questions), the mail outbox (#outbox, #outbox/ID) and, in the demo, the mail its own
// server caught (#captured, #captured/KEY).
//
// Everything shown comes from the staff API, cut there to what the role may read: the
// owner and marketing see whether mail went out, never to whom. No link token reaches
// this page (the API cuts them out); every value goes in with textContent.

import { say } from "/static/js/forms.js";
import { acknowledged, checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell, link, showPage } from "./dom.js";

const API = "/api/v1/staff";
// As the need-to-know table grants answer_questions, read_outbox and read_captured_mail
// (the server decides; this only shows the screens to those who could use them).
const SCREENS = {
  questions: ["customer_service"],
  outbox: ["owner", "customer_service", "marketing"],
  captured: ["customer_service"],
};
const PAGE_SIZE = 25;
const PROBE_OFFSET = 10000; // mail.service.MAX_CAPTURED_OFFSET

const OUTBOX_COLUMNS = [
  ["created_at", "Queued"],
  ["purpose", "Purpose"],
  ["status", "Status"],
  ["attempts", "Tries"],
  ["sent_at", "Sent"],
  ["recipient", "To"],
  ["subject", "Subject"],
];
const MESSAGE_FACTS = [
  ["recipient_name", "Name"],
  ["recipient", "To"],
  ["customer_number", "Customer number"],
  ["purpose", "Purpose"],
  ["status", "Status"],
  ["attempts", "Tries"],
  ["created_at", "Queued"],
  ["next_attempt_at", "Next try"],
  ["sent_at", "Sent"],
  ["reference", "About"],
  ["last_error", "Last error"],
];

const $ = (selector, root = document) => root.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
let me = null;

function shown(row, name) {
  if (!(name in row)) return null;
  const value = row[name];
  if (value === null || value === "") return "—";
  if (name.endsWith("_at")) return dateTime.format(new Date(value));
  return String(value);
}

function facts(list, row, names) {
  list.replaceChildren();
  for (const [name, title] of names) {
    const text = shown(row, name);
    if (text === null) continue;
    const term = document.createElement("dt");
    term.textContent = title;
    const value = document.createElement("dd");
    value.textContent = text;
    list.append(term, value);
  }
}

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

// ---------------------------------------------------------------- questions

const questions = { offset: null };

function questionItem(question) {
  const item = document.createElement("li");
  item.className = "question";
  const head = document.createElement("p");
  head.className = "meta";
  const kind = question.kind === "quote" ? "Quote request" : "Question";
  const about = question.product_sku ? ` about ${question.product_sku}` : "";
  const quantity = question.quantity ? `, ${question.quantity} wanted` : "";
  head.textContent =
    `${kind}${about}${quantity} · ${shown(question, "created_at") ?? ""} · ` +
    `${question.name ?? ""} <${question.email ?? ""}>`;
  const text = document.createElement("p");
  text.className = "question-text";
  text.textContent = question.question ?? "";
  item.append(head, text);
  if (question.answered_at) {
    const done = document.createElement("p");
    done.className = "note";
    done.textContent = `Answered ${shown(question, "answered_at")}`;
    item.append(done);
  } else {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Mark answered";
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await staffFetch(`${API}/questions/${question.id}/answered`, { method: "POST" });
        loadQuestions();
      } catch (error) {
        button.disabled = false;
        failed(error, $("[data-questions-message]"));
      }
    });
    item.append(button);
  }
  return item;
}

async function loadQuestions({ more = false } = {}) {
  const message = $("[data-questions-message]");
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && questions.offset !== null) query.set("offset", String(questions.offset));
  let page;
  try {
    page = await staffFetch(`${API}/questions?${query}`);
  } catch (error) {
    failed(error, message);
    return;
  }
  message.textContent = "";
  showPage($("[data-question-list]"), page.questions, questionItem, {
    more,
    empty: $("[data-questions-empty]"),
    moreButton: $("[data-questions-more]"),
    hasNext: page.next_offset !== null,
  });
  questions.offset = page.next_offset;
}

// ---------------------------------------------------------------- the outbox

const outbox = { before: null, filters: new URLSearchParams() };

async function loadOutbox({ more = false } = {}) {
  const form = $("[data-outbox-filters]");
  const query = new URLSearchParams(outbox.filters);
  query.set("limit", String(PAGE_SIZE));
  if (more && outbox.before !== null) query.set("before", String(outbox.before));
  let page;
  try {
    page = await staffFetch(`${API}/outbox?${query}`);
  } catch (error) {
    failed(error, form.querySelector("[data-form-message]"));
    return;
  }
  say(form, "");
  const rows = $("[data-outbox-rows]");
  if (!more) rows.replaceChildren();
  const columns = OUTBOX_COLUMNS.filter(([name]) => page.messages.some((m) => name in m));
  const head = $("[data-outbox-head]");
  head.replaceChildren();
  for (const [, title] of [["id", "Message"], ...columns]) cell(head, title, "th");
  for (const message of page.messages) {
    const row = document.createElement("tr");
    cell(row, "").append(link(`#outbox/${message.id}`, `#${message.id}`));
    for (const [name] of columns) cell(row, shown(message, name) ?? "");
    rows.append(row);
  }
  outbox.before = page.next_before;
  $("[data-outbox-empty]").hidden = rows.children.length > 0;
  $("[data-outbox-more]").hidden = page.next_before === null;
}

async function openMessage(id) {
  const status = $("[data-outbox-message-status]");
  status.textContent = "";
  let message;
  try {
    message = await staffFetch(`${API}/outbox/${encodeURIComponent(id)}`);
  } catch (error) {
    failed(error, status);
    return;
  }
  $("[data-outbox-title]").textContent = message.subject ?? `Message #${message.id}`;
  facts($("[data-outbox-facts]"), message, MESSAGE_FACTS);
  const text = $("[data-outbox-text]");
  text.hidden = !("text_body" in message);
  text.textContent = message.text_body ?? "";
}

function wireOutbox() {
  const form = $("[data-outbox-filters]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    outbox.filters = new URLSearchParams();
    for (const name of ["status", "purpose"]) {
      const value = form.elements[name].value;
      if (value) outbox.filters.set(name, value);
    }
    outbox.before = null;
    loadOutbox();
  });
  for (const fieldset of form.querySelectorAll("fieldset[data-needs-script]")) {
    fieldset.disabled = false;
  }
  $("[data-outbox-more]").addEventListener("click", () => loadOutbox({ more: true }));
}

// ---------------------------------------------------------------- captured mail (demo)

const captured = { offset: null };

async function loadCaptured({ more = false } = {}) {
  const message = $("[data-captured-message]");
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && captured.offset !== null) query.set("offset", String(captured.offset));
  let page;
  try {
    page = await staffFetch(`${API}/captured-mail?${query}`);
  } catch (error) {
    failed(error, message);
    return;
  }
  message.textContent = "";
  const rows = $("[data-captured-rows]");
  if (!more) rows.replaceChildren();
  for (const mail of page.messages) {
    const row = document.createElement("tr");
    cell(row, "").append(
      link(`#captured/${encodeURIComponent(mail.key)}`, dateTime.format(new Date(mail.received_at))),
    );
    cell(row, mail.to);
    cell(row, mail.subject);
    rows.append(row);
  }
  captured.offset = page.next_offset;
  $("[data-captured-empty]").hidden = rows.children.length > 0;
  $("[data-captured-more]").hidden = page.next_offset === null;
}

async function openCaptured(key) {
  const message = $("[data-captured-message]");
  let mail;
  try {
    mail = await staffFetch(`${API}/captured-mail/${encodeURIComponent(key)}`);
  } catch (error) {
    failed(error, message);
    return;
  }
  $("[data-captured-title]").textContent = mail.subject;
  $("[data-captured-meta]").textContent =
    `From ${mail.sender} to ${mail.to}, received ${dateTime.format(new Date(mail.received_at))}`;
  $("[data-captured-text]").textContent = mail.text ?? "";
}

// ---------------------------------------------------------------- which screen

const ROUTES = {
  questions: () => loadQuestions(),
  outbox: (id) => {
    $("[data-outbox-list]").hidden = Boolean(id);
    $("[data-outbox-message]").hidden = !id;
    return id ? openMessage(id) : loadOutbox();
  },
  captured: (key) => {
    $("[data-captured-list]").hidden = Boolean(key);
    $("[data-captured-one]").hidden = !key;
    return key ? openCaptured(key) : loadCaptured();
  },
};

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1));
  const [name, ...rest] = hash.split("/");
  for (const screen of Object.keys(ROUTES)) {
    const here = screen === name && allowed(screen);
    $(`[data-${screen}-screen]`).hidden = !here;
    document.querySelector(`[data-nav="${screen}"] a`)?.toggleAttribute("aria-current", here);
  }
  if (name in ROUTES && allowed(name)) ROUTES[name](rest.join("/"));
}

const allowed = (screen) => me.roles.some((role) => SCREENS[screen].includes(role));

async function start() {
  me = await ready;
  if (!me) return;
  for (const screen of Object.keys(SCREENS)) {
    const entry = document.querySelector(`[data-nav="${screen}"]`);
    // Captured mail exists in the demo only: its entry shows once the API says it is there.
    if (entry && allowed(screen) && screen !== "captured") entry.hidden = false;
  }
  if (allowed("captured")) {
    // Asked past the last page, so that the probe shows (and records) no one's mail; and
    // only once the policies are acknowledged, as the server refuses it until then.
    acknowledged
      .then(() => staffFetch(`${API}/captured-mail?limit=1&offset=${PROBE_OFFSET}`))
      .then(() => {
        const entry = document.querySelector('[data-nav="captured"]');
        if (entry) entry.hidden = false;
      })
      .catch(() => {}); // 404 outside the demo: no entry
  }
  wireOutbox();
  $("[data-questions-more]").addEventListener("click", () => loadQuestions({ more: true }));
  $("[data-captured-more]").addEventListener("click", () => loadCaptured({ more: true }));
  window.addEventListener("hashchange", route);
  route();
}

start();
