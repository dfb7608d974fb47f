// Money as the shop shows it ("€12.90", as the server's money filter writes it), and the
// pieces of an order the checkout and the order pages both draw: its lines and totals.
// Amounts are integer cents from the API; the page only shows them, never computes them.
// Text goes in with textContent only.

import { formatMoney } from "./cart-money.js";

/** {cents, currency} as text ("−€5.00" below zero); "" for anything else. */
export function money(value) {
  if (!value || !Number.isSafeInteger(value.cents) || typeof value.currency !== "string") return "";
  const text = formatMoney(Math.abs(value.cents), value.currency);
  return value.cents < 0 ? `−${text}` : text;
}

export const cents = (value) => (value && Number.isSafeInteger(value.cents) ? value.cents : 0);

export function element(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** One table row per line: product (name and variant label), quantity, price, total. */
export function fillLines(tbody, lines) {
  tbody.replaceChildren(
    ...lines.map((line) => {
      const row = element("tr");
      const product = element("td");
      product.append(element("span", line.name ?? line.sku));
      if (line.label) product.append(" ", element("span", line.label, "note"));
      row.append(
        product,
        element("td", String(line.quantity)),
        element("td", money(line.unit_price)),
        element("td", money(line.line_total)),
      );
      return row;
    }),
  );
}

function row(body, term, value, kind) {
  const item = element("tr");
  item.dataset.total = kind;
  const name = element("th", term);
  name.scope = "row";
  item.append(name, element("td", value));
  body.append(item);
}

/**
 * Every total of a quote or an order, one table row each (in `list`, a <tbody>): subtotal,
 * discount, shipping, tax (included in the prices or added to them), total, refunded.
 */
export function fillTotals(list, totals) {
  list.replaceChildren();
  row(list, "Subtotal", money(totals.subtotal), "subtotal");
  if (cents(totals.discount) > 0) {
    const code = totals.discount_code ? ` (${totals.discount_code})` : "";
    row(
      list,
      `Discount${code}`,
      money({ ...totals.discount, cents: -cents(totals.discount) }),
      "discount",
    );
  }
  const method = totals.shipping_method_name ?? "";
  row(list, method ? `Shipping: ${method}` : "Shipping", money(totals.shipping), "shipping");
  const included = totals.prices_include_tax !== false;
  row(list, included ? "Tax included in the prices" : "Tax added", money(totals.tax), "tax");
  row(list, "Total", money(totals.total), "total");
  if (cents(totals.refunded) > 0) row(list, "Refunded", money(totals.refunded), "refunded");
}

/**
 * An address as lines of text, one span each: the lines an order shows (a list of
 * strings), or an address's fields ("" parts left out).
 */
export function fillAddress(box, address, countryName = (code) => code) {
  box.replaceChildren();
  if (!address) return;
  const lines = Array.isArray(address)
    ? address
    : [
        address.name,
        address.line1,
        address.line2,
        [address.postcode, address.city].filter(Boolean).join(" "),
        address.region,
        address.country ? countryName(address.country) : "",
      ];
  for (const line of lines) {
    if (typeof line === "string" && line) box.append(element("span", line));
  }
}

/** "QS482193057" as printed: "QS-4821-93057". */
export function orderNumber(number) {
  const match = /^QS(\d{4})(\d{5})$/.exec(number ?? "");
  return match ? `QS-${match[1]}-${match[2]}` : (number ?? "");
}

/** An ISO time as a date and time in the reader's own locale and zone. */
export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeStyle: "short" }).format(date);
}
