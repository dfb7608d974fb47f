// The one road from every back-office screen to the JSON API: staffFetch(path, options).
//
// The staff token lives in sessionStorage under its own key: it goes when the tab closes,
// and never into localStorage, a cookie or a URL (P1). Every call sends it as a Bearer
// header. What the API's 401s mean here:
//   "locked"      the session is locked: the lock screen comes up (LOCKED_EVENT) and the
//                 call waits; once the password unlocks the session, the same call is
//                 made again and its answer returned, so the screen that asked goes on as
//                 if nothing had happened (its page and unsaved input untouched);
//   anything else the sign-in has ended: the token is dropped and SIGNED_OUT_EVENT fires
//                 (the shell opens the sign-in page).

import { ApiError } from "/static/js/api.js";

const TOKEN_KEY = "quietshop.staff.token";
export const LOCKED_EVENT = "quietshop:staff-locked";
export const UNLOCKED_EVENT = "quietshop:staff-unlocked";
export const SIGNED_OUT_EVENT = "quietshop:staff-signed-out";
// Fired on every answered call: the idle timer counts from the last one.
export const ACTIVITY_EVENT = "quietshop:staff-activity";

export const staffToken = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export { ApiError };

let unlocked = null; // while the lock screen is up: a promise settled by the unlock
let settleUnlocked = null;

/** Whether the lock screen is up. */
export const isLocked = () => unlocked !== null;

/** Bring the lock screen up (once) and get a promise that settles when it is unlocked. */
export function waitForUnlock() {
  if (!unlocked) {
    unlocked = new Promise((resolve) => {
      settleUnlocked = resolve;
    });
    window.dispatchEvent(new CustomEvent(LOCKED_EVENT));
  }
  return unlocked;
}

function markUnlocked() {
  const settle = settleUnlocked;
  unlocked = null;
  settleUnlocked = null;
  window.dispatchEvent(new CustomEvent(UNLOCKED_EVENT));
  settle?.();
}

function signedOut(message) {
  staffToken.clear();
  window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: { message } }));
  const error = new ApiError(401, { error: "signed_out", detail: message });
  error.signInShown = true; // the shell takes the tab to the sign-in page
  return error;
}

async function send(method, path, body, bearer, accept = "application/json") {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", // nothing rides along on its own: no cookie, no HTTP auth
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, null);
  }
}

async function answer(response) {
  if (response.status === 204) return null;
  return response.json();
}

/**
 * Call the staff API with the tab's token: `body` goes as JSON, the answer's JSON comes
 * back (null for 204); any other answer throws ApiError. A locked session waits for the
 * lock screen, then the call is made again. With `file` (a media type, e.g. "text/csv")
 * the answer is not read: the Response comes back, for its blob and headers.
 */
export async function staffFetch(path, { method = "GET", body, file } = {}) {
  for (;;) {
    const bearer = staffToken.get();
    if (!bearer) throw signedOut("Please sign in.");
    const response = await send(method, path, body, bearer, file);
    if (response.ok) {
      window.dispatchEvent(new CustomEvent(ACTIVITY_EVENT));
      return file ? response : answer(response);
    }
    const data = await response.json().catch(() => null);
    if (response.status === 401 && data?.error === "locked") {
      await waitForUnlock();
      continue;
    }
    if (response.status === 401) {
      throw signedOut(typeof data?.detail === "string" ? data.detail : "Please sign in.");
    }
    throw new ApiError(response.status, data, response.headers.get("retry-after"));
  }
}

/** Sign in: the token is kept in this tab. Throws ApiError (401 for any wrong part). */
export async function staffSignIn(email, password, code) {
  const response = await send("POST", "/api/v1/staff/sign-in", { email, password, code });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("retry-after"));
  staffToken.set(data.token);
  return data;
}

/** Unlock with the password; the lock screen goes and waiting calls go on. */
export async function unlock(password) {
  const bearer = staffToken.get();
  if (!bearer) throw signedOut("Please sign in.");
  const response = await send("POST", "/api/v1/staff/unlock", { password }, bearer);
  if (response.ok) {
    markUnlocked();
    window.dispatchEvent(new CustomEvent(ACTIVITY_EVENT));
    return;
  }
  const data = await response.json().catch(() => null);
  const code = data?.error;
  if (response.status === 401 && code !== "unlock_failed" && code !== "account_locked") {
    throw signedOut(typeof data?.detail === "string" ? data.detail : "Please sign in.");
  }
  throw new ApiError(response.status, data, response.headers.get("retry-after"));
}

/** Lock the session now (the "Lock now" button, the idle timer); the lock screen comes up. */
export async function lockNow() {
  const bearer = staffToken.get();
  const waiting = waitForUnlock();
  if (bearer) {
    // The screen is covered either way; the server locks the session too (a 401
    // "locked" means it already was).
    await send("POST", "/api/v1/staff/lock", undefined, bearer).catch(() => null);
  }
  return waiting;
}

/** End the session on the server and forget the token in this tab. */
export async function staffSignOut() {
  const bearer = staffToken.get();
  staffToken.clear();
  if (!bearer) return true;
  const response = await send("POST", "/api/v1/staff/sign-out", undefined, bearer).catch(
    () => null,
  );
  return Boolean(response?.ok);
}
