// The header says when this tab is signed in. Pages are the same for everyone (and cached
// whole), so the server cannot say it; the tab knows, from the token in sessionStorage.

import { token } from "/static/js/api.js";

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
