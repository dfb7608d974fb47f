// Calls the order screens make that /static/js/api.js `call` cannot: a signed-in token
// that is optional (checkout works for guests and customers alike), an Idempotency-Key
// header, and error answers whose body matters (the shortages of an out-of-stock answer,
// the new quote of a totals-changed one). Same rules as api.js: no cookie, no redirect,
// the token only in the Authorization header, never in a URL.

import { ApiError, SIGN_IN_REQUIRED, token } from "/static/js/api.js";

/**
 * Send `body` as JSON to `path`; the answer's JSON comes back, or an ApiError with the
 * answer's body as `error.body`. `auth`: "optional" sends this tab's token when there is
 * one, false never (a guest's mailed-link calls). A 401 to a call that carried the token
 * means the sign-in ended: the token is dropped and SIGN_IN_REQUIRED is sent, as api.js does.
 */
export async function send(method, path, { body, auth = "optional", idempotencyKey } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const bearer = auth ? token.get() : null;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.ok) return data;
  if (bearer && response.status === 401) {
    token.clear();
    const message = typeof data?.detail === "string" ? data.detail : "Please sign in.";
    window.dispatchEvent(new CustomEvent(SIGN_IN_REQUIRED, { detail: { message } }));
  }
  const error = new ApiError(response.status, data, response.headers.get("retry-after"));
  error.body = data ?? {};
  error.retryAfter = Number(response.headers.get("retry-after")) || 0;
  error.signedOut = Boolean(bearer && response.status === 401);
  throw error;
}
