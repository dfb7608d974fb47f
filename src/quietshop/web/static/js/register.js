// Registration: one form, then the new customer number, shown large, and a way to sign in.

import { call } from "./api.js";
import { groupedNumber, onSubmit } from "./forms.js";

const form = document.querySelector("[data-register-form]");
const done = document.querySelector("[data-registered-panel]");

onSubmit(form, async (fields) => {
  const answer = await call("POST", "/api/v1/auth/register", { body: fields, auth: false });
  form.reset();
  document.querySelector("[data-register-panel]").hidden = true;
  document.querySelector("[data-registered-message]").textContent = answer.message;
  done.querySelector("[data-customer-number]").textContent = groupedNumber(answer.customer_number);
  done.hidden = false;
  done.focus();
});
