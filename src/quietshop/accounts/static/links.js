// The pages a mailed link opens: confirm an address, confirm a new address, reset a password.
//
// The link's one-time token is read from the address bar and removed from it at once
// (history.replaceState), so it stays out of the history, bookmarks and any later Referer;
// the server never writes it into the page.

import { call } from "/static/js/api.js";
import { onSubmit, say, sentence } from "/static/js/forms.js";

const page = document.querySelector("[data-link-page]");
const status = document.querySelector("[data-link-status]");
const next = document.querySelector("[data-link-next]");

const linkToken = new URLSearchParams(window.location.search).get("token");
if (window.location.search) {
  window.history.replaceState(null, "", window.location.pathname);
}

const MISSING = "This link is incomplete. Please open it again from the message we sent you.";

async function redeem(path) {
  if (!linkToken) {
    status.textContent = MISSING;
    return;
  }
  try {
    const answer = await call("POST", path, { body: { token: linkToken }, auth: false });
    status.textContent = answer.message;
    next.hidden = false;
  } catch (error) {
    const message = error.fields.length ? error.fields[0].message : error.message;
    status.textContent = sentence("", message);
  }
}

function reset() {
  if (!linkToken) {
    const form = page.querySelector("[data-reset-request-form]");
    onSubmit(form, async ({ email }) => {
      const body = { email };
      const answer = await call("POST", "/api/v1/auth/password-reset", { body, auth: false });
      say(form, answer.message, "success");
    });
    return;
  }
  page.querySelector("[data-reset-request]").hidden = true;
  const section = page.querySelector("[data-reset-confirm]");
  const form = section.querySelector("form");
  section.hidden = false;
  onSubmit(
    form,
    async ({ new_password }) => {
      const body = { token: linkToken, new_password };
      const answer = await call("POST", "/api/v1/auth/password-reset/confirm", {
        body,
        auth: false,
      });
      section.hidden = true;
      status.textContent = answer.message;
      next.hidden = false;
    },
    { aliases: { password: "new_password" } }, // the password policy names its field "password"
  );
}

switch (page.dataset.linkPage) {
  case "verify":
    redeem("/api/v1/auth/verify-email");
    break;
  case "confirm-email":
    redeem("/api/v1/auth/email-change/confirm");
    break;
  case "reset":
    reset();
    break;
}
