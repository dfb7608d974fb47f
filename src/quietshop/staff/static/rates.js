// The rate tables (#rates; issue 8 item 3, issue 9 item 7): shipping regions, shipping
// rates, tax rates and discount codes, each row edited in place ("Edit", then "Save"),
// with a last row to add one. Each table is shown to the roles that may edit it (the
// server decides, and refuses the rest with 403).
//
// What is typed is turned into the API's form here (12.50 -> 1250 cents, 19 % -> 1900
// basis points, a local date and time -> UTC); the server checks every row as a quote
// reads it, and its refusal is shown under the table, naming the field. A change applies
// to the next quote at once. Every value goes in with textContent or an input's value.

import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";

const API = "/api/v1/staff/rates";
// As the need-to-know table grants edit_shipping_rates, edit_tax_rates, edit_discounts.
const SHIPPING_ROLES = ["owner"];
const TAX_ROLES = ["owner"];
const DISCOUNT_ROLES = ["owner", "marketing"];

const $ = (selector, root = document) => root.querySelector(selector);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

let tables = null; // the last answer of GET /api/v1/staff/rates

class Unreadable extends Error {}

// ---------------------------------------------------------------- kinds of column

function moneyText(cents) {
  if (cents === null || cents === undefined) return "";
  return (cents / 100).toFixed(2);
}

function parseMoney(text, label, optional) {
  const value = text.trim().replace(",", ".");
  if (!value && optional) return null;
  if (!/^\d+(\.\d{1,2})?$/.test(value)) throw new Unreadable(`${label}: write an amount as 12.50.`);
  const [whole, part = ""] = value.split(".");
  return Number(whole) * 100 + Number(part.padEnd(2, "0"));
}

function percentText(points) {
  if (points === null || points === undefined) return "";
  return String(points / 100);
}

function parsePercent(text, label, optional) {
  const value = text.trim().replace(",", ".").replace(/\s*%$/, "");
  if (!value && optional) return null;
  if (!/^\d+(\.\d{1,2})?$/.test(value)) throw new Unreadable(`${label}: write a rate as 19 or 5.5.`);
  const [whole, part = ""] = value.split(".");
  return Number(whole) * 100 + Number(part.padEnd(2, "0"));
}

function parseWhole(text, label, optional) {
  const value = text.trim();
  if (!value && optional) return null;
  if (!/^\d{1,9}$/.test(value)) throw new Unreadable(`${label}: write a whole number.`);
  return Number(value);
}

/** An ISO time as a datetime-local input shows it (the browser's time zone). */
function localInput(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const shifted = new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

function parseLocal(text, label) {
  if (!text) return null;
  const moment = new Date(text);
  if (Number.isNaN(moment.getTime())) throw new Unreadable(`${label}: choose a date and time.`);
  return moment.toISOString();
}

// Each kind: how a value is shown, the input that edits it, and how the input is read.
const KINDS = {
  text: {
    show: (value) => value ?? "",
    input: (value) => Object.assign(textInput(), { value: value ?? "" }),
    read: (input) => input.value.trim(),
  },
  countries: {
    show: (value) => value.join(", "),
    input: (value) => {
      const input = Object.assign(textInput(), { value: (value ?? []).join(", ") });
      input.dataset.wide = "";
      return input;
    },
    read: (input) => input.value.split(/[\s,;]+/).filter(Boolean),
  },
  money: {
    show: moneyText,
    input: (value) => Object.assign(textInput("decimal"), { value: moneyText(value) }),
    read: (input, column) => parseMoney(input.value, column.label, column.optional),
  },
  percent: {
    show: (value) => (value === null || value === undefined ? "" : `${percentText(value)} %`),
    input: (value) => Object.assign(textInput("decimal"), { value: percentText(value) }),
    read: (input, column) => parsePercent(input.value, column.label, column.optional),
  },
  whole: {
    show: (value) => (value === null || value === undefined ? "" : String(value)),
    input: (value) => Object.assign(textInput("numeric"), { value: value ?? "" }),
    read: (input, column) => parseWhole(input.value, column.label, column.optional),
  },
  time: {
    show: (value) => (value ? dateTime.format(new Date(value)) : ""),
    input: (value) => Object.assign(document.createElement("input"), {
      type: "datetime-local",
      value: localInput(value),
    }),
    read: (input, column) => parseLocal(input.value, column.label),
  },
  flag: {
    show: (value) => (value ? "Yes" : "No"),
    input: (value) => Object.assign(document.createElement("input"), {
      type: "checkbox",
      checked: value ?? true,
    }),
    read: (input) => input.checked,
  },
  choice: {
    show: (value) => value ?? "",
    input: (value, column) => {
      const select = document.createElement("select");
      for (const option of column.options()) {
        select.append(new Option(option, option, false, option === value));
      }
      return select;
    },
    read: (input) => input.value,
  },
};

function textInput(mode = "") {
  const input = document.createElement("input");
  input.type = "text";
  if (mode) input.inputMode = mode;
  return input;
}

// ---------------------------------------------------------------- the four tables

const regionCodes = () => tables.regions.map((region) => region.code);
const countries = () => tables.countries;

const TABLES = [
  {
    name: "regions",
    title: "Shipping regions",
    note: "The countries each region ships to; a country lies in one region at most.",
    roles: SHIPPING_ROLES,
    rows: () => tables.regions,
    key: (row) => row.code,
    columns: [
      { name: "code", label: "Region", kind: "text", fixed: true },
      { name: "countries", label: "Countries", kind: "countries" },
      { name: "rate_count", label: "Rates", kind: "whole", readonly: true },
    ],
    // A region is saved by its code, new or not.
    save: (body, row) => ({
      method: "PUT",
      path: `${API}/regions/${encodeURIComponent(row ? row.code : body.code)}`,
      body: { countries: body.countries },
    }),
    remove: (row) => `${API}/regions/${encodeURIComponent(row.code)}`,
  },
  {
    name: "shipping_rates",
    title: "Shipping rates",
    note: "Flat, or weight: the base plus so much per started kilogram. Free over: when the goods after discount reach it.",
    roles: SHIPPING_ROLES,
    rows: () => tables.shipping_rates,
    key: (row) => row.id,
    columns: [
      { name: "region", label: "Region", kind: "choice", options: regionCodes },
      { name: "method_code", label: "Method", kind: "text" },
      { name: "name", label: "Name", kind: "text" },
      { name: "kind", label: "Kind", kind: "choice", options: () => ["flat", "weight"] },
      { name: "base_cents", label: "Base", kind: "money" },
      { name: "per_kg_cents", label: "Per kg", kind: "money", blank: 0 },
      { name: "free_over_cents", label: "Free over", kind: "money", optional: true },
      { name: "delivery_days_min", label: "Days from", kind: "whole", blank: 1 },
      { name: "delivery_days_max", label: "Days to", kind: "whole", blank: 5 },
      { name: "active", label: "Active", kind: "flag" },
    ],
    save: (body, row) => ({
      method: row ? "PUT" : "POST",
      path: row ? `${API}/shipping/${row.id}` : `${API}/shipping`,
      body,
    }),
    remove: (row) => `${API}/shipping/${row.id}`,
  },
  {
    name: "tax_rates",
    title: "Tax rates",
    note: "One rate per country and tax class; shipping is taxed at the standard rate. A country without a rate is taxed at 0 %.",
    roles: TAX_ROLES,
    rows: () => tables.tax_rates,
    key: (row) => row.id,
    columns: [
      { name: "country", label: "Country", kind: "choice", options: countries },
      { name: "tax_class", label: "Tax class", kind: "text", blank: "standard" },
      { name: "rate_basis_points", label: "Rate", kind: "percent" },
      { name: "name", label: "Name", kind: "text", blank: "VAT" },
    ],
    save: (body, row) => ({
      method: row ? "PUT" : "POST",
      path: row ? `${API}/tax/${row.id}` : `${API}/tax`,
      body,
    }),
    remove: (row) => `${API}/tax/${row.id}`,
  },
  {
    name: "discount_codes",
    title: "Discount codes",
    note: "A percentage or an amount off the goods (never the shipping). Valid until is exclusive; a code already used keeps its letters and cannot be deleted: make it inactive.",
    roles: DISCOUNT_ROLES,
    rows: () => tables.discount_codes,
    key: (row) => row.id,
    columns: [
      { name: "code", label: "Code", kind: "text" },
      { name: "kind", label: "Kind", kind: "choice", options: () => ["percent", "amount"] },
      { name: "percent_basis_points", label: "Percent", kind: "percent", optional: true },
      { name: "amount_cents", label: "Amount", kind: "money", optional: true },
      { name: "valid_from", label: "Valid from", kind: "time" },
      { name: "valid_until", label: "Valid until", kind: "time" },
      { name: "minimum_order_cents", label: "Minimum order", kind: "money", blank: 0 },
      { name: "max_uses", label: "Uses at most", kind: "whole", optional: true },
      { name: "max_uses_per_customer", label: "Per customer", kind: "whole", optional: true },
      { name: "active", label: "Active", kind: "flag" },
      { name: "uses", label: "Used", kind: "whole", readonly: true },
    ],
    save: (body, row) => ({
      method: row ? "PUT" : "POST",
      path: row ? `${API}/discounts/${row.id}` : `${API}/discounts`,
      body,
    }),
    remove: (row) => `${API}/discounts/${row.id}`,
  },
];

// ---------------------------------------------------------------- drawing and editing

function cellOf(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

function button(text, onClick, kind = "") {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  if (kind) element.className = kind;
  element.addEventListener("click", onClick);
  return element;
}

function tell(section, text, kind = "error") {
  const box = $("[data-table-message]", section);
  box.textContent = text;
  box.dataset.kind = kind;
}

function explain(section, table, error) {
  if (error?.signInShown) return;
  $("[data-rates-message]").textContent = "";
  if (error instanceof Unreadable) return tell(section, error.message);
  if (!(error instanceof ApiError)) throw error;
  const label = (field) => table.columns.find((column) => column.name === field)?.label ?? field;
  const fields = error.fields.map((problem) => `${label(problem.field)}: ${problem.message}`);
  tell(section, fields.length ? fields.join(" ") : error.message);
}

/** Inputs for a row (or a new one), keyed by column name. */
function inputsFor(table, row) {
  const inputs = {};
  for (const column of table.columns) {
    if (column.readonly || (row && column.fixed)) continue;
    const value = row ? row[column.name] : (column.blank ?? null);
    const input = KINDS[column.kind].input(value, column);
    input.setAttribute("aria-label", column.label);
    inputs[column.name] = input;
  }
  return inputs;
}

function bodyOf(table, inputs, row) {
  const body = {};
  for (const column of table.columns) {
    const input = inputs[column.name];
    if (input) body[column.name] = KINDS[column.kind].read(input, column);
    else if (row && column.fixed) body[column.name] = row[column.name];
  }
  return body;
}

async function save(section, table, inputs, row) {
  try {
    const { method, path, body } = table.save(bodyOf(table, inputs, row), row);
    await staffFetch(path, { method, body });
    await load(`${table.title}: saved.`);
  } catch (error) {
    explain(section, table, error);
  }
}

async function remove(section, table, row) {
  try {
    await staffFetch(table.remove(row), { method: "DELETE" });
    await load(`${table.title}: deleted.`);
  } catch (error) {
    explain(section, table, error);
  }
}

function shownRow(section, table, row) {
  const tr = document.createElement("tr");
  for (const column of table.columns) cellOf(tr, KINDS[column.kind].show(row[column.name]));
  const actions = cellOf(tr, "");
  actions.append(
    button("Edit", () => {
      const editing = editedRow(section, table, row);
      tr.replaceWith(editing);
      editing.querySelector("input, select")?.focus();
    }, "secondary"),
    button("Delete", () => remove(section, table, row), "secondary"),
  );
  return tr;
}

function editedRow(section, table, row) {
  const tr = document.createElement("tr");
  const inputs = inputsFor(table, row);
  for (const column of table.columns) {
    const input = inputs[column.name];
    cellOf(tr, input ?? KINDS[column.kind].show(row ? row[column.name] : null));
  }
  const actions = cellOf(tr, "");
  if (row) {
    actions.append(
      button("Save", () => save(section, table, inputs, row)),
      button("Cancel", () => tr.replaceWith(shownRow(section, table, row)), "secondary"),
    );
  } else {
    actions.append(button("Add", () => save(section, table, inputs, null)));
  }
  return tr;
}

function drawTable(table) {
  const section = document.createElement("section");
  section.className = "rate-table";
  section.dataset.rateTable = table.name;
  const heading = document.createElement("h2");
  heading.textContent = table.title;
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = table.note;
  const message = document.createElement("p");
  message.className = "form-message";
  message.setAttribute("role", "status");
  message.setAttribute("aria-live", "polite");
  message.dataset.tableMessage = "";
  const scroll = document.createElement("div");
  scroll.className = "table-scroll";
  const grid = document.createElement("table");
  grid.className = "orders-table";
  const head = grid.createTHead().insertRow();
  for (const title of [...table.columns.map((column) => column.label), ""]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = title;
    head.append(th);
  }
  const body = grid.createTBody();
  for (const row of table.rows()) body.append(shownRow(section, table, row));
  grid.createTFoot().append(editedRow(section, table, null));
  scroll.append(grid);
  section.append(heading, note, scroll, message);
  return section;
}

let shown = [];

async function load(said = "") {
  const box = $("[data-rate-tables]");
  try {
    tables = await staffFetch(API);
  } catch (error) {
    if (!error?.signInShown) $("[data-rates-message]").textContent = error.message;
    return;
  }
  box.replaceChildren(...shown.map(drawTable));
  $("[data-rates-message]").textContent = said;
}

// ---------------------------------------------------------------- which screen

function route() {
  const here = decodeURIComponent(window.location.hash.slice(1)) === "rates";
  $("[data-rates-screen]").hidden = !here;
  $('[data-nav="rates"] a')?.toggleAttribute("aria-current", here);
  if (here) load();
}

async function start() {
  const me = await ready;
  if (!me) return;
  shown = TABLES.filter((table) => me.roles.some((role) => table.roles.includes(role)));
  if (!shown.length) return;
  const entry = $('[data-nav="rates"]');
  if (entry) entry.hidden = false;
  window.addEventListener("hashchange", route);
  route();
}

start();
