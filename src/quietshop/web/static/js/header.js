// The header says when this tab is signed in and how much is in the cart. Pages are the
// same for everyone (and cached whole), so the server cannot say either; the browser
// knows, from the token in sessionStorage and the cart in localStorage.

import { token } from "/static/js/api.js";
import { count, onChange } from "/static/orders/cart.js";

const link = document.querySelector("[data-account-link]");
if (link && token.get()) {
  link.textContent = "My account";
  const badge = document.createElement("span");
  badge.className = "signed-in-badge";
  badge.textContent = "signed in";
  link.append(" ", badge);
  link.setAttribute("aria-label", "My account (signed in)");
  link.dataset.signedIn = "true";
}

const cartLink = document.querySelector("[data-cart-link]");
const cartCount = document.querySelector("[data-cart-count]");

function showCartCount() {
  const items = count();
  cartCount.textContent = String(items);
  cartCount.hidden = items === 0;
  const what = items === 0 ? "empty" : `${items} item${items === 1 ? "" : "s"}`;
  cartLink.setAttribute("aria-label", `Cart, ${what}`);
  cartLink.dataset.count = String(items);
}

if (cartLink && cartCount) {
  showCartCount();
  onChange(showCartCount); // this tab's changes and other tabs' (the storage event)
}
