// "Add to cart" in place. Without JavaScript each such button is a GET form to /cart
// (?add=SKU&qty=N), whose script adds the line; with it, the line goes into this browser's
// cart here and nothing is sent anywhere. The header's badge follows through onChange.

import { add, CartError, setQuantity } from "/static/orders/cart.js";

function say(form, text) {
  const status = form.querySelector("[data-added]");
  if (!status) return;
  // Emptied first, so saying "Added" twice is announced twice.
  status.textContent = "";
  window.setTimeout(() => {
    status.textContent = text;
  }, 50);
}

function addFrom(form) {
  const sku = form.elements.add.value;
  const qty = Number(form.elements.qty.value || "1");
  const line = add(sku, qty);
  // The page may be a little older than the stock; the cart page checks again anyway.
  const stock = Number(form.dataset.stock);
  if (Number.isInteger(stock) && stock > 0 && line.qty > stock) {
    setQuantity(sku, stock);
    return `Added. We have ${stock}, and your cart now holds all of them.`;
  }
  return line.qty === qty ? "Added to your cart." : `Added: ${line.qty} in your cart.`;
}

for (const form of document.querySelectorAll("form[data-add-to-cart]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      say(form, addFrom(form));
    } catch (error) {
      if (!(error instanceof CartError)) throw error;
      say(form, error.message);
    }
  });
}
