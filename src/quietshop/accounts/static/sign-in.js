// The sign-in page: the token is kept in this tab, then the account screen opens.

import { wireSignInForm } from "/static/js/forms.js";

wireSignInForm(document.querySelector("[data-sign-in-form]"), () => {
  window.location.assign("/account");
});
