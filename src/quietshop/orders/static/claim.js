// A guest chooses a password from the link in the order mail: /account/claim#token=...
//
// The one-time token belongs in the URL fragment, which the browser never sends (a link
// with ?token= works too, as the account's mailed links do). It is taken out of the
// address bar at once (history, bookmarks) and posted in a body with the new password.
// If the shop signs the new account in, the sign-in goes where api.js keeps it.

import { token } from "/static/js/api.js";
import { send } from "./checkout-api.js";
import { onSubmit, say } from "/static/js/forms.js";

const status = document.querySelector("[data-link-status]");
const form = document.querySelector("[data-claim-form]");
const done = document.querySelector("[data-claimed-panel]");

const fragment = new URLSearchParams(window.location.hash.slice(1));
const claimToken =
  fragment.get("token") ?? new URLSearchParams(window.location.search).get("token");
if (window.location.hash || window.location.search) {
  window.history.replaceState(null, "", window.location.pathname);
}

// A new link opened in this tab changes only the fragment: load the page again for it.
window.addEventListener("hashchange", () => window.location.reload());

const EXPIRED =
  "This link has expired, was used already, or is not complete. You can still see your " +
  "order from the link in the mail, or write to us.";

if (!claimToken) {
  status.textContent = EXPIRED;
  document.querySelector("[data-claim-panel]").hidden = true;
} else {
  onSubmit(form, async ({ password }) => {
    let answer;
    try {
      answer = await send("POST", "/api/v1/auth/claim-guest", {
        body: { token: claimToken, password },
        auth: false,
      });
    } catch (error) {
      if (error.status === 401 || error.status === 404) error.message = EXPIRED;
      throw error;
    }
    form.reset();
    document.querySelector("[data-claim-panel]").hidden = true;
    const signedIn = typeof answer?.token === "string" && answer.token.length > 0;
    if (signedIn) token.set(answer.token);
    document.querySelector("[data-claimed-message]").textContent =
      answer?.message ||
      (signedIn
        ? "Your password is set and you are signed in in this tab."
        : "Your password is set. Sign in with your email address and it.");
    const next = document.querySelector("[data-claimed-next]");
    if (!signedIn) {
      next.href = "/account/sign-in";
      next.textContent = "Sign in";
    }
    done.hidden = false;
    done.focus();
    say(form, "");
  });
}
