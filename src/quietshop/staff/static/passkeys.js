// Passkeys (WebAuthn) in the back office: the "Passkeys" screen of the shell (#passkeys:
// list, add with navigator.credentials.create, remove with the password), and signing in
// with one in place of the app's code (sign-in.js uses signInWithPasskey).
//
// The API speaks WebAuthn's JSON form, every byte string as base64url; the browser's
// calls want ArrayBuffers: the conversions are here, both ways. A passkey only works on
// the origin it was made for, so nothing here names another site. Every text goes in with
// textContent.

import { ApiError, call } from "/static/js/api.js";
import { onSubmit, say } from "/static/js/forms.js";
import { staffFetch, staffToken } from "./staff-api.js";

const API = "/api/v1/staff/passkeys";
const SIGN_IN = "/api/v1/staff/sign-in";
const SIGN_IN_OPTIONS = "/api/v1/staff/sign-in/passkey-options";

/** Whether this browser can make and use passkeys at all (it needs a secure context). */
export const passkeysSupported = () =>
  window.isSecureContext && "PublicKeyCredential" in window && Boolean(navigator.credentials);

// ---------------------------------------------------------------- base64url <-> bytes

export function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
  return Uint8Array.from(binary, (character) => character.charCodeAt(0)).buffer;
}

export function toBase64Url(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const descriptors = (list) => (list ?? []).map((item) => ({ ...item, id: fromBase64Url(item.id) }));

// What the browser says when a ceremony does not finish, in the person's words.
const PROMPT_ERRORS = {
  NotAllowedError: "The passkey prompt was closed or timed out. Try again when you are ready.",
  InvalidStateError: "This device holds one of your passkeys already.",
  SecurityError: "Passkeys work only at the shop's own address, over HTTPS.",
  AbortError: "The passkey prompt was closed.",
};

async function ceremony(run) {
  try {
    return await run();
  } catch (error) {
    const message = error instanceof DOMException ? PROMPT_ERRORS[error.name] : undefined;
    if (!message) throw error;
    throw new ApiError(400, { error: "passkey_prompt", detail: message });
  }
}

/** Make a passkey for the server's creation options: its JSON for POST /passkeys. */
export async function createPasskey(options) {
  const publicKey = {
    ...options,
    challenge: fromBase64Url(options.challenge),
    user: { ...options.user, id: fromBase64Url(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  };
  const made = await ceremony(() => navigator.credentials.create({ publicKey }));
  const response = made.response;
  return {
    id: made.id,
    rawId: toBase64Url(made.rawId),
    type: made.type,
    authenticatorAttachment: made.authenticatorAttachment ?? null,
    response: {
      clientDataJSON: toBase64Url(response.clientDataJSON),
      attestationObject: toBase64Url(response.attestationObject),
      transports: response.getTransports?.() ?? [],
    },
  };
}

/** Sign the server's request options with a passkey: the assertion's JSON. */
export async function usePasskey(options) {
  const publicKey = {
    ...options,
    challenge: fromBase64Url(options.challenge),
    allowCredentials: descriptors(options.allowCredentials),
  };
  const used = await ceremony(() => navigator.credentials.get({ publicKey }));
  const response = used.response;
  return {
    id: used.id,
    rawId: toBase64Url(used.rawId),
    type: used.type,
    authenticatorAttachment: used.authenticatorAttachment ?? null,
    response: {
      clientDataJSON: toBase64Url(response.clientDataJSON),
      authenticatorData: toBase64Url(response.authenticatorData),
      signature: toBase64Url(response.signature),
      userHandle: response.userHandle ? toBase64Url(response.userHandle) : null,
    },
  };
}

/** Sign in with the password and a passkey: the token is kept in this tab. Throws
 * ApiError (401 for any wrong part, as with a code). */
export async function signInWithPasskey(email, password) {
  const { challenge_id: challengeId, options } = await call("POST", SIGN_IN_OPTIONS, {
    body: {},
    auth: false,
  });
  const credential = await usePasskey(options);
  const answer = await call("POST", SIGN_IN, {
    body: { email, password, passkey: { challenge_id: challengeId, credential } },
    auth: false,
  });
  staffToken.set(answer.token);
  return answer;
}

// ---------------------------------------------------------------- the shell's screen

const $ = (selector) => document.querySelector(selector);
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function passkeyItem(passkey, onRemove) {
  const item = document.createElement("li");
  item.className = "passkey";
  item.dataset.passkeyId = String(passkey.id);
  const name = document.createElement("strong");
  name.textContent = passkey.name;
  const meta = document.createElement("span");
  meta.className = "meta";
  const used = passkey.last_used_at ? when.format(new Date(passkey.last_used_at)) : "never";
  meta.textContent = `Added ${when.format(new Date(passkey.created_at))}; last used: ${used}`;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove ${passkey.name}`);
  remove.addEventListener("click", () => onRemove(passkey));
  item.append(name, " ", meta, " ", remove);
  return item;
}

function wireScreen() {
  const message = $("[data-passkeys-message]");
  const list = $("[data-passkey-list]");
  const addForm = $("[data-passkey-add]");
  const removeForm = $("[data-passkey-remove]");
  let removing = null;

  function closeRemove() {
    removing = null;
    removeForm.reset();
    removeForm.hidden = true;
  }

  function openRemove(passkey) {
    removing = passkey;
    $("[data-passkey-remove-name]").textContent = passkey.name;
    removeForm.hidden = false;
    removeForm.elements.namedItem("password").focus();
  }

  async function refresh() {
    const { passkeys } = await staffFetch(API);
    list.replaceChildren(...passkeys.map((passkey) => passkeyItem(passkey, openRemove)));
    $("[data-passkeys-empty]").hidden = passkeys.length > 0;
  }

  if (!passkeysSupported()) {
    addForm.hidden = true;
    message.textContent = "This browser cannot make passkeys here; the app's codes still work.";
  }
  onSubmit(addForm, async ({ name }) => {
    const { challenge_id: challengeId, options } = await staffFetch(`${API}/options`, {
      method: "POST",
      body: {},
    });
    const credential = await createPasskey(options);
    const added = await staffFetch(API, {
      method: "POST",
      body: { challenge_id: challengeId, credential, name },
    });
    await refresh();
    say(addForm, `The passkey “${added.name}” was added.`, "success");
  });
  onSubmit(removeForm, async ({ password }) => {
    const gone = removing;
    await staffFetch(`${API}/${gone.id}`, { method: "DELETE", body: { password } });
    closeRemove();
    await refresh();
    message.textContent = `The passkey “${gone.name}” was removed.`;
  });
  $("[data-passkey-remove-cancel]").addEventListener("click", closeRemove);
  return refresh;
}

function route(refresh) {
  const here = window.location.hash === "#passkeys";
  $("[data-passkeys-screen]").hidden = !here;
  $('[data-nav="passkeys"] a')?.toggleAttribute("aria-current", here);
  if (here) {
    refresh().catch((error) => {
      if (!error?.signInShown) $("[data-passkeys-message]").textContent = error.message;
    });
  }
}

// On the back-office shell only: the sign-in page imports the functions above and has no
// such screen (and must not open the shell, which sends a tab without a sign-in away).
if ($("[data-passkeys-screen]")) {
  const { ready } = await import("./shell.js");
  if (await ready) {
    const refresh = wireScreen();
    $('[data-nav="passkeys"]').hidden = false;
    window.addEventListener("hashchange", () => route(refresh));
    route(refresh);
  }
}
