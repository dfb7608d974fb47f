// Enrolment from the one-time link: the token is read from the address's fragment (which
// no browser sends) and removed from the address bar at once, then kept in this module
// only. Step 1 shows the QR code (an SVG drawn by the server, shown as an image, so it
// cannot run anything) and the key to type; step 2 sends the password and a current code.

import { ApiError, call } from "/static/js/api.js";
import { onSubmit } from "/static/js/forms.js";

const panels = {
  loading: document.querySelector('[data-panel="loading"]'),
  enrol: document.querySelector('[data-panel="enrol"]'),
  done: document.querySelector('[data-panel="done"]'),
};
const pageMessage = document.querySelector("[data-page-message]");

function show(name) {
  for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== name;
}

function tokenFromFragment() {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  history.replaceState(null, "", window.location.pathname);
  return token;
}

async function start() {
  const token = tokenFromFragment();
  if (!token) {
    panels.loading.hidden = true;
    pageMessage.textContent =
      "Open the enrolment link from the message the shop's owner gave you: it holds your key.";
    return;
  }
  let started;
  try {
    started = await call("POST", "/api/v1/staff/enrolment", { body: { token }, auth: false });
  } catch (error) {
    panels.loading.hidden = true;
    pageMessage.textContent = error.fields?.[0]?.message ?? error.message;
    return;
  }
  document.querySelector("[data-enrol-name]").textContent = started.name;
  document.querySelector("[data-enrol-secret]").textContent = started.secret;
  const svg = encodeURIComponent(started.qr_svg);
  document.querySelector("[data-enrol-qr]").src = `data:image/svg+xml;charset=utf-8,${svg}`;
  show("enrol");

  const form = document.querySelector("[data-enrol-form]");
  onSubmit(form, async ({ password, password_again: again, code }) => {
    if (password !== again) {
      throw new ApiError(400, {
        error: "invalid_parameter",
        detail: [{ field: "password_again", message: "The two passwords differ." }],
      });
    }
    await call("POST", "/api/v1/staff/enrolment/complete", {
      body: { token, password, code },
      auth: false,
    });
    form.reset();
    show("done");
    panels.done.focus();
  });
}

start();
