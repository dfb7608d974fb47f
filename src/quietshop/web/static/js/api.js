// The one road from every signed-in screen (account, later checkout, staff) to the JSON API.
//
// The sign-in token lives in sessionStorage: it goes when the tab closes, and never into
// localStorage, a cookie or a URL (promise P1). Every call sends it as a Bearer header.
// When the API answers 401 to a signed-in call, the token is dropped and a
// SIGN_IN_REQUIRED event tells the page to show its sign-in form in place.

const TOKEN_KEY = "quietshop.token";
export const SIGN_IN_REQUIRED = "quietshop:sign-in-required";

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

const STATUS_MESSAGES = {
  0: "We could not reach the shop. Check your connection and try again.",
  401: "Please sign in.",
  404: "We could not find that; it may have been removed already.",
  429: "Too many attempts. Please wait a little and try again.",
};

/** An answer other than 2xx. `fields` holds the API's [{field, message}] list for a 400. */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const detail = body?.detail;
    let message = STATUS_MESSAGES[status] ?? "Something went wrong on our side. Please try again.";
    if (typeof detail === "string" && status !== 429) message = detail;
    if (status === 429 && retryAfter) {
      message = `Too many attempts. Please try again in ${retryAfter} seconds.`;
    }
    super(message);
    this.status = status;
    this.code = body?.error ?? "http_error";
    this.fields = Array.isArray(detail) ? detail : [];
  }
}

function signInRequired(message) {
  token.clear();
  window.dispatchEvent(new CustomEvent(SIGN_IN_REQUIRED, { detail: { message } }));
  const error = new ApiError(401, { error: "unauthorized", detail: message });
  error.signInShown = true; // the page's sign-in form is up: callers need not say more
  return error;
}

/**
 * Call the API: `body` goes as JSON; the answer's JSON comes back (null for 204), or the
 * Response itself with `raw: true` (downloads). `auth: false` for the sign-in, register
 * and mailed-link calls, whose 401 means a wrong password, not an ended sign-in.
 */
export async function call(method, path, { body, auth = true, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const value = token.get();
    if (!value) throw signInRequired(STATUS_MESSAGES[401]);
    headers.Authorization = `Bearer ${value}`;
  }
  let response;
  try {
    response = await fetch(path, {
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
  if (response.ok) {
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }
  const data = await response.json().catch(() => null);
  if (auth && response.status === 401) {
    const message = typeof data?.detail === "string" ? data.detail : STATUS_MESSAGES[401];
    throw signInRequired(message);
  }
  throw new ApiError(response.status, data, response.headers.get("retry-after"));
}

/** Sign in and keep the token in this tab; throws ApiError (401 for a wrong password). */
export async function signIn(email, password) {
  const answer = await call("POST", "/api/v1/auth/sign-in", {
    body: { email, password },
    auth: false,
  });
  token.set(answer.token);
  return answer;
}

/**
 * Forget the token in this tab, and end that sign-in (or every sign-in of the account) on
 * the server. True when the server confirmed it; the tab forgets the token either way.
 */
export async function signOut({ everywhere = false } = {}) {
  const value = token.get();
  token.clear();
  if (!value) return true;
  const path = everywhere ? "/api/v1/auth/sign-out-everywhere" : "/api/v1/auth/sign-out";
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { Authorization: `Bearer ${value}` },
      credentials: "omit",
      cache: "no-store",
    });
    return response.ok;
  } catch {
    return false;
  }
}
