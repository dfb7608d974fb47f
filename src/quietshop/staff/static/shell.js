// The back-office shell: who is signed in (name and roles), "Lock now", "Sign out", and
// the lock screen over the page. The screens the shell holds call staffFetch; this module
// only opens the shell and sends a tab without a live sign-in to the sign-in page.

import { wireLockScreen } from "./lock-screen.js";
import { lockNow, staffFetch, staffSignOut, staffToken } from "./staff-api.js";

const SIGN_IN = "/staff/sign-in";
const ROLE_NAMES = {
  owner: "Owner",
  billing: "Billing",
  customer_service: "Customer service",
  fulfilment: "Fulfilment",
  catalog: "Catalog",
  marketing: "Marketing",
  analyst: "Analyst",
  privacy_officer: "Privacy officer",
};

const toSignIn = () => window.location.replace(SIGN_IN);

async function open() {
  if (!staffToken.get()) return toSignIn();
  let me;
  try {
    me = await staffFetch("/api/v1/staff/me");
  } catch (error) {
    if (error?.signInShown) return toSignIn();
    const message = document.querySelector("[data-page-message]");
    message.textContent = "The back office could not be opened. Please reload the page.";
    return undefined;
  }
  document.querySelector("[data-staff-name]").textContent = me.name;
  document.querySelector("[data-staff-roles]").textContent = me.roles
    .map((role) => ROLE_NAMES[role] ?? role)
    .join(", ");
  document.querySelector("[data-staff-who]").hidden = false;
  document.querySelector('[data-panel="loading"]').hidden = true;
  document.querySelector("[data-staff-content]").hidden = false;
  document.querySelector("[data-lock-now]").addEventListener("click", () => lockNow());
  document.querySelector("[data-sign-out]").addEventListener("click", async () => {
    await staffSignOut();
    toSignIn();
  });
  wireLockScreen({ idleMinutes: me.idle_lock_minutes, onSignedOut: toSignIn, who: me.email });
  return me;
}

// The shell's screens may wait for this: the signed-in staff member (name, roles, ...).
export const ready = open();
