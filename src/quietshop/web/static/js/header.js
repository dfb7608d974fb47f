// The header says when this tab is signed in and how much is in the cart. Pages are the
// same for everyone (and cached whole), so the server cannot say either; the browser
// knows, from the token in sessionStorage and the cart in localStorage. Nothing here is
// sent anywhere: it only reads this browser's storage and changes the page.

import { token } from "/static/js/api.js";
import { count, onChange } from "/static/orders/cart.js";

const link = document.querySelector("[data-account-link]");
if (link && token.get()) {
  // The page says "Sign in" to everyone; this tab holds a sign-in.
  link.textContent = "My account";
  link.href = "/account";
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

// The phone's menu drawer is a <details>, which opens and closes without this script;
// with it, Escape and a tap outside close it too, as a menu's would.
const menu = document.querySelector("[data-menu]");
if (menu) {
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary")?.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
}
