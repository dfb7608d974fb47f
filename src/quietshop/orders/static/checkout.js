// Checkout: six steps on one page, revealed in turn (contact, addresses, shipping method,
// discount code, card, review), for a guest or a signed-in customer. The cart comes from
// this browser's localStorage (cart.js) and reaches the shop only here; every price,
// discount, tax and shipping cost is the shop's (POST /api/v1/checkout/quote), and the
// page only shows them. Signing in here keeps the cart: nothing on this page clears it
// except a placed order. Text goes into the page with textContent only.
//
// Stable hooks for browser tests:
//   [data-panel="loading" | "empty" | "checkout"]    which part shows; empty has [data-catalog-link]
//   [data-step="contact|address|method|discount|card|review"]  the step sections (hidden until reached)
//   #checkout-name #checkout-email #contact-continue  contact (guest)
//   [data-contact-signed-in] [data-sign-out]          contact (signed in)
//   [data-sign-in-box] #sign-in-email #sign-in-password   inline sign-in (a <details>)
//   #ship-address-<id> #ship-address-new              address-book radios (signed in)
//   #ship-name #ship-line1 #ship-line2 #ship-city #ship-region #ship-postcode #ship-country
//   #billing-same; #bill-address-<id> #bill-address-new; #bill-name ... #bill-country
//   #address-continue
//   #shipping-methods input[name="shipping_method"] (ids #method-<code>), #method-continue
//   #discount-code #discount-apply #discount-remove #discount-continue
//   [data-test-payments]                              shown when payments are simulated
//   #card-number #card-exp-month #card-exp-year #card-name #card-cvc #card-continue
//   #review-totals [data-total="subtotal|discount|shipping|tax|total|refunded"] td
//   #place-order; each form's [data-form-message]; [data-cart-problem] #cart-take-what-is-left
// After a placed order the browser goes to /checkout/done (#order-number).

import * as cart from "./cart.js";
import { AddressStep, countryNamer, fillCountries, showGroup } from "./checkout-address.js";
import { send } from "./checkout-api.js";
import { cardHint, checkShapes, forgetOnLeave, forgetSecrets, readCard } from "./checkout-card.js";
import { fieldPlaces, markField } from "./checkout-errors.js";
import { cents, element, fillAddress, fillLines, fillTotals, money } from "./checkout-money.js";
import { attemptPending, placeOrder } from "./checkout-place.js";
import { days, drawMethods, methodName } from "./checkout-shipping.js";
import { call, SIGN_IN_REQUIRED, signOut, token } from "/static/js/api.js";
import {
  clearErrors,
  groupedNumber,
  onSubmit,
  say,
  sentence,
  wireSignInForm,
} from "/static/js/forms.js";

// Everything is looked up inside the checkout: the header has hooks of its own (a cart badge).
const page = document.querySelector("[data-checkout]");
const $ = (selector) => page.querySelector(selector);
const STEPS = ["contact", "address", "method", "discount", "card", "review"];
const sections = Object.fromEntries(STEPS.map((name) => [name, $(`[data-step="${name}"]`)]));
const forms = {
  contact: $("[data-contact-form]"),
  signIn: $("[data-sign-in-form]"),
  address: $("[data-address-form]"),
  method: $("[data-method-form]"),
  discount: $("[data-discount-form]"),
  card: $("[data-card-form]"),
  place: $("[data-place-form]"),
};
const groups = {
  guest: $("[data-guest-fields]"),
  shipBook: $('[data-book="ship"]'),
  ship: $('[data-address-fields="ship"]'),
  billBook: $('[data-book="bill"]'),
  bill: $('[data-address-fields="bill"]'),
};
const billingSame = $("#billing-same");
const pageMessage = $("[data-page-message]");

const state = {
  countries: [],
  countryName: (code) => code,
  customer: null, // the signed-in profile, or null for a guest
  quote: null,
  quoting: Promise.resolve(null),
  quoteNumber: 0,
  method: null,
  discount: null,
  reached: 0,
  leaving: false,
};

// ---------------------------------------------------------------- panels and steps

function showPanel(name) {
  for (const panel of page.querySelectorAll("[data-panel]")) {
    panel.hidden = panel.dataset.panel !== name;
  }
  if (name === "empty") $('[data-panel="empty"]').focus();
}

function reveal(name) {
  const index = STEPS.indexOf(name);
  state.reached = Math.max(state.reached, index);
  STEPS.forEach((step, i) => {
    sections[step].hidden = i > state.reached;
  });
  if (name === "review") showReview();
  sections[name].querySelector("h2").focus();
}

function cartLines() {
  return cart.lines().map(({ sku, qty }) => ({ sku, quantity: qty }));
}

// ---------------------------------------------------------------- who is ordering

function showGuest(message = "") {
  state.customer = null;
  $("[data-contact-signed-in]").hidden = true;
  showGroup(groups.guest, true);
  $("[data-sign-in-box]").hidden = false;
  addresses.forGuest();
  if (message) {
    $("[data-sign-in-box]").open = true;
    say(forms.signIn, sentence("", message), "error");
  }
}

function showCustomer(profile, book) {
  state.customer = profile;
  $("[data-contact-name]").textContent = profile.name;
  $("[data-contact-email]").textContent = profile.email;
  $("[data-contact-number]").textContent = groupedNumber(profile.customer_number);
  $("[data-contact-signed-in]").hidden = false;
  showGroup(groups.guest, false);
  $("[data-sign-in-box]").hidden = true;
  addresses.forCustomer(book, {
    shipsTo: new Set(state.countries.map((c) => c.code)),
    countryName: state.countryName,
  });
}

async function loadCustomer() {
  if (!token.get()) {
    showGuest();
    return;
  }
  try {
    const [profile, book] = await Promise.all([
      call("GET", "/api/v1/account"),
      call("GET", "/api/v1/account/addresses"),
    ]);
    showCustomer(profile, book);
  } catch (error) {
    // A sign-in that ended is handled by the SIGN_IN_REQUIRED listener.
    if (!error.signInShown) showGuest(`We could not load your account: ${error.message}`);
  }
}

window.addEventListener(SIGN_IN_REQUIRED, () => {
  showGuest("Your sign-in has ended. Sign in again, or go on as a guest.");
});

wireSignInForm(forms.signIn, async () => {
  await loadCustomer();
  $("[data-sign-in-box]").open = false;
  say(forms.contact, "You are signed in. Your cart is just as it was.", "success");
  refresh();
});

$("[data-sign-out]").addEventListener("click", async () => {
  await signOut();
  showGuest();
  say(forms.contact, "You are signed out in this tab. Your cart is still here.", "success");
  forms.contact.elements.namedItem("name").focus();
  refresh();
});

// ---------------------------------------------------------------- addresses

// A new choice in the address book, or another country, may change the shipping costs.
const repriceOnceShipping = () => {
  if (state.reached >= STEPS.indexOf("method")) refresh();
};
const addresses = new AddressStep({
  ...groups,
  billingSame,
  billingBox: $("[data-billing]"),
  onChange: repriceOnceShipping,
});
groups.ship.elements.namedItem("country").addEventListener("change", repriceOnceShipping);

// Before an address is given, the cart is priced for a likely country (the browser's
// region, if we ship there), so the summary shows prices; the address step re-prices it.
function likelyCountry() {
  const region = (navigator.language ?? "").split("-")[1]?.toUpperCase();
  const codes = state.countries.map((c) => c.code);
  return codes.includes(region) ? region : (codes[0] ?? null);
}

// ---------------------------------------------------------------- quotes

function quoteBody(discountCode) {
  return {
    lines: cartLines(),
    shipping_country: addresses.shippingAddress()?.country || likelyCountry(),
    shipping_method: state.method,
    discount_code: discountCode,
  };
}

/** Ask the shop for the current totals; throws the API's refusal. A stale answer is dropped. */
function requote(discountCode = state.discount) {
  const number = ++state.quoteNumber;
  const body = quoteBody(discountCode);
  state.quoting = send("POST", "/api/v1/checkout/quote", { body }).then((quote) => {
    if (number === state.quoteNumber) showQuote(quote);
    return quote;
  });
  return state.quoting;
}

/** Re-price after a change, showing any refusal where it belongs. */
async function refresh() {
  if (state.leaving) return null;
  if (!cart.count()) {
    showPanel("empty");
    return null;
  }
  try {
    return await requote();
  } catch (error) {
    return explainQuoteRefusal(error);
  }
}

async function explainQuoteRefusal(error) {
  if (!Array.isArray(error.fields)) throw error; // a bug in this page, not a refusal
  if (error.signedOut) return refresh(); // priced again as a guest
  if (error.code === "out_of_stock") {
    showShortages(error.body.shortages ?? {}, error.message);
    return null;
  }
  const fields = error.fields.map((f) => f.field);
  if (fields.includes("discount_code") && state.discount) {
    state.discount = null; // the code no longer applies (dates, minimum, limits): say so
    showFieldErrors(error.fields);
    return refresh();
  }
  if (fields.includes("shipping_method") && state.method) {
    state.method = null; // not offered there: let the shop choose the default
    return refresh();
  }
  if (fields.length) showFieldErrors(error.fields);
  else pageMessage.textContent = sentence("", error.message);
  return null;
}

function showQuote(quote) {
  state.quote = quote;
  state.method = quote.shipping_method;
  state.discount = quote.discount_code ?? null;
  const items = quote.lines.reduce((sum, line) => sum + line.quantity, 0);
  $("[data-cart-items]").textContent = items === 1 ? "1 item" : `${items} items`;
  $("[data-cart-subtotal]").textContent = money(quote.subtotal);
  $("[data-cart-problem]").hidden = true;
  showMethods(quote);
  showDiscount(quote);
  for (const notice of page.querySelectorAll("[data-test-payments]")) {
    notice.hidden = !quote.payment_simulated;
  }
  fillLines($("[data-review-lines]"), quote.lines);
  fillTotals($("[data-review-totals]"), { ...quote, shipping_method_name: methodName(quote) });
  if (state.reached >= STEPS.indexOf("review")) showReview();
}

function showMethods(quote) {
  drawMethods($("[data-shipping-options]"), quote, (code) => {
    state.method = code;
    refresh();
  });
}

function showDiscount(quote) {
  const applied = Boolean(quote.discount_code) && cents(quote.discount) > 0;
  $("[data-discount-applied]").hidden = !applied;
  if (!applied) return;
  $("[data-discount-applied-code]").textContent = quote.discount_code;
  $("[data-discount-applied-amount]").textContent = money(quote.discount);
}

// ---------------------------------------------------------------- out of stock

function showShortages(shortages, message) {
  const names = new Map((state.quote?.lines ?? []).map((line) => [line.sku, line.name]));
  $("[data-cart-problem-text]").textContent = sentence("", message);
  $("[data-cart-shortages]").replaceChildren(
    ...Object.entries(shortages).map(([sku, left]) => {
      const name = names.get(sku) ?? sku;
      return element("li", left > 0 ? `${name}: only ${left} left` : `${name}: none left`);
    }),
  );
  const problem = $("[data-cart-problem]");
  problem.hidden = false;
  problem.dataset.shortages = JSON.stringify(shortages);
  $("[data-cart-fix]").focus();
}

$("[data-cart-fix]").addEventListener("click", () => {
  const shortages = JSON.parse($("[data-cart-problem]").dataset.shortages || "{}");
  for (const [sku, left] of Object.entries(shortages)) {
    try {
      if (Number.isInteger(left) && left > 0) cart.setQuantity(sku, left);
      else cart.remove(sku);
    } catch {
      cart.remove(sku); // a line the cart refuses to keep is one we cannot sell either
    }
  }
  // cart.onChange re-prices the cart (or shows that it is empty).
});

// ---------------------------------------------------------------- errors beside their fields

const placeFor = fieldPlaces({ ...forms, ...groups });

/** Every {field, message} beside its field; all of them in the place form's live region. */
function showFieldErrors(fields, summaryForm = null) {
  let first = null;
  const texts = [];
  for (const { field, message } of fields) {
    const place = placeFor(field);
    const marked = place && !place[0].disabled ? markField(place[0], place[1], message) : null;
    texts.push(marked?.text ?? sentence("", message));
    first ??= marked?.control ?? null;
  }
  if (summaryForm) say(summaryForm, texts.join(" "), "error");
  if (!first) {
    if (!summaryForm) pageMessage.textContent = texts.join(" ");
    return;
  }
  const step = first.closest("[data-step]").dataset.step;
  const form = first.form;
  if (!summaryForm) say(form, texts.join(" "), "error");
  reveal(step);
  first.focus();
}

function clearAllErrors() {
  for (const form of Object.values(forms)) clearErrors(form);
  pageMessage.textContent = "";
}

// ---------------------------------------------------------------- the steps

onSubmit(forms.contact, async () => {
  const name = forms.contact.elements.namedItem("name").value.trim();
  const shipName = groups.ship.elements.namedItem("name");
  if (!state.customer && name && !shipName.value) shipName.value = name;
  reveal("address");
});

onSubmit(forms.address, async () => {
  try {
    await requote();
  } catch (error) {
    await explainQuoteRefusal(error);
    return;
  }
  reveal("method");
});

onSubmit(forms.method, async () => reveal("discount"));

async function applyDiscount(code) {
  try {
    await requote(code || null);
  } catch (error) {
    if (error.fields.some((f) => f.field === "discount_code")) {
      showFieldErrors(error.fields);
      return false;
    }
    await explainQuoteRefusal(error);
    return false;
  }
  if (!code) return true;
  if (!state.discount) {
    say(forms.discount, "This code takes nothing off this order.", "info");
    return false;
  }
  forms.discount.elements.namedItem("code").value = "";
  say(forms.discount, `The code is applied: ${money(state.quote.discount)} off.`, "success");
  return true;
}

onSubmit(forms.discount, async ({ code }) => {
  await applyDiscount(code);
});

$("[data-discount-continue]").addEventListener("click", async () => {
  clearErrors(forms.discount);
  const typed = forms.discount.elements.namedItem("code").value.trim();
  if (typed && typed.toUpperCase() !== state.discount && !(await applyDiscount(typed))) return;
  reveal("card");
});

$("[data-discount-remove]").addEventListener("click", async () => {
  clearErrors(forms.discount);
  state.discount = null;
  if (await applyDiscount("")) say(forms.discount, "The code is removed.", "success");
});

onSubmit(forms.card, async () => reveal("review"));
forgetOnLeave(forms.card);
checkShapes(forms.card);

function showReview() {
  fillAddress($("[data-review-ship-to]"), addresses.shippingAddress(), state.countryName);
  fillAddress($("[data-review-bill-to]"), addresses.billingAddress(), state.countryName);
  const option = state.quote?.shipping_options.find((o) => o.code === state.quote.shipping_method);
  $("[data-review-method]").textContent = option ? `${option.name}, ${days(option)}` : "";
  $("[data-review-card]").textContent = cardHint(forms.card);
  const email = state.customer?.email ?? groups.guest.elements.namedItem("email").value.trim();
  $("[data-review-contact]").textContent = email ? `Confirmation to ${email}` : "";
}

// ---------------------------------------------------------------- placing the order

// Each step's form must be complete; the first that is not opens with the browser's note.
function stepsComplete() {
  for (const [step, form] of [
    ["contact", forms.contact],
    ["address", forms.address],
    ["method", forms.method],
    ["card", forms.card],
  ]) {
    if (!form.checkValidity()) {
      reveal(step);
      form.reportValidity();
      return false;
    }
  }
  return true;
}

function orderBody(quote) {
  const ship = addresses.shipping();
  const bill = addresses.billing();
  const contact = forms.contact.elements;
  return {
    lines: cartLines(),
    guest: state.customer
      ? null
      : {
          name: contact.namedItem("name").value.trim(),
          email: contact.namedItem("email").value.trim(),
        },
    shipping_address: ship.address,
    shipping_address_id: ship.id,
    billing_address: bill.address,
    billing_address_id: bill.id,
    billing_same_as_shipping: billingSame.checked,
    shipping_method: quote.shipping_method,
    discount_code: quote.discount_code ?? null,
    card: readCard(forms.card),
    expected_total: { cents: quote.total.cents, currency: quote.total.currency },
  };
}

const NO_ANSWER =
  "We did not get an answer from the shop, so your order may or may not be placed. " +
  "Press Place order again: the same order is never placed twice.";
const REUSED =
  "These details differ from an earlier attempt that got no answer; that one may have " +
  "reached us. If a confirmation mail arrived, your order is placed. Otherwise press " +
  "Place order again.";

onSubmit(forms.place, async () => {
  clearAllErrors();
  await state.quoting.catch(() => null);
  if (!state.quote || !stepsComplete()) return;
  const outcome = await placeOrder(orderBody(state.quote));
  if (outcome.placed) {
    state.leaving = true; // emptying the cart must not re-price it on the way out
    forgetSecrets(forms.card);
    cart.clear();
    window.location.assign("/checkout/done");
    return;
  }
  if (!outcome.answered) {
    const text = outcome.error.code === "idempotency_key_in_flight" ? outcome.error.message : "";
    say(forms.place, text ? `${sentence("", text)} ${NO_ANSWER}` : NO_ANSWER, "error");
    return; // the card stays in its fields: the retry must send the very same order
  }
  forgetSecrets(forms.card);
  explainRefusal(outcome.error);
});

function explainRefusal(error) {
  const again = " Enter the card number and security code again to place the order.";
  if (error.code === "totals_changed" && error.body.quote) {
    showQuote(error.body.quote);
    const total = money(error.body.quote.total);
    say(forms.place, `${sentence("", error.message)} The total is now ${total}.${again}`, "error");
    say(forms.card, "Please enter the card number and security code again.", "info");
    $("#review-totals").scrollIntoView?.({ block: "center" });
  } else if (error.code === "out_of_stock") {
    showShortages(error.body.shortages ?? {}, error.message);
    say(
      forms.place,
      `${sentence("", error.message)} Change the cart, then place the order.`,
      "error",
    );
  } else if (error.code === "idempotency_key_reused") {
    say(forms.place, REUSED, "error");
  } else if (error.signedOut) {
    reveal("contact");
    say(
      forms.place,
      "Your sign-in ended before the order was placed. Sign in again, or go on as a guest.",
      "error",
    );
  } else if (error.fields.length) {
    showFieldErrors(error.fields, forms.place);
  } else {
    say(forms.place, sentence("", error.message) + again, "error");
  }
}

// ---------------------------------------------------------------- start

async function start() {
  if (!cart.count()) {
    showPanel("empty");
    return;
  }
  try {
    state.countries = await send("GET", "/api/v1/checkout/countries", { auth: false });
  } catch (error) {
    showPanel("none");
    pageMessage.textContent = sentence("", error.message);
    return;
  }
  state.countryName = countryNamer(state.countries);
  fillCountries(page, state.countries);
  await loadCustomer();
  showPanel("checkout");
  if (attemptPending()) {
    pageMessage.textContent =
      "An earlier attempt to place this order got no answer. Placing it again with the " +
      "same details never places it twice.";
  }
  await refresh();
}

cart.onChange(() => refresh());
start();
