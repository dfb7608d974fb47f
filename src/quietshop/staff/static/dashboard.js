// The back office's first screen (#dashboard, and the page with no hash): what the
// signed-in person's roles have waiting today, as counts with links to the screens that
// hold the work.
//
// The API sends only the sections the person's roles hold, and only counts, dates and the
// audit chain's head: nothing on this screen names anyone. Every value goes in with
// textContent; the bars of the orders per day are <meter> elements (no inline style).

import { acknowledged, checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell, link } from "./dom.js";

const API = "/api/v1/staff/dashboard";
const $ = (selector) => document.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayName = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  timeZone: "UTC",
});

// Each section: its title, and its counts as [field, what the count is, the screen's hash].
const SECTIONS = {
  billing: [
    "Billing",
    [
      ["awaiting_payment", "orders awaiting payment", "orders"],
      ["payment_problems", "payment problems", "orders"],
    ],
  ],
  fulfilment: [
    "Packing and shipping",
    [
      ["to_pack", "paid orders to pack", "orders"],
      ["to_ship", "packed orders to ship", "orders"],
    ],
  ],
  customer_service: [
    "Customer service",
    [
      ["open_questions", "open questions", "questions"],
      ["availability_problems", "orders waiting on an availability answer", "orders"],
    ],
  ],
  catalog: [
    "Catalog",
    [
      ["out_of_stock", "variants out of stock", "catalog"],
      ["low_stock", "variants running low", "catalog"],
    ],
  ],
  owner: [
    "The shop",
    [["policies_not_acknowledged", "staff who have not acknowledged the policies", "staff"]],
  ],
  audit: ["Audit log", [["entries_today", "entries today", "audit"]]],
  marketing: [
    "Mailings",
    [
      ["subscribers", "subscribers right now", "mailings"],
      ["mailings_drafted", "mailings drafted, not sent", "mailings"],
    ],
  ],
};

/** A link to the screen `hash` when this person's menu holds it; plain text otherwise. */
function toScreen(hash, text) {
  const entry = document.querySelector(`[data-nav="${hash}"]`);
  return entry && !entry.hidden ? link(`#${hash}`, text) : document.createTextNode(text);
}

function card(title, wide = false) {
  const article = document.createElement("article");
  article.className = wide ? "dashboard-card wide" : "dashboard-card";
  const heading = document.createElement("h2");
  heading.textContent = title;
  article.append(heading);
  return article;
}

function line(parent, text) {
  const item = document.createElement("li");
  item.textContent = text;
  parent.append(item);
  return item;
}

function countsCard(name, values) {
  const [title, counts] = SECTIONS[name];
  const article = card(title);
  article.dataset.section = name;
  const items = document.createElement("ul");
  items.className = "dashboard-counts";
  for (const [field, what, hash] of counts) {
    const item = line(items, "");
    item.dataset.count = field;
    const number = document.createElement("span");
    number.className = "dashboard-count";
    number.textContent = String(values[field]);
    item.append(number, toScreen(hash, what));
  }
  article.append(items);
  return article;
}

function ownerExtras(article, owner) {
  const items = article.querySelector("ul");
  const review = owner.access_review_due_at
    ? `Access review due ${dateTime.format(new Date(owner.access_review_due_at))}`
    : "Access review: never confirmed";
  const item = line(items, "");
  item.dataset.count = "access_review";
  item.append(toScreen("access-review", owner.access_review_due ? `${review} (due now)` : review));
}

function auditExtras(article, audit) {
  const items = article.querySelector("ul");
  const head = line(items, audit.head_id === null ? "The chain is empty." : "");
  if (audit.head_id !== null) {
    const hash = document.createElement("span");
    hash.className = "dashboard-hash";
    hash.textContent = audit.head_hash.slice(0, 16);
    head.append(`Head: entry ${audit.head_id}, hash `, hash, "…");
  }
  line(
    items,
    audit.last_verified_at
      ? `Last verified ${dateTime.format(new Date(audit.last_verified_at))}`
      : "Never verified (quietshop audit verify)",
  );
}

function ordersPerDay(days) {
  const article = card("Orders placed per day (last 14 days, UTC)", true);
  article.dataset.section = "orders_per_day";
  const table = document.createElement("table");
  table.className = "orders-table dashboard-days";
  const head = table.createTHead().insertRow();
  for (const title of ["Day", "Orders", ""]) cell(head, title, "th");
  const body = table.createTBody();
  const most = Math.max(1, ...days.map((day) => day.orders));
  for (const day of days) {
    const row = body.insertRow();
    cell(row, dayName.format(new Date(`${day.day}T00:00:00Z`)));
    cell(row, String(day.orders));
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = most;
    meter.value = day.orders;
    meter.setAttribute("aria-hidden", "true"); // the count beside it says it
    cell(row, "").append(meter);
  }
  article.append(table);
  return article;
}

function render(found) {
  const sections = $("[data-dashboard-sections]");
  sections.replaceChildren();
  for (const name of Object.keys(SECTIONS)) {
    if (!(name in found)) continue;
    const article = countsCard(name, found[name]);
    if (name === "owner") ownerExtras(article, found.owner);
    if (name === "audit") auditExtras(article, found.audit);
    sections.append(article);
  }
  if (found.orders_per_day) sections.append(ordersPerDay(found.orders_per_day.days));
  $("[data-dashboard-as-of]").textContent = `As of ${dateTime.format(new Date(found.as_of))}.`;
}

async function load() {
  const message = $("[data-dashboard-message]");
  try {
    render(await staffFetch(API));
    message.textContent = "";
  } catch (error) {
    if (error?.signInShown) return;
    if (error instanceof ApiError && error.code === "policies_pending") {
      checkPolicies();
      message.textContent = "Please acknowledge the current policies first.";
      return;
    }
    message.textContent = error.message;
  }
}

// ---------------------------------------------------------------- which screen

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1));
  const here = hash === "" || hash === "dashboard";
  $("[data-dashboard-screen]").hidden = !here;
  document.querySelector('[data-nav="dashboard"] a')?.toggleAttribute("aria-current", here);
  if (here) acknowledged.then(load);
}

async function start() {
  const me = await ready;
  if (!me) return;
  const entry = document.querySelector('[data-nav="dashboard"]');
  if (entry) entry.hidden = false;
  window.addEventListener("hashchange", route);
  // The counts link to the screens in this person's menu, read once the answer is in
  // (the other screens show their entries as soon as the shell opens).
  route();
}

start();
