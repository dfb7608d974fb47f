// A guest's order, opened from the link in an order mail: /orders/view#token=...
//
// The token is in the URL fragment, which the browser never sends: the server sees it
// only in the body of the calls below, and no access log can keep it. It is taken out of
// the address bar at once (so it stays out of the history and bookmarks) and kept in this
// tab's sessionStorage, so reloading the page still works. No sign-in is involved.

import { send } from "./checkout-api.js";
import { showOrder, wireActions } from "./checkout-order-detail.js";
import { orderLink } from "./checkout-store.js";
import { sentence } from "/static/js/forms.js";

const status = document.querySelector("[data-link-status]");
const root = document.querySelector("[data-order-detail]");
const note = document.querySelector("[data-order-view-note]");

function tokenFromFragment() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const found = fragment.get("token");
  if (window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  return found && /^[\x21-\x7e]{1,1000}$/.test(found) ? found : null;
}

const fresh = tokenFromFragment();
if (fresh) orderLink.set(fresh);
const linkToken = fresh ?? orderLink.get();

const EXPIRED =
  "This link has expired or is not valid. The newest mail about your order has a " +
  "fresh one; or write to us with your order number.";

async function post(path, body = {}) {
  try {
    return await send("POST", `/api/v1/order-link/${path}`, {
      body: { token: linkToken, ...body },
      auth: false,
    });
  } catch (error) {
    if (error.status === 401) {
      orderLink.clear();
      error.message = EXPIRED; // a link, not a sign-in: "please sign in" would mislead
    }
    throw error;
  }
}

const api = {
  reload: () => post("order"),
  cancel: () => post("cancel"),
  availability: (choice) => post("availability", { choice }),
  payment: (card) => post("payment", { card }),
  requestReturn: (lines, reason) => post("return", { lines, reason }),
};

async function open() {
  if (!linkToken) {
    status.textContent = "This link is incomplete. Please open it again from the mail we sent you.";
    return;
  }
  try {
    showOrder(root, await api.reload());
    status.textContent = "";
    note.hidden = false;
    wireActions(root, api);
  } catch (error) {
    status.textContent = sentence("", error.message);
  }
}

// Another mail's link opened in this tab changes only the fragment: the page does not
// load again by itself, so it is made to, with the new token.
window.addEventListener("hashchange", () => {
  const next = tokenFromFragment();
  if (next) {
    orderLink.set(next);
    window.location.reload();
  }
});

open();
