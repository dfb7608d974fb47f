// The confirmation after checkout: the answer this tab kept when the order was placed
// (order number, status, total, the masked card). A declined card still makes an order:
// then it says so, and where to give another card. Text goes in with textContent only.

import { money, orderNumber } from "./checkout-money.js";
import { placed } from "./checkout-store.js";

const page = document.querySelector("[data-done-page]");
const $ = (selector) => page.querySelector(selector);

function show(name) {
  for (const panel of page.querySelectorAll("[data-panel]")) {
    panel.hidden = panel.dataset.panel !== name;
  }
  $(`[data-panel="${name}"]`).focus();
}

// What the order screens call the statuses an order can have when it is placed.
const LABELS = {
  placed: "Placed",
  payment_verified: "Payment confirmed",
  payment_problem: "Payment problem",
  availability_problem: "Item not available yet",
};

function showOrder(order) {
  $("[data-order-number]").textContent = orderNumber(order.order_number);
  const status = $("[data-order-status]");
  status.textContent = LABELS[order.status] ?? order.status.replaceAll("_", " ");
  const problem = order.status === "payment_problem" || order.payment.status === "declined";
  status.dataset.kind = problem ? "warn" : "good";
  $("[data-order-total]").textContent = money(order.total);
  $("[data-card-row]").hidden = !order.payment.card_label;
  $("[data-card-label]").textContent = order.payment.card_label;
  $("[data-test-payment]").hidden = !order.payment.simulated;
  $("[data-payment-problem]").hidden = !problem;
  $("[data-payment-ok-message]").hidden = problem || !order.payment.message;
  if (problem) {
    if (order.payment.message) $("[data-payment-message]").textContent = order.payment.message;
    $("[data-payment-where]").textContent =
      order.next === "account" ? "the order page in your account" : "the link in that mail";
  } else {
    $("[data-payment-ok-message]").textContent = order.payment.message;
  }
  for (const next of page.querySelectorAll("[data-next]")) {
    next.hidden = next.dataset.next !== order.next;
  }
  $("[data-account-order-link]").href = `/account/orders/${encodeURIComponent(order.order_number)}`;
  show("placed");
}

const order = placed.read();
if (order) showOrder(order);
else show("none");
