// Form helpers for every signed-in screen: read a form, and show the API's errors next to the
// fields they name (aria-invalid and the field's error slot) and in the form's live region.
// Text goes in with textContent only.

import { ApiError, signIn } from "./api.js";

/** The form's fields as an object: trimmed text (passwords as typed), checkboxes as booleans. */
export function values(form) {
  const data = {};
  for (const element of form.elements) {
    if (!element.name || element.tagName === "BUTTON" || element.tagName === "FIELDSET") continue;
    if (element.type === "checkbox") data[element.name] = element.checked;
    else if (element.type === "radio") {
      if (element.checked) data[element.name] = element.value;
    } else data[element.name] = element.type === "password" ? element.value : element.value.trim();
  }
  return data;
}

/** Put `text` in the form's live region; `kind` (info, success, error) styles it. */
export function say(form, text, kind = "info") {
  const box = form.querySelector("[data-form-message]");
  box.textContent = text;
  box.dataset.kind = kind;
}

export function clearErrors(form) {
  for (const element of form.querySelectorAll("[aria-invalid]")) {
    element.removeAttribute("aria-invalid");
  }
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  say(form, "");
}

function controls(form, name) {
  const found = form.elements.namedItem(name);
  if (!found) return [];
  return found instanceof RadioNodeList ? [...found] : [found];
}

// A field's name as its label shows it, without "(optional)"; a radio group's is its legend.
function labelOf(control) {
  const label =
    control.type === "radio"
      ? control.closest("fieldset")?.querySelector("legend")
      : control.labels?.[0];
  return label?.firstChild?.textContent.trim() ?? "";
}

// The API's messages are sometimes sentences ("Use at least 12 characters.") and sometimes
// predicates ("is required"): a predicate gets the field's label in front.
export function sentence(label, message) {
  let text = String(message).trim();
  if (label && /^(is|must|should)\b/.test(text)) text = `${label} ${text}`;
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/**
 * Show an error from `call`: each {field, message} beside its field (`aliases` maps an API
 * field name to the form's, e.g. {password: "new_password"}), all of them in the live region.
 */
export function showError(form, error, aliases = {}) {
  clearErrors(form);
  if (!(error instanceof ApiError)) {
    say(form, "Something went wrong in this page. Please reload it and try again.", "error");
    throw error; // a bug: let the console have it
  }
  if (!error.fields.length) {
    say(form, sentence("", error.message), "error");
    return;
  }
  const texts = [];
  let first = null;
  for (const { field, message } of error.fields) {
    const found = controls(form, aliases[field] ?? field);
    const text = sentence(found.length ? labelOf(found[0]) : "", message);
    texts.push(text);
    if (!found.length) continue;
    for (const control of found) control.setAttribute("aria-invalid", "true");
    const slot = form.querySelector(`[data-error-for="${CSS.escape(found[0].name)}"]`);
    if (slot) slot.textContent = text;
    first ??= found[0];
  }
  say(form, texts.join(" "), "error");
  first?.focus();
}

/**
 * Let the form be used. Forms arrive with their fields in a disabled fieldset and a POST
 * to a page that says JavaScript is needed: without the script (or before it runs) a form
 * cannot be sent at all, so a password never ends up in a URL.
 */
export function enable(form) {
  for (const fieldset of form.querySelectorAll("fieldset[data-needs-script]")) {
    fieldset.disabled = false;
  }
}

/**
 * Run `action(values)` when the form is submitted, its buttons disabled meanwhile; an error
 * is shown in the form, except a lost sign-in, which the page's sign-in form handles.
 * The form is enabled only once its handler is in place.
 */
export function onSubmit(form, action, { aliases = {} } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await action(values(form));
    } catch (error) {
      if (!error?.signInShown) showError(form, error, aliases);
    } finally {
      for (const button of buttons) button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  enable(form);
}

/** The sign-in form: on success the token is kept in this tab and `then(answer)` runs. */
export function wireSignInForm(form, then) {
  onSubmit(form, async ({ email, password }) => {
    const answer = await signIn(email, password);
    form.reset();
    await then(answer);
  });
}

/** A customer number in groups of four, as on paper: "4821 0937 56". */
export function groupedNumber(number) {
  return number.replace(/(\d{4})(?=\d)/g, "$1 ");
}
