// One order, drawn into the shared order detail (templates/_order_detail.html), with the
// actions the shop offers for it: cancel, answer an availability problem, pay with another
// card, request a return. The guest's page and the account's both use it; they differ
// only in how an action reaches the API (the mailed link's token, or the sign-in).
// Text goes in with textContent only.

import {
  CARD_ALIASES,
  checkShapes,
  forgetCard,
  forgetOnLeave,
  forgetSecrets,
  readCard,
} from "./checkout-card.js";
import {
  element,
  fillAddress,
  fillLines,
  fillTotals,
  orderNumber,
  when,
} from "./checkout-money.js";
import { onSubmit, say, sentence } from "/static/js/forms.js";

/**
 * Show `order` (the API's OrderDetail) in `root`, the [data-order-detail] element.
 * `actions` lists what the customer may do now; each action's panel shows only then.
 */
export function showOrder(root, order) {
  const $ = (selector) => root.querySelector(selector);
  $("[data-order-number]").textContent = orderNumber(order.order_number);
  const status = $("[data-order-status]");
  status.textContent = order.status_label;
  status.dataset.kind = ["payment_problem", "availability_problem"].includes(order.status)
    ? "warn"
    : "good";
  const placed = $("[data-order-placed]");
  placed.dateTime = order.placed_at;
  placed.textContent = when(order.placed_at);
  fillLines($("[data-order-lines]"), order.lines);
  fillTotals($("[data-order-totals]"), order);
  fillAddress($("[data-order-ship-to]"), order.shipping_address);
  fillAddress($("[data-order-bill-to]"), order.billing_address);
  $("[data-order-method]").textContent = order.shipping_method_name
    ? `Shipping: ${order.shipping_method_name}`
    : "";
  $("[data-order-card]").textContent = order.card_label ? `Paid by ${order.card_label}` : "";
  const tracked = Boolean(order.carrier || order.tracking_number);
  $("[data-order-tracking]").hidden = !tracked;
  $("[data-order-carrier]").textContent = order.carrier ?? "";
  $("[data-order-tracking-number]").textContent = order.tracking_number ?? "";
  showHistory($("[data-order-history]"), order.history ?? []);
  showActions(root, order);
  root.hidden = false;
}

function showHistory(list, history) {
  list.replaceChildren(
    ...history.map((event) => {
      const item = element("li");
      const time = element("time", when(event.at));
      time.dateTime = event.at;
      item.append(time, ": ", element("strong", event.status_label));
      if (event.note) item.append(" — ", element("span", event.note));
      return item;
    }),
  );
}

function showActions(root, order) {
  const offered = new Set(order.actions ?? []);
  for (const panel of root.querySelectorAll("[data-action]")) {
    panel.hidden = !offered.has(panel.dataset.action);
  }
  if (offered.has("request_return")) showReturnLines(root, order.lines);
}

// One number input per line: how many of it go back (0 to what is not returned yet).
function showReturnLines(root, lines) {
  const box = root.querySelector("[data-return-lines]");
  const returnable = (line) => line.quantity - (line.returned_quantity ?? 0);
  box.replaceChildren(
    ...lines
      .filter((line) => returnable(line) > 0)
      .map((line, index) => {
        const id = `return-quantity-${index}`;
        const field = element("div", "", "field");
        const label = element("label", line.label ? `${line.name} (${line.label})` : line.name);
        label.htmlFor = id;
        const input = element("input");
        Object.assign(input, {
          id,
          type: "number",
          min: 0,
          max: returnable(line),
          step: 1,
          value: 0,
        });
        input.inputMode = "numeric";
        input.dataset.sku = line.sku;
        field.append(label, input);
        return field;
      }),
  );
}

function returnedLines(form) {
  const lines = {};
  for (const input of form.querySelectorAll("[data-return-lines] input")) {
    const quantity = Number(input.value);
    if (Number.isInteger(quantity) && quantity > 0) lines[input.dataset.sku] = quantity;
  }
  return lines;
}

/**
 * Wire the action forms in `root` to `api`, an object of async functions:
 * cancel(), availability(choice), payment(card), requestReturn(lines, reason), and
 * reload() -> OrderDetail. After each action the order is shown again as the shop has it.
 */
export function wireActions(root, api) {
  const form = (name) => root.querySelector(`[data-${name}-form]`);
  const message = root.querySelector("[data-order-message]");
  const done = async (text, kind = "success") => {
    showOrder(root, await api.reload());
    message.textContent = text;
    message.dataset.kind = kind;
    root.querySelector("h2").focus();
  };

  onSubmit(form("cancel"), async () => {
    if (!window.confirm("Cancel this order? This cannot be undone.")) return;
    await api.cancel();
    await done("Your order is cancelled. We sent you a mail to confirm it.");
  });

  onSubmit(form("availability"), async ({ choice }) => {
    await api.availability(choice);
    await done(
      choice === "wait"
        ? "Thank you: we send the order as soon as everything is in."
        : "Your order is cancelled. We sent you a mail to confirm it.",
    );
  });

  const cardForm = form("new-card");
  forgetOnLeave(cardForm);
  checkShapes(cardForm);
  onSubmit(
    cardForm,
    async () => {
      let answer;
      try {
        answer = await api.payment(readCard(cardForm));
      } finally {
        forgetSecrets(cardForm); // answered or not, the code is not kept for a second try
      }
      forgetCard(cardForm);
      const declined = answer?.payment?.status === "declined";
      const text = answer?.payment?.message || answer?.message || "Thank you: the card is taken.";
      await done(sentence("", text), declined ? "error" : "success");
    },
    { aliases: CARD_ALIASES },
  );

  const returnForm = form("return");
  onSubmit(returnForm, async ({ reason }) => {
    const lines = returnedLines(returnForm);
    if (!Object.keys(lines).length) {
      say(returnForm, "Choose at least one thing to send back.", "error");
      return;
    }
    await api.requestReturn(lines, reason);
    returnForm.reset();
    await done("We have your return request. We sent you a mail with what to do next.");
  });
}
