// The signed-in customer's orders: the list at /account/orders, one order at
// /account/orders/{number} (read from the path; the page itself never names it). Data
// comes from the API with this tab's token; without a sign-in (or once it has ended) the
// sign-in form shows in place, and signing in loads the screen. Text goes in with
// textContent only.

import { element, money, orderNumber, when } from "./checkout-money.js";
import { showOrder, wireActions } from "./checkout-order-detail.js";
import { call, SIGN_IN_REQUIRED, token } from "/static/js/api.js";
import { clearErrors, say, wireSignInForm } from "/static/js/forms.js";

const page = document.querySelector("[data-orders-page]");
const $ = (selector) => page.querySelector(selector);
const pageMessage = $("[data-page-message]");
const signInForm = $("[data-sign-in-form]");
const root = $("[data-order-detail]");
const number = /^\/account\/orders\/([^/]+)$/.exec(window.location.pathname)?.[1] ?? null;
const orderPath = number ? `/api/v1/orders/${encodeURIComponent(decodeURIComponent(number))}` : "";

function show(name, message = "") {
  for (const panel of page.querySelectorAll("[data-panel]")) {
    panel.hidden = panel.dataset.panel !== name;
  }
  pageMessage.textContent = message;
}

function showSignIn(formText = "") {
  show("sign-in");
  clearErrors(signInForm);
  if (formText) say(signInForm, formText, "error");
  signInForm.elements.email.focus();
}

window.addEventListener(SIGN_IN_REQUIRED, () => showSignIn("Please sign in to see your orders."));
wireSignInForm(signInForm, () => load());

function showList(orders) {
  $("[data-no-orders]").hidden = orders.length > 0;
  $("[data-orders-table]").hidden = orders.length === 0;
  $("[data-orders-rows]").replaceChildren(
    ...orders.map((order) => {
      const row = element("tr");
      const cell = element("th");
      cell.scope = "row";
      const link = element("a", orderNumber(order.order_number));
      link.href = `/account/orders/${encodeURIComponent(order.order_number)}`;
      cell.append(link);
      const placed = element("time", when(order.placed_at));
      placed.dateTime = order.placed_at;
      const placedCell = element("td");
      placedCell.append(placed);
      const badge = element("span", order.status_label, "badge");
      const statusCell = element("td");
      statusCell.append(badge);
      row.append(cell, placedCell, statusCell, element("td", money(order.total)));
      return row;
    }),
  );
  $("[data-orders-nav]").setAttribute("aria-current", "page");
  show("list");
}

const api = {
  reload: () => call("GET", orderPath),
  cancel: () => call("POST", `${orderPath}/cancel`, { body: {} }),
  availability: (choice) => call("POST", `${orderPath}/availability`, { body: { choice } }),
  payment: (card) => call("POST", `${orderPath}/payment`, { body: { card } }),
  requestReturn: (lines, reason) =>
    call("POST", `${orderPath}/return`, { body: { lines, reason } }),
};

let wired = false;

async function load() {
  if (!token.get()) {
    showSignIn();
    return;
  }
  show("loading");
  try {
    if (!number) {
      showList(await call("GET", "/api/v1/orders"));
      return;
    }
    const order = await api.reload();
    showOrder(root, order);
    document.title = `Order ${orderNumber(order.order_number)} · ${document.title.split(" · ").pop()}`;
    if (!wired) wireActions(root, api);
    wired = true;
    show("detail");
  } catch (error) {
    if (!error.signInShown) show("none", error.message);
  }
}

load();
