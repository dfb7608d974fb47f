// The staff sign-in page: the password and a second factor every time, the app's code or
// a passkey ("Use a passkey" instead of the code); the token is kept in this tab, then the
// back office opens.

import { ApiError } from "/static/js/api.js";
import { clearErrors, onSubmit, say, showError, values } from "/static/js/forms.js";
import { passkeysSupported, signInWithPasskey } from "./passkeys.js";
import { staffSignIn } from "./staff-api.js";

const form = document.querySelector("[data-staff-sign-in]");
const usePasskey = form.querySelector("[data-use-passkey]");

const signedIn = () => {
  form.reset();
  window.location.assign("/staff");
};

onSubmit(form, async ({ email, password, code }) => {
  await staffSignIn(email, password, code);
  signedIn();
});

// The password is asked with a passkey too; the code is not.
function missing({ email, password }) {
  const fields = [];
  if (!email) fields.push({ field: "email", message: "Give your email address." });
  if (!password) fields.push({ field: "password", message: "Give your password." });
  return fields.length ? new ApiError(400, { error: "invalid_parameter", detail: fields }) : null;
}

if (passkeysSupported()) {
  usePasskey.hidden = false;
  usePasskey.addEventListener("click", async () => {
    clearErrors(form);
    const typed = values(form);
    const error = missing(typed);
    if (error) return showError(form, error);
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) button.disabled = true;
    form.setAttribute("aria-busy", "true");
    say(form, "Follow your device's prompt to use your passkey…");
    try {
      await signInWithPasskey(typed.email, typed.password);
      signedIn();
    } catch (failure) {
      showError(form, failure);
    } finally {
      for (const button of buttons) button.disabled = false;
      form.removeAttribute("aria-busy");
    }
    return undefined;
  });
}
