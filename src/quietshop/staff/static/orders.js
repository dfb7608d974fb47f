// The back office's order screens (issue 9 item 7): the queue with its filters (#orders)
// and one order with the moves the role may make (#orders/QS-1234-56789).
//
// Everything shown comes from the staff API, which has cut it to what the role may read:
// a field that is not in the answer is not shown, and nothing is guessed in its place.
// The buttons are those the API lists for the order and the role; the server checks each
// move again. Every value goes in with textContent. A full card number, once revealed,
// stays on the screen for a minute at most and is never stored.

import { onSubmit, say } from "/static/js/forms.js";
import { checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell } from "./dom.js";

const API = "/api/v1/staff/orders";
// As the need-to-know table grants view_order_queue (the server decides; this only shows
// the screen to those who could use it).
const ORDER_ROLES = ["billing", "customer_service", "fulfilment"];
const PAGE_SIZE = 25;
const CARD_SHOWN_MS = 60_000;

// Queue columns in the order shown, with their headings; a column the role does not read
// is absent from every row, and so from the table.
const QUEUE_COLUMNS = [
  ["order_number", "Order"],
  ["placed_at", "Placed"],
  ["status", "Status"],
  ["customer_name", "Customer"],
  ["email", "Email"],
  ["customer_number", "Customer number"],
  ["ship_name", "Ship to"],
  ["ship_city", "City"],
  ["ship_country", "Country"],
  ["bill_name", "Bill to"],
  ["items_count", "Items"],
  ["total_cents", "Total"],
  ["shipping_method_name", "Shipping"],
];
const ORDER_FACTS = [
  ["status_label", "Status"],
  ["placed_at", "Placed"],
  ["customer_name", "Customer"],
  ["email", "Email"],
  ["customer_number", "Customer number"],
  ["shipping_method_name", "Shipping method"],
  ["carrier", "Carrier"],
  ["tracking_number", "Tracking number"],
  ["subtotal_cents", "Subtotal"],
  ["discount_cents", "Discount"],
  ["discount_code", "Discount code"],
  ["shipping_cents", "Shipping"],
  ["tax_cents", "Tax"],
  ["total_cents", "Total"],
  ["refunded_cents", "Refunded"],
];
const LINE_COLUMNS = [
  ["sku", "SKU"],
  ["product_name", "Item"],
  ["label", "Variant"],
  ["quantity", "Quantity"],
  ["returned_quantity", "Returned"],
  ["unit_price_cents", "Unit price"],
  ["line_total_cents", "Line total"],
];
const PAYMENT_STATES = {
  pending_manual: "Waiting for the shop's terminal",
  authorized: "Authorised",
  declined: "Declined",
  failed: "Failed",
  captured: "Taken",
  voided: "Released",
  refunded: "Refunded",
  partially_refunded: "Partly refunded",
};

const $ = (selector, root = document) => root.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
let statusLabels = {};

function money(cents, currency) {
  if (typeof cents !== "number") return "";
  if (!currency) return (cents / 100).toFixed(2);
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
}

/** A field's value as text, or null when the answer does not hold it. */
function shown(row, name) {
  if (!(name in row)) return null;
  const value = row[name];
  if (value === null || value === "") return "—";
  if (name.endsWith("_cents")) return money(value, row.currency);
  if (name.endsWith("_at")) return dateTime.format(new Date(value));
  if (name === "status") return statusLabels[value] ?? value;
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

// ---------------------------------------------------------------- the queue

const queue = { cursor: null, filters: new URLSearchParams() };

function queueQuery(form) {
  const query = new URLSearchParams();
  const ticked = [...form.querySelectorAll('input[name="status"]:checked')].map((i) => i.value);
  if (ticked.length) query.set("status", ticked.join(","));
  const [side, hours] = form.elements.age.value.split(":");
  if (side) query.set(side === "newer" ? "newer_than_hours" : "older_than_hours", hours);
  query.set("sort", form.elements.sort.value);
  query.set("limit", String(PAGE_SIZE));
  return query;
}

function statusChoices(statuses) {
  const box = $("[data-status-choices]");
  if (box.children.length) return;
  for (const { code, label } of statuses) {
    const choice = document.createElement("label");
    choice.className = "status-choice";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "status";
    input.value = code;
    choice.append(input, ` ${label}`);
    box.append(choice);
  }
}

function queueRow(order, columns) {
  const row = document.createElement("tr");
  for (const [name] of columns) {
    const text = shown(order, name) ?? "";
    if (name === "order_number") {
      const head = cell(row, "", "td");
      const link = document.createElement("a");
      link.href = `#orders/${encodeURIComponent(order.order_number)}`;
      link.textContent = text;
      head.append(link);
    } else cell(row, text);
  }
  return row;
}

async function loadQueue({ more = false } = {}) {
  const form = $("[data-queue-filters]");
  const query = new URLSearchParams(queue.filters);
  if (more && queue.cursor) query.set("cursor", queue.cursor);
  let page;
  try {
    page = await staffFetch(`${API}?${query}`);
  } catch (error) {
    if (!handled(error, form.querySelector("[data-form-message]"))) say(form, error.message, "error");
    return;
  }
  statusLabels = Object.fromEntries(page.statuses.map((s) => [s.code, s.label]));
  statusChoices(page.statuses);
  const rows = $("[data-queue-rows]");
  if (!more) rows.replaceChildren();
  const present = new Set(page.orders.flatMap((order) => Object.keys(order)));
  const columns = QUEUE_COLUMNS.filter(([name]) => present.has(name));
  const head = $("[data-queue-head]");
  if (!more || !head.children.length) {
    head.replaceChildren();
    for (const [, title] of columns) cell(head, title, "th");
  }
  for (const order of page.orders) rows.append(queueRow(order, columns));
  queue.cursor = page.next_cursor;
  $("[data-queue-more]").hidden = !page.next_cursor;
  $("[data-queue-empty]").hidden = rows.children.length > 0;
}

function wireQueue() {
  const form = $("[data-queue-filters]");
  onSubmit(form, async () => {
    queue.filters = queueQuery(form);
    queue.cursor = null;
    await loadQueue();
  });
  queue.filters = queueQuery(form);
  $("[data-queue-more]").addEventListener("click", () => loadQueue({ more: true }));
}

// ---------------------------------------------------------------- one order

let current = null; // the order number on screen
let hideCardTimer = null;

function facts(list, pairs, row) {
  list.replaceChildren();
  for (const [name, title] of pairs) {
    const text = shown(row, name);
    if (text === null) continue;
    const term = document.createElement("dt");
    term.textContent = title;
    const value = document.createElement("dd");
    value.textContent = text;
    list.append(term, value);
  }
}

function address(order, prefix) {
  const parts = ["name", "line1", "line2", "city", "region", "postcode", "country"]
    .map((part) => order[`${prefix}_${part}`])
    .filter((part) => typeof part === "string" && part);
  return parts.length ? parts.join(", ") : null;
}

function renderLines(lines, currency) {
  const present = new Set(lines.flatMap((line) => Object.keys(line)));
  const columns = LINE_COLUMNS.filter(([name]) => present.has(name));
  const head = $("[data-lines-head]");
  head.replaceChildren();
  for (const [, title] of columns) cell(head, title, "th");
  const body = $("[data-lines]");
  body.replaceChildren();
  for (const line of lines) {
    const row = document.createElement("tr");
    for (const [name] of columns) cell(row, shown({ ...line, currency }, name) ?? "");
    body.append(row);
  }
}

function renderHistory(events) {
  const list = $("[data-history]");
  list.replaceChildren();
  for (const event of events) {
    const item = document.createElement("li");
    const when = event.created_at ? dateTime.format(new Date(event.created_at)) : "";
    const who = event.actor ? ` (${event.actor})` : "";
    item.textContent = `${when}: ${statusLabels[event.to_status] ?? event.to_status}${who}`;
    if (event.note) {
      const note = document.createElement("p");
      note.className = "meta";
      note.textContent = event.note;
      item.append(note);
    }
    list.append(item);
  }
}

function renderReturns(returns) {
  $("[data-returns-panel]").hidden = !returns.length;
  const list = $("[data-returns]");
  list.replaceChildren();
  for (const item of returns) {
    const entry = document.createElement("li");
    entry.textContent = [item.status, item.lines, item.reason].filter(Boolean).join(" · ");
    list.append(entry);
  }
}

function renderOrder(found) {
  const { order } = found;
  current = order.order_number ?? current;
  $("[data-order-title]").textContent = `Order ${current}`;
  facts($("[data-order-facts]"), ORDER_FACTS, order);
  for (const [prefix, title] of [["ship", "Ship to"], ["bill", "Bill to"]]) {
    const text = address(order, prefix);
    if (text === null) continue;
    const term = document.createElement("dt");
    term.textContent = title;
    const value = document.createElement("dd");
    value.textContent = text;
    $("[data-order-facts]").append(term, value);
  }
  // Billing's alone: absent from the answer for every other role.
  $("[data-order-payment]").hidden = !found.payment && !found.card;
  const paid = {};
  if (found.payment) paid.state = PAYMENT_STATES[found.payment.status] ?? found.payment.status;
  if (found.card) paid.card = found.card.masked;
  facts($("[data-payment-facts]"), [["state", "State"], ["card", "Card"]], paid);
  renderLines(found.lines, order.currency);
  renderHistory(found.events);
  renderReturns(found.returns);
  for (const form of document.querySelectorAll("[data-order-detail] form[data-action]")) {
    form.hidden = !found.actions.includes(form.dataset.action);
  }
  $("[data-no-actions]").hidden = found.actions.length > 0;
}

async function openOrder(number) {
  const message = $("[data-order-message]");
  message.textContent = "";
  try {
    renderOrder(await staffFetch(`${API}/${encodeURIComponent(number)}`));
  } catch (error) {
    if (handled(error, message)) return;
    message.textContent =
      error instanceof ApiError && error.status === 404 ? "There is no such order." : error.message;
  }
}

function hideCard() {
  clearTimeout(hideCardTimer);
  const box = $("[data-revealed-card]");
  $("[data-card-digits]").textContent = "";
  box.hidden = true;
}

async function post(step, body) {
  return staffFetch(`${API}/${encodeURIComponent(current)}/${step}`, { method: "POST", body });
}

function cents(typed) {
  if (!typed) return undefined;
  const [whole, part = ""] = typed.replace(",", ".").split(".");
  return Number(whole) * 100 + Number(part.padEnd(2, "0").slice(0, 2));
}

const MOVES = {
  record_payment: ({ result, authorization_code: code, reason }) =>
    post("payment", result === "approved"
      ? { result, authorization_code: code || null }
      : { result, reason: reason || null }),
  pack: () => post("pack"),
  ship: ({ carrier, tracking_number: tracking }) =>
    post("ship", { carrier, tracking_number: tracking }),
  deliver: () => post("deliver"),
  cancel: ({ reason }) => post("cancel", { reason }),
  refund: ({ amount, reason }) => post("refund", { amount_cents: cents(amount), reason }),
  receive_return: () => post("receive-return"),
};

function wireMove(form, move) {
  onSubmit(form, async (typed) => {
    const found = await move(typed);
    form.reset();
    renderOrder(found);
    say(form, "Done.", "success");
  });
}

function wireReveal(form) {
  onSubmit(form, async ({ reason }) => {
    const { card_number: digits } = await post("reveal-card", { reason });
    form.reset();
    $("[data-card-digits]").textContent = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
    $("[data-revealed-card]").hidden = false;
    clearTimeout(hideCardTimer);
    hideCardTimer = setTimeout(hideCard, CARD_SHOWN_MS);
  });
  $("[data-hide-card]", form).addEventListener("click", hideCard);
}

function wireProblem(form) {
  const path = form.dataset.path;
  const pane = $("[data-mail-preview]", form);
  onSubmit(form, async ({ detail }) => {
    const found = await post(path, { detail });
    form.reset();
    pane.hidden = true;
    renderOrder(found);
    say(form, "The customer is being mailed.", "success");
  });
  $("[data-preview]", form).addEventListener("click", async () => {
    say(form, "");
    try {
      const preview = await post(`${path}/preview`, { detail: form.elements.detail.value.trim() });
      $("[data-preview-subject]", pane).textContent = preview.subject;
      $("[data-preview-text]", pane).textContent = preview.text;
      const withheld = $("[data-preview-withheld]", pane);
      withheld.hidden = !preview.withheld.length;
      withheld.textContent = preview.withheld.length
        ? "Parts your role does not read are left blank here; the customer's mail has them."
        : "";
      pane.hidden = false;
    } catch (error) {
      if (!handled(error, form.querySelector("[data-form-message]"))) say(form, error.message, "error");
    }
  });
}

function wireDetail() {
  for (const form of document.querySelectorAll("[data-order-detail] form[data-action]")) {
    const action = form.dataset.action;
    if (action === "reveal_card") wireReveal(form);
    else if (form.dataset.path) wireProblem(form);
    else wireMove(form, MOVES[action]);
  }
}

// ---------------------------------------------------------------- which screen

function route() {
  const screen = $("[data-orders-screen]");
  const hash = decodeURIComponent(window.location.hash.slice(1));
  const onOrders = hash === "orders" || hash.startsWith("orders/");
  screen.hidden = !onOrders;
  const link = document.querySelector('[data-nav="orders"] a');
  if (onOrders) link?.setAttribute("aria-current", "page");
  else link?.removeAttribute("aria-current");
  if (!onOrders) return;
  hideCard();
  const number = hash.startsWith("orders/") ? hash.slice("orders/".length) : "";
  $("[data-orders-queue]").hidden = Boolean(number);
  $("[data-order-detail]").hidden = !number;
  if (number) {
    current = number;
    openOrder(number);
  } else loadQueue();
}

async function start() {
  const me = await ready;
  if (!me || !me.roles.some((role) => ORDER_ROLES.includes(role))) return;
  const entry = document.querySelector('[data-nav="orders"]');
  if (entry) entry.hidden = false;
  wireQueue();
  wireDetail();
  window.addEventListener("hashchange", route);
  route();
}

start();
