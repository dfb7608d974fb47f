// A product question or a quote request: POST /api/v1/information-requests. It asks only
// what an answer needs; the quantity is asked (and sent) for a quote only. With
// ?product=SKU the page names the product (the server wrote the SKU; its name comes from
// the public price lookup, when it is a variant's SKU). Text goes in with textContent only.

import { lookUpPrices } from "./cart-prices.js";
import { send } from "./checkout-api.js";
import { onSubmit } from "/static/js/forms.js";

const page = document.querySelector("[data-ask-page]");
const $ = (selector) => page.querySelector(selector);
const form = $("[data-ask-form]");
const product = $("[data-ask-product]");
const quantity = $("[data-ask-quantity]");
const sku = product?.dataset.askProduct ?? null;

function showKind() {
  const quote = form.elements.namedItem("kind").value === "quote";
  quantity.hidden = !quote;
  quantity.disabled = !quote;
  $("[data-question-label]").textContent = quote ? "What should the quote cover?" : "Your question";
}

for (const radio of form.querySelectorAll("input[name='kind']")) {
  radio.addEventListener("change", showKind);
}

async function nameProduct() {
  if (!sku) return;
  try {
    const variant = (await lookUpPrices([sku])).variants.get(sku);
    if (variant) {
      $("[data-ask-product-name]").textContent = variant.label
        ? `${variant.name} (${variant.label})`
        : variant.name;
    }
  } catch {
    // the SKU alone says which product it is about
  }
}

onSubmit(form, async ({ kind, name, email, question, quantity: typed }) => {
  const body = {
    kind,
    product_sku: sku,
    name,
    email,
    question,
    quantity: kind === "quote" ? Number(typed) : null,
  };
  const answer = await send("POST", "/api/v1/information-requests", { body, auth: false });
  form.reset();
  $("[data-ask-panel]").hidden = true;
  const done = $("[data-asked-panel]");
  $("[data-asked-message]").textContent = answer?.message ?? "We have your question.";
  done.hidden = false;
  done.focus();
});

showKind();
nameProduct();
