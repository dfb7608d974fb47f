// Customer service's customer screens (issue 9 item 7): the lookup (#customers) and one
// customer (#customers/2442725094) with caller verification and the edits it allows.
//
// Everything shown comes from the staff API, which has cut it to what the role may read:
// a field that is not in the answer is not shown, and nothing is guessed in its place.
// Every lookup and record opened is in the audit chain, and the customer sees it in their
// account. An edit needs the caller verified in this session (customer number and the
// postcode of an address on file) within 15 minutes; the server checks it on every edit,
// the page only says so. Every value goes in with textContent.

import { groupedNumber, onSubmit, say } from "/static/js/forms.js";
import { checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell, link } from "./dom.js";

const API = "/api/v1/staff/customers";
// As the need-to-know table grants look_up_customer and edit_contact (the server decides;
// this only shows the screens to those who could use them).
const LOOKUP_ROLES = ["customer_service", "privacy_officer"];
const EDIT_ROLES = ["customer_service"];
const ORDER_ROLES = ["billing", "customer_service", "fulfilment"];
const PAGE_SIZE = 20;

const LOOKUP_COLUMNS = [
  ["customer_number", "Customer number"],
  ["name", "Name"],
  ["email", "Email"],
  ["phone", "Phone"],
  ["created_at", "Customer since"],
];
const FACTS = [
  ["customer_number", "Customer number"],
  ["name", "Name"],
  ["email", "Email"],
  ["phone", "Phone"],
  ["email_verified_at", "Email confirmed"],
  ["created_at", "Customer since"],
];
const ORDER_COLUMNS = [
  ["order_number", "Order"],
  ["placed_at", "Placed"],
  ["status_label", "Status"],
  ["total_cents", "Total"],
];
const ADDRESS_FIELDS = ["kind", "name", "line1", "line2", "city", "region", "postcode", "country"];

const $ = (selector, root = document) => root.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const time = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

let me = null;
let current = null; // the customer number on screen
let record = null; // its last answer
const lookup = { q: "", offset: null };

function shown(row, name) {
  if (!(name in row)) return null;
  const value = row[name];
  if (value === null || value === "") return "—";
  if (name === "customer_number") return groupedNumber(value);
  if (name.endsWith("_cents")) {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: row.currency }).format(
      value / 100,
    );
  }
  if (name.endsWith("_at")) return dateTime.format(new Date(value));
  return String(value);
}

/** An answer of 403 policies_pending brings the policy gate back; say so and stop. */
function handled(error, where) {
  if (error?.signInShown) return true;
  if (error instanceof ApiError && error.code === "policies_pending") {
    checkPolicies();
    where.textContent = "Please acknowledge the current policies first.";
    return true;
  }
  return false;
}

const holds = (roles) => me.roles.some((role) => roles.includes(role));

// ---------------------------------------------------------------- the lookup

function lookupRow(customer, columns) {
  const row = document.createElement("tr");
  for (const [name] of columns) {
    const text = shown(customer, name) ?? "";
    if (name === "customer_number") {
      cell(row, "").append(link(`#customers/${encodeURIComponent(customer.customer_number)}`, text));
    } else cell(row, text);
  }
  return row;
}

async function loadLookup({ more = false } = {}) {
  const form = $("[data-lookup-form]");
  const query = new URLSearchParams({ q: lookup.q, limit: String(PAGE_SIZE) });
  if (more && lookup.offset !== null) query.set("offset", String(lookup.offset));
  const page = await staffFetch(`${API}?${query}`);
  const rows = $("[data-lookup-rows]");
  if (!more) rows.replaceChildren();
  const columns = LOOKUP_COLUMNS.filter(([name]) => page.customers.some((c) => name in c));
  const head = $("[data-lookup-head]");
  head.replaceChildren();
  for (const [, title] of columns) cell(head, title, "th");
  for (const customer of page.customers) rows.append(lookupRow(customer, columns));
  lookup.offset = page.next_offset;
  $("[data-lookup-table]").hidden = !rows.children.length;
  $("[data-lookup-empty]").hidden = rows.children.length > 0;
  $("[data-lookup-more]").hidden = page.next_offset === null;
  say(form, "");
}

function wireLookup() {
  const form = $("[data-lookup-form]");
  onSubmit(form, async ({ q }) => {
    lookup.q = q;
    lookup.offset = null;
    try {
      await loadLookup();
    } catch (error) {
      if (!handled(error, form.querySelector("[data-form-message]"))) throw error;
    }
  });
  $("[data-lookup-more]").addEventListener("click", () =>
    loadLookup({ more: true }).catch((error) => {
      if (!handled(error, form.querySelector("[data-form-message]"))) say(form, error.message, "error");
    }),
  );
}

// ---------------------------------------------------------------- one customer

function renderFacts(customer) {
  const facts = $("[data-customer-facts]");
  facts.replaceChildren();
  for (const [name, title] of FACTS) {
    const text = shown(customer, name);
    if (text === null) continue;
    const term = document.createElement("dt");
    term.textContent = title;
    const value = document.createElement("dd");
    value.textContent = text;
    facts.append(term, value);
  }
}

function renderCaller(until) {
  const state = $("[data-caller-state]");
  const verified = until && new Date(until) > new Date();
  state.textContent = verified
    ? `Caller verified: you may change their details until ${time.format(new Date(until))}.`
    : "Not verified: ask the caller for their customer number and the postcode of an address on file.";
  state.dataset.kind = verified ? "success" : "info";
}

function addressText(address) {
  return ["name", "line1", "line2", "city", "region", "postcode", "country"]
    .map((name) => address[name])
    .filter(Boolean)
    .join(", ");
}

function renderAddresses(addresses, editable) {
  const list = $("[data-address-list]");
  list.replaceChildren();
  for (const address of addresses) {
    const item = document.createElement("li");
    const kind = document.createElement("strong");
    kind.textContent = address.kind === "billing" ? "Billing: " : "Shipping: ";
    item.append(kind, addressText(address));
    if (editable && address.id) {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "secondary";
      edit.textContent = "Edit";
      edit.addEventListener("click", () => editAddress(address));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Delete";
      remove.addEventListener("click", () => deleteAddress(address));
      item.append(" ", edit, " ", remove);
    }
    list.append(item);
  }
  $("[data-address-empty]").hidden = addresses.length > 0;
}

function renderOrders(orders, more) {
  const panel = $("[data-customer-orders-panel]");
  panel.hidden = !orders.length;
  const columns = ORDER_COLUMNS.filter(([name]) => orders.some((o) => name in o));
  const head = $("[data-customer-orders-head]");
  head.replaceChildren();
  for (const [, title] of columns) cell(head, title, "th");
  const rows = $("[data-customer-orders]");
  rows.replaceChildren();
  for (const order of orders) {
    const row = document.createElement("tr");
    for (const [name] of columns) {
      const text = shown(order, name) ?? "";
      if (name === "order_number" && holds(ORDER_ROLES)) {
        cell(row, "").append(link(`#orders/${encodeURIComponent(order.order_number)}`, text));
      } else cell(row, text);
    }
    rows.append(row);
  }
  $("[data-customer-orders-more]").hidden = !more;
}

function renderRecord(found) {
  record = found;
  const { customer } = found;
  const number = customer.customer_number ?? current;
  $("[data-customer-title]").textContent =
    `${customer.name ?? "Customer"} · ${groupedNumber(number)}`;
  renderFacts(customer);
  const editable = holds(EDIT_ROLES);
  $("[data-caller-panel]").hidden = !editable;
  $("[data-contact-edit]").hidden = !editable;
  $("[data-address-form]").hidden = !editable;
  renderCaller(found.caller_verified_until);
  const contact = $("[data-contact-form]");
  contact.elements.name.value = customer.name ?? "";
  contact.elements.phone.value = customer.phone ?? "";
  renderAddresses(found.addresses, editable);
  renderOrders(found.orders, found.more_orders);
}

async function openRecord(number) {
  const message = $("[data-customer-message]");
  message.textContent = "";
  try {
    renderRecord(await staffFetch(`${API}/${encodeURIComponent(number)}`));
  } catch (error) {
    if (handled(error, message)) return;
    message.textContent =
      error instanceof ApiError && error.status === 404
        ? "No open account has this customer number."
        : error.message;
  }
}

const customerUrl = (rest) => `${API}/${encodeURIComponent(current)}/${rest}`;

function wireVerify() {
  const form = $("[data-verify-form]");
  onSubmit(form, async ({ postcode }) => {
    const answer = await staffFetch(customerUrl("verify-caller"), {
      method: "POST",
      body: { postcode },
    });
    form.reset();
    if (answer.verified) {
      renderCaller(answer.valid_until);
      say(form, "The postcode matches an address on file.", "success");
    } else {
      const left = answer.attempts_left;
      say(
        form,
        `The postcode does not match any address on file. ${left} more ${left === 1 ? "try" : "tries"} within the hour.`,
        "error",
      );
    }
  });
}

function notVerified(form, error) {
  if (error instanceof ApiError && error.code === "caller_not_verified") {
    say(form, error.message, "error");
    renderCaller(null);
    $("#verify-postcode")?.focus();
    return true;
  }
  return false;
}

function wireContact() {
  const form = $("[data-contact-form]");
  onSubmit(form, async ({ name, phone }) => {
    try {
      await staffFetch(customerUrl("contact"), { method: "PATCH", body: { name, phone } });
    } catch (error) {
      if (notVerified(form, error)) return;
      throw error;
    }
    await openRecord(current);
    say(form, "Saved.", "success");
  });
}

let editing = null; // the id of the address in the form, or null for a new one

function resetAddressForm() {
  editing = null;
  const form = $("[data-address-form]");
  form.reset();
  $("[data-address-form-title]").textContent = "Add an address";
}

function editAddress(address) {
  const form = $("[data-address-form]");
  editing = address.id;
  for (const name of ADDRESS_FIELDS) form.elements[name].value = address[name] ?? "";
  $("[data-address-form-title]").textContent = "Change this address";
  form.elements.name.focus();
}

async function deleteAddress(address) {
  const message = $("[data-customer-message]");
  if (!window.confirm(`Delete ${addressText(address)}?`)) return;
  try {
    await staffFetch(customerUrl(`addresses/${address.id}`), { method: "DELETE" });
    await openRecord(current);
    message.textContent = "The address was deleted.";
  } catch (error) {
    if (handled(error, message)) return;
    message.textContent = error.message;
  }
}

function wireAddress() {
  const form = $("[data-address-form]");
  onSubmit(form, async (typed) => {
    const body = Object.fromEntries(ADDRESS_FIELDS.map((name) => [name, typed[name] ?? ""]));
    body.country = body.country.toUpperCase();
    const path = editing ? `addresses/${editing}` : "addresses";
    try {
      await staffFetch(customerUrl(path), { method: editing ? "PUT" : "POST", body });
    } catch (error) {
      if (notVerified(form, error)) return;
      throw error;
    }
    resetAddressForm();
    await openRecord(current);
    say(form, "Saved.", "success");
  });
  $("[data-address-cancel]").addEventListener("click", resetAddressForm);
}

// ---------------------------------------------------------------- which screen

function route() {
  const screen = $("[data-customers-screen]");
  const hash = decodeURIComponent(window.location.hash.slice(1));
  const here = hash === "customers" || hash.startsWith("customers/");
  screen.hidden = !here;
  document.querySelector('[data-nav="customers"] a')?.toggleAttribute("aria-current", here);
  if (!here) return;
  const number = hash.startsWith("customers/") ? hash.slice("customers/".length) : "";
  $("[data-customer-lookup]").hidden = Boolean(number);
  $("[data-customer-record]").hidden = !number;
  if (number && number !== current) {
    current = number;
    record = null;
    resetAddressForm();
  }
  if (number) openRecord(number);
  else $("#lookup-q").focus();
}

async function start() {
  me = await ready;
  if (!me || !holds(LOOKUP_ROLES)) return;
  const entry = document.querySelector('[data-nav="customers"]');
  if (entry) entry.hidden = false;
  wireLookup();
  wireVerify();
  wireContact();
  wireAddress();
  window.addEventListener("hashchange", route);
  route();
}

start();
