// Registration: one form, then "check your mail". The answer is the same whether or not
// the address already had an account (its owner gets a mail instead), so it shows no
// customer number: that comes in the confirmation mail and on the account page.

import { call } from "/static/js/api.js";
import { onSubmit } from "/static/js/forms.js";

const form = document.querySelector("[data-register-form]");
const done = document.querySelector("[data-registered-panel]");

onSubmit(form, async (fields) => {
  const answer = await call("POST", "/api/v1/auth/register", { body: fields, auth: false });
  form.reset();
  document.querySelector("[data-register-panel]").hidden = true;
  document.querySelector("[data-registered-message]").textContent = answer.message;
  done.hidden = false;
  done.focus();
});
