// The owner's pages (#shop-pages; issue 11 item 5): contact, shipping and returns, each a
// title and a plain text (a blank line between paragraphs, "- " starts a list item),
// saved with "Save" and shown on the public page at once.
//
// A save sends the updated_at this screen read. If someone saved the page meanwhile, the
// server refuses with 409 and saves nothing: the text typed here stays in its box, and
// the version saved meanwhile is shown under it, to copy from or to start again from.
// Every value goes in with textContent or an input's value, never as HTML.

import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";

const API = "/api/v1/staff/shop-pages";
// As the need-to-know table grants edit_shop_pages.
const EDITOR_ROLES = ["owner"];
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "value") element.value = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

function say(box, text, kind = "info") {
  box.textContent = text;
  box.dataset.kind = kind;
}

function errorText(error) {
  if (error instanceof ApiError && error.fields.length) {
    return error.fields.map((item) => `${item.field}: ${item.message}`).join(" ");
  }
  return error?.message ?? "Something went wrong.";
}

function stampText(page) {
  return page.updated_at
    ? `Last saved ${dateTime.format(new Date(page.updated_at))}.`
    : "Showing the default text: nobody has saved this page yet.";
}

/** One page's editor: the form, its message, and (after a refused save) the newer text. */
function pageEditor(page, limits) {
  let seen = page.updated_at; // what the next save says it read
  const id = `shop-page-${page.slug}`;
  const title = el("input", { id: `${id}-title`, maxlength: limits.max_title, value: page.title, required: true });
  const body = el("textarea", { id: `${id}-body`, rows: 14, maxlength: limits.max_body, value: page.body, required: true });
  const stamp = el("p", { class: "meta" }, stampText(page));
  const message = el("p", { class: "form-message", role: "status", "aria-live": "polite" });
  const newer = el("div", { class: "desk-part", hidden: true });

  function showNewer(current) {
    const titleLine = el("p", {}, el("strong", {}, "Title: "), current.title);
    const text = el("textarea", { rows: 8, readonly: true, "aria-label": "The text saved meanwhile", value: current.body });
    const take = el("button", {
      type: "button",
      class: "secondary",
      onclick: () => {
        title.value = current.title;
        body.value = current.body;
        seen = current.updated_at;
        stamp.textContent = stampText(current);
        newer.hidden = true;
        say(message, "The saved version is in the editor: make your change again and save.");
      },
    }, "Replace my text with the saved version");
    newer.replaceChildren(el("h3", {}, "The version saved meanwhile"), titleLine, text, take);
    newer.hidden = false;
  }

  const form = el(
    "form",
    { class: "account-form", method: "post", action: "/staff/needs-javascript" },
    el(
      "fieldset",
      { class: "form-body" },
      el("h2", {}, el("a", { href: page.path }, page.path)),
      stamp,
      el("label", { for: title.id }, "Title"),
      title,
      el("label", { for: body.id }, "Text"),
      el("p", { class: "note" }, "Plain text: leave a blank line between paragraphs; start a line with \u201c- \u201d for a list item. No HTML: it is shown as typed."),
      body,
      message,
      el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Save")),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("button[type=submit]", form);
    button.disabled = true;
    say(message, "");
    try {
      const saved = await staffFetch(`${API}/${encodeURIComponent(page.slug)}`, {
        method: "PUT",
        body: { title: title.value, body: body.value, updated_at: seen },
      });
      seen = saved.updated_at;
      title.value = saved.title;
      body.value = saved.body;
      stamp.textContent = stampText(saved);
      newer.hidden = true;
      say(message, "Saved. The public page shows it now.");
    } catch (error) {
      if (error?.signInShown) return;
      say(message, errorText(error), "error");
      if (error instanceof ApiError && error.status === 409) {
        // Nothing was saved and the typed text stays; fetch what was saved meanwhile.
        try {
          const found = await staffFetch(API);
          const current = found.pages.find((item) => item.slug === page.slug);
          if (current) showNewer(current);
        } catch (again) {
          if (!again?.signInShown) say(message, errorText(again), "error");
        }
      }
    } finally {
      button.disabled = false;
    }
  });
  return el("section", { class: "desk-part", "data-shop-page": page.slug }, form, newer);
}

async function load(screen) {
  const message = $("[data-shop-pages-message]", screen);
  const box = $("[data-shop-pages-list]", screen);
  let found;
  try {
    found = await staffFetch(API);
  } catch (error) {
    if (!error?.signInShown) say(message, errorText(error), "error");
    return;
  }
  const limits = { max_title: found.max_title, max_body: found.max_body };
  box.replaceChildren(...found.pages.map((page) => pageEditor(page, limits)));
}

function build(screen) {
  screen.replaceChildren(
    el("h1", { id: "shop-pages-heading" }, "Shop pages"),
    el("p", { class: "note" }, "The contact, shipping and returns pages of the shop. What they say is what the shop promises: a saved change is public at once."),
    el("p", { class: "page-message", role: "status", "aria-live": "polite", "data-shop-pages-message": true }),
    el("div", { "data-shop-pages-list": true }),
  );
}

let built = false;

function route() {
  const screen = $("[data-shop-pages-screen]");
  const here = decodeURIComponent(window.location.hash.slice(1)) === "shop-pages";
  screen.hidden = !here;
  $('[data-nav="shop-pages"] a')?.toggleAttribute("aria-current", here);
  if (!here) return;
  // Built once: coming back to the screen keeps any unsaved text in its boxes.
  if (!built) {
    build(screen);
    built = true;
    load(screen);
  }
}

async function start() {
  const me = await ready;
  if (!me || !me.roles.some((role) => EDITOR_ROLES.includes(role))) return;
  const entry = $('[data-nav="shop-pages"]');
  if (entry) entry.hidden = false;
  window.addEventListener("hashchange", route);
  route();
}

start();
