// The lock screen (P7, PCI DSS 8.2.8): an opaque overlay over the back office that asks
// for the password only. It comes up when any call answers 401 "locked", when "Lock now"
// is pressed, and after idle_lock_minutes without input or calls (the server locks the
// session by then too). The page under it is never re-rendered: it is only made inert
// while covered, so everything on it, unsaved input included, is there after unlocking,
// and the calls that were waiting go on.

import { clearErrors, enable, say, showError } from "/static/js/forms.js";
import {
  ACTIVITY_EVENT,
  LOCKED_EVENT,
  SIGNED_OUT_EVENT,
  UNLOCKED_EVENT,
  isLocked,
  lockNow,
  staffSignOut,
  unlock,
} from "./staff-api.js";

const INPUT_EVENTS = ["pointerdown", "keydown", "wheel", "touchstart"];
const CHECK_EVERY_MS = 5000;

/**
 * Wire the lock screen of this page. `idleMinutes` comes from the API (sign-in or
 * /api/v1/staff/me); `onSignedOut` runs when the person signs out from the lock screen.
 */
export function wireLockScreen({ idleMinutes, onSignedOut, who = "" }) {
  const overlay = document.querySelector("[data-lock-screen]");
  const page = document.querySelector("[data-staff-page]");
  const form = overlay.querySelector("[data-unlock-form]");
  const password = form.elements.namedItem("password");
  const username = form.querySelector("[data-lock-username]");
  if (username) username.value = who; // for password managers; never sent
  let focusedBefore = null;
  let lastActive = Date.now();

  function cover() {
    if (!overlay.hidden) return;
    focusedBefore = document.activeElement;
    page.inert = true;
    overlay.hidden = false;
    clearErrors(form);
    password.value = "";
    password.focus();
  }

  function uncover() {
    overlay.hidden = true;
    page.inert = false;
    password.value = "";
    if (focusedBefore && document.contains(focusedBefore)) focusedBefore.focus();
    lastActive = Date.now();
  }

  window.addEventListener(LOCKED_EVENT, cover);
  window.addEventListener(UNLOCKED_EVENT, uncover);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) button.disabled = true;
    try {
      await unlock(password.value);
    } catch (error) {
      if (!error?.signInShown) {
        showError(form, error);
        password.value = "";
        password.focus();
      }
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  overlay.querySelector("[data-lock-sign-out]").addEventListener("click", async () => {
    say(form, "Signing out…");
    await staffSignOut();
    onSignedOut();
  });
  enable(form);

  // The idle timer: any input or answered call counts as use.
  const touch = () => {
    if (!isLocked()) lastActive = Date.now();
  };
  for (const name of INPUT_EVENTS) window.addEventListener(name, touch, { passive: true });
  window.addEventListener(ACTIVITY_EVENT, touch);
  window.addEventListener(SIGNED_OUT_EVENT, () => onSignedOut());
  const limitMs = idleMinutes * 60 * 1000;
  setInterval(() => {
    if (!isLocked() && Date.now() - lastActive >= limitMs) lockNow();
  }, Math.min(CHECK_EVERY_MS, limitMs));
}
