// The audit log (#audit: the owner and the privacy officer) and legal disclosures
// (#disclosures: the privacy officer).
//
// Everything shown comes from the staff API; every value goes in with textContent. Each
// read of the log, each CSV file and each verify walk is itself an entry in the log, with
// the filters used. The CSV file and a disclosure's data are fetched with the tab's token
// (an Authorization header) and saved from memory: no token ever goes into a link.

import { groupedNumber, onSubmit, say, showError } from "/static/js/forms.js";
import { checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell, saveFile, showPage } from "./dom.js";

const AUDIT = "/api/v1/staff/audit";
const DISCLOSURES = "/api/v1/staff/legal-disclosures";
// As the need-to-know table grants read_audit and legal_disclosure (the server decides;
// this only shows the screens to those who could use them).
const SCREENS = {
  audit: ["owner", "privacy_officer"],
  disclosures: ["privacy_officer"],
};
// audit/service.py ACTIONS and staff/roles.py (the server refuses anything else).
const ACTIONS = [
  "read", "change", "denied", "card_reveal", "export", "legal_disclosure", "audit_read",
  "caller_verified", "caller_verification_failed", "sign_in", "sign_in_failed", "sign_out",
  "session_expired", "lock", "unlock", "unlock_failed", "account_locked", "enrol",
  "second_factor_added", "staff_change", "access_review", "policy_publish",
  "policy_acknowledge",
];
const ROLES = [
  "owner", "billing", "customer_service", "fulfilment", "catalog", "marketing", "analyst",
  "privacy_officer", "operator",
];
const FILTERS = ["action", "role", "staff_id", "customer_number", "subject", "since", "until"];
const DISCLOSURE_PAGE = 25;

const $ = (selector, root = document) => root.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});
let me = null;

const when = (value) => (value ? dateTime.format(new Date(value)) : "—");

/** Say what went wrong in `where`; 403 policies_pending brings the policy gate back. */
function failed(error, where) {
  if (error?.signInShown) return;
  if (error instanceof ApiError && error.code === "policies_pending") {
    checkPolicies();
    where.textContent = "Please acknowledge the current policies first.";
    return;
  }
  where.textContent = error?.message ?? String(error);
}

// ---------------------------------------------------------------- the audit log

const log = { query: new URLSearchParams(), before: null };

/** The form's filters as the API reads them; times as UTC (the browser knows its zone). */
function filtersOf(form) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (!value) continue;
    const local = name === "since" || name === "until";
    query.set(name, local ? new Date(value).toISOString() : value);
  }
  query.set("limit", form.elements.limit.value);
  return query;
}

function entryRow(entry) {
  const row = document.createElement("tr");
  cell(row, when(entry.at));
  cell(row, entry.action ?? "");
  const who = entry.staff_id === null || entry.staff_id === undefined ? "—" : `#${entry.staff_id}`;
  cell(row, entry.staff_name ? `${entry.staff_name} (${who})` : who);
  cell(row, entry.role || "—");
  cell(row, entry.subject || "—");
  cell(row, entry.customer_id ?? "—");
  cell(row, (entry.fields ?? []).join(", ") || (entry.data_kinds ?? []).join(", ") || "—");
  cell(row, entry.reason || "—").className = "audit-reason";
  cell(row, entry.origin || "—");
  return row;
}

async function loadEntries({ more = false } = {}) {
  const form = $("[data-audit-filters]");
  const query = new URLSearchParams(log.query);
  if (more && log.before !== null) query.set("before", String(log.before));
  const page = await staffFetch(`${AUDIT}?${query}`);
  say(form, "");
  showPage($("[data-audit-rows]"), page.entries, entryRow, {
    more,
    empty: $("[data-audit-empty]"),
    moreButton: $("[data-audit-more]"),
    hasNext: page.next_before !== null,
  });
  log.before = page.next_before;
}

/** The filtered view as a file: fetched with the token in a header, saved from memory. */
async function downloadCsv(button) {
  const form = $("[data-audit-filters]");
  button.disabled = true;
  try {
    const response = await staffFetch(`${AUDIT}.csv?${filtersOf(form)}`, { file: "text/csv" });
    saveFile(await response.blob(), "audit-log.csv");
    const next = response.headers.get("x-next-before");
    say(form, next ? `The file stops at entry ${next}: narrow the filters for the rest.` : "");
  } catch (error) {
    if (!error?.signInShown) showError(form, error);
  } finally {
    button.disabled = false;
  }
}

async function showHead() {
  const head = await staffFetch(`${AUDIT}/head`);
  const hash = head.head_hash ? `, last sealed ${head.head_hash.slice(0, 16)}…` : "";
  $("[data-audit-head]").textContent = `${head.entries.toLocaleString()} entries${hash}`;
}

async function verifyChain(button) {
  const verdict = $("[data-audit-verdict]");
  button.disabled = true;
  verdict.textContent = "Verifying…";
  try {
    const result = await staffFetch(`${AUDIT}/verify`, { method: "POST" });
    const waiting = result.unsealed ? ` ${result.unsealed} newer entries wait for their seal.` : "";
    verdict.dataset.kind = result.passed ? "success" : "error";
    verdict.textContent = result.intact
      ? `Intact: ${result.entries_checked.toLocaleString()} entries checked in ${result.seconds} s.${waiting}`
      : `BROKEN at entry ${result.first_broken_id}: ${result.problem}. ` +
        `The ${result.entries_checked.toLocaleString()} entries before it are intact.`;
    if (result.intact && !result.passed) {
      verdict.textContent += " An entry waited too long for its seal: is the sealer running?";
    }
  } catch (error) {
    verdict.dataset.kind = "error";
    failed(error, verdict);
  } finally {
    button.disabled = false;
  }
}

function wireAudit() {
  const form = $("[data-audit-filters]");
  const actions = $("[data-audit-actions]");
  for (const name of ACTIONS) actions.append(new Option(name, name));
  const roles = $("[data-audit-roles]");
  for (const name of ROLES) roles.append(new Option(name, name));
  onSubmit(form, async () => {
    log.query = filtersOf(form);
    log.before = null;
    await loadEntries();
  });
  $("[data-audit-more]").addEventListener("click", () =>
    loadEntries({ more: true }).catch((error) => showError(form, error)),
  );
  const csvButton = $("[data-audit-csv]");
  csvButton.addEventListener("click", () => downloadCsv(csvButton));
  const verifyButton = $("[data-audit-verify]");
  verifyButton.disabled = false;
  verifyButton.addEventListener("click", () => verifyChain(verifyButton));
}

async function openAudit() {
  const form = $("[data-audit-filters]");
  try {
    await Promise.all([loadEntries(), showHead()]);
  } catch (error) {
    failed(error, form.querySelector("[data-form-message]"));
  }
}

// ---------------------------------------------------------------- legal disclosures

const disclosure = { pending: null, data: null, before: null };

function disclosureRow(found) {
  const row = document.createElement("tr");
  cell(row, when(found.disclosed_at));
  cell(row, found.staff_name ? `${found.staff_name} (#${found.staff_id})` : `#${found.staff_id}`);
  cell(row, found.customer_number ? groupedNumber(found.customer_number) : "(account closed)");
  cell(row, found.authority ?? "");
  cell(row, found.reference ?? "");
  cell(row, (found.kinds ?? []).join(", "));
  return row;
}

async function loadDisclosures({ more = false } = {}) {
  const message = $("[data-disclosures-message]");
  const query = new URLSearchParams({ limit: String(DISCLOSURE_PAGE) });
  if (more && disclosure.before !== null) query.set("before", String(disclosure.before));
  let page;
  try {
    page = await staffFetch(`${DISCLOSURES}?${query}`);
  } catch (error) {
    failed(error, message);
    return;
  }
  message.textContent = "";
  showPage($("[data-disclosure-rows]"), page.disclosures, disclosureRow, {
    more,
    empty: $("[data-disclosures-empty]"),
    moreButton: $("[data-disclosures-more]"),
    hasNext: page.next_before !== null,
  });
  disclosure.before = page.next_before;
}

function confirmStep(show) {
  $("[data-disclosure-confirm]").hidden = !show;
  $("[data-disclosure-form] fieldset").disabled = show;
  if (show) $("[data-disclosure-go]").focus();
}

async function disclose() {
  const form = $("[data-disclosure-form]");
  const error = $("[data-disclosure-error]");
  const go = $("[data-disclosure-go]");
  const { number, authority, reference } = disclosure.pending;
  go.disabled = true;
  error.textContent = "";
  try {
    const answer = await staffFetch(
      `/api/v1/staff/customers/${encodeURIComponent(number)}/legal-disclosure`,
      { method: "POST", body: { authority, reference } },
    );
    disclosure.data = answer;
    confirmStep(false);
    form.reset();
    const done = answer.disclosure;
    $("[data-disclosure-done-text]").textContent =
      `The data of customer ${groupedNumber(done.customer_number)} (${done.kinds.join(", ")}) ` +
      `for ${done.authority}, ${done.reference}. Save it and hand it over by the channel the ` +
      "authority named; it is not kept here.";
    $("[data-disclosure-done]").hidden = false;
    loadDisclosures();
  } catch (problem) {
    if (problem?.signInShown) return;
    confirmStep(false);
    showError(form, problem);
  } finally {
    go.disabled = false;
  }
}

function wireDisclosures() {
  const form = $("[data-disclosure-form]");
  onSubmit(form, async (values) => {
    disclosure.pending = {
      number: values.customer_number,
      authority: values.authority,
      reference: values.reference,
    };
    $("[data-disclosure-done]").hidden = true;
    $("[data-disclosure-summary]").textContent =
      `All data held about customer ${values.customer_number} goes to ${values.authority}, ` +
      `reference ${values.reference}.`;
    confirmStep(true);
  });
  $("[data-disclosure-go]").addEventListener("click", () => disclose());
  $("[data-disclosure-cancel]").addEventListener("click", () => {
    confirmStep(false);
    say(form, "Nothing was disclosed.");
  });
  $("[data-disclosure-save]").addEventListener("click", () => {
    if (!disclosure.data) return;
    const { id } = disclosure.data.disclosure;
    const text = JSON.stringify(disclosure.data.data, null, 2);
    saveFile(new Blob([text], { type: "application/json" }), `legal-disclosure-${id}.json`);
  });
  $("[data-disclosures-more]").addEventListener("click", () => loadDisclosures({ more: true }));
}

// ---------------------------------------------------------------- which screen

const ROUTES = { audit: openAudit, disclosures: () => loadDisclosures() };
const allowed = (screen) => me.roles.some((role) => SCREENS[screen].includes(role));

function route() {
  const name = decodeURIComponent(window.location.hash.slice(1)).split("/")[0];
  for (const screen of Object.keys(ROUTES)) {
    const here = screen === name && allowed(screen);
    $(`[data-${screen}-screen]`).hidden = !here;
    document.querySelector(`[data-nav="${screen}"] a`)?.toggleAttribute("aria-current", here);
  }
  if (name in ROUTES && allowed(name)) ROUTES[name]();
}

async function start() {
  me = await ready;
  if (!me) return;
  for (const screen of Object.keys(SCREENS)) {
    const entry = document.querySelector(`[data-nav="${screen}"]`);
    if (entry && allowed(screen)) entry.hidden = false;
  }
  if (allowed("audit")) wireAudit();
  if (allowed("disclosures")) wireDisclosures();
  window.addEventListener("hashchange", route);
  route();
}

start();
