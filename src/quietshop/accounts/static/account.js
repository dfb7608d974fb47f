// The account screen. Everything on it comes from the API with this tab's token; when the
// sign-in is missing or has ended, the sign-in form shows in place, and signing in reloads
// the screen. Data goes into the page with textContent only.

import { call, SIGN_IN_REQUIRED, signOut, token } from "/static/js/api.js";
import {
  clearErrors,
  enable,
  groupedNumber,
  onSubmit,
  say,
  wireSignInForm,
} from "/static/js/forms.js";

const $ = (selector) => document.querySelector(selector);
const panels = [...document.querySelectorAll("[data-panel]")];
const pageMessage = $("[data-page-message]");
const signInForm = $("[data-sign-in-form]");
const profileForm = $("[data-profile-form]");
const emailForm = $("[data-email-form]");
const mailingForm = $("[data-mailing-form]");
const passwordForm = $("[data-password-form]");
const addressForm = $("[data-address-form]");
const closeForm = $("[data-close-form]");

function show(name, message = "") {
  for (const panel of panels) panel.hidden = panel.dataset.panel !== name;
  pageMessage.textContent = message;
}

function showSignIn(pageText = "", formText = "") {
  show("sign-in", pageText);
  clearErrors(signInForm);
  if (formText) say(signInForm, formText.charAt(0).toUpperCase() + formText.slice(1), "error");
  signInForm.elements.email.focus();
}

window.addEventListener(SIGN_IN_REQUIRED, (event) => showSignIn("", event.detail.message));
wireSignInForm(signInForm, () => load());

async function load() {
  if (!token.get()) {
    showSignIn();
    return;
  }
  show("loading");
  try {
    const [profile, addresses, accesses] = await Promise.all([
      call("GET", "/api/v1/account"),
      call("GET", "/api/v1/account/addresses"),
      call("GET", "/api/v1/account/staff-access"),
    ]);
    showProfile(profile);
    book.show(addresses);
    showStaffAccess(accesses);
    show("account");
  } catch (error) {
    if (!error.signInShown) show("none", error.message);
  }
}

// ---------------------------------------------------------------- profile, email, mailings

function showProfile(profile) {
  $("[data-customer-number]").textContent = groupedNumber(profile.customer_number);
  profileForm.elements.name.value = profile.name;
  profileForm.elements.phone.value = profile.phone;
  $("[data-email]").textContent = profile.email;
  const status = $("[data-email-status]");
  status.textContent = profile.email_verified ? "confirmed" : "not confirmed yet";
  status.dataset.kind = profile.email_verified ? "good" : "warn";
  $("[data-verification]").hidden = profile.email_verified;
  mailingForm.elements.opted_in.checked = profile.mailing_opt_in;
  // Double opt-in: ticked, but nothing goes out until the address is confirmed.
  $("[data-mailing-pending]").hidden = !profile.mailing_opt_in || profile.mailing_active;
}

onSubmit(profileForm, async ({ name, phone }) => {
  showProfile(await call("PATCH", "/api/v1/account", { body: { name, phone } }));
  say(profileForm, "Your details are saved.", "success");
});

onSubmit(emailForm, async ({ email }) => {
  const answer = await call("POST", "/api/v1/account/email", { body: { email } });
  emailForm.reset();
  say(emailForm, answer.message, "success");
});

$("[data-resend-verification]").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const message = $("[data-verification-message]");
  button.disabled = true;
  try {
    const answer = await call("POST", "/api/v1/account/verification-mail");
    message.textContent = answer.message;
    message.dataset.kind = "success";
  } catch (error) {
    if (!error.signInShown) {
      message.textContent = error.fields.length ? error.fields[0].message : error.message;
      message.dataset.kind = "error";
    }
  } finally {
    button.disabled = false;
  }
});

const mailingBox = mailingForm.elements.opted_in;
mailingForm.addEventListener("submit", (event) => event.preventDefault()); // a checkbox, saved on change
enable(mailingForm);
mailingBox.addEventListener("change", async () => {
  const wanted = mailingBox.checked;
  mailingBox.disabled = true;
  clearErrors(mailingForm);
  try {
    showProfile(await call("PUT", "/api/v1/account/mailing", { body: { opted_in: wanted } }));
    say(mailingForm, wanted ? "Mailings are on." : "Mailings are off.", "success");
  } catch (error) {
    mailingBox.checked = !wanted;
    if (!error.signInShown) say(mailingForm, error.message, "error");
  } finally {
    mailingBox.disabled = false;
  }
});

// ---------------------------------------------------------------- the address book

const book = {
  addresses: [],
  editing: null, // the id of the address in the form, or null for a new one
  list: $("[data-address-list]"),

  show(addresses) {
    this.addresses = addresses;
    this.list.replaceChildren(...addresses.map((address) => this.item(address)));
    $("[data-no-addresses]").hidden = addresses.length > 0;
  },

  item(address) {
    const item = document.createElement("li");
    item.className = "address-card";
    const kind = document.createElement("p");
    kind.className = "badge";
    kind.textContent = address.kind === "billing" ? "Billing" : "Shipping";
    const lines = document.createElement("p");
    lines.className = "address-lines";
    const country = [...addressForm.elements.country.options].find(
      (option) => option.value === address.country,
    );
    for (const line of [
      address.name,
      address.line1,
      address.line2,
      [address.postcode, address.city].filter(Boolean).join(" "),
      address.region,
      country?.textContent ?? address.country,
    ]) {
      if (!line) continue;
      const span = document.createElement("span");
      span.textContent = line;
      lines.append(span);
    }
    const actions = document.createElement("p");
    actions.className = "actions";
    const edit = button("Edit", `Edit the address ${address.name}, ${address.line1}`);
    edit.addEventListener("click", () => this.edit(address));
    const remove = button("Delete", `Delete the address ${address.name}, ${address.line1}`);
    remove.classList.add("secondary");
    remove.addEventListener("click", () => this.remove(address));
    actions.append(edit, remove);
    item.append(kind, lines, actions);
    return item;
  },

  edit(address) {
    this.editing = address.id;
    clearErrors(addressForm);
    for (const name of ["name", "line1", "line2", "city", "region", "postcode", "country"]) {
      addressForm.elements[name].value = address[name];
    }
    addressForm.elements.kind.value = address.kind;
    this.formMode("Edit the address", "Save this address", false);
    addressForm.elements.name.focus();
  },

  reset() {
    this.editing = null;
    addressForm.reset();
    this.formMode("Add an address", "Add this address", true);
  },

  formMode(heading, submit, adding) {
    $("[data-address-form-heading]").textContent = heading;
    $("[data-address-submit]").textContent = submit;
    $("[data-address-cancel]").hidden = adding;
  },

  async save(fields) {
    if (this.editing === null) {
      const added = await call("POST", "/api/v1/account/addresses", { body: fields });
      this.show([...this.addresses, added]);
    } else {
      const path = `/api/v1/account/addresses/${this.editing}`;
      const saved = await call("PUT", path, { body: fields });
      this.show(this.addresses.map((a) => (a.id === saved.id ? saved : a)));
    }
    this.reset();
    say(addressForm, "The address is saved.", "success");
  },

  async remove(address) {
    if (!window.confirm(`Delete the address ${address.name}, ${address.line1}?`)) return;
    try {
      await call("DELETE", `/api/v1/account/addresses/${address.id}`);
      this.show(this.addresses.filter((a) => a.id !== address.id));
      if (this.editing === address.id) this.reset();
      say(addressForm, "The address is deleted.", "success");
    } catch (error) {
      if (!error.signInShown) say(addressForm, error.message, "error");
    }
  },
};

function button(text, label) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  return element;
}

onSubmit(addressForm, (fields) => book.save(fields));
$("[data-address-cancel]").addEventListener("click", () => {
  book.reset();
  clearErrors(addressForm);
});

// ---------------------------------------------------------------- who at the shop looked

// From the audit chain: when, the role, what and why; the API never says who.
function showStaffAccess(accesses) {
  const rows = accesses.map((access) => {
    const row = document.createElement("tr");
    const time = document.createElement("time");
    time.dateTime = access.at;
    time.textContent = when(access.at);
    const what = `${access.action_label} ${access.data_label}`;
    row.append(
      cell(time),
      cell(access.role_label),
      cell(what.charAt(0).toUpperCase() + what.slice(1)),
      cell(access.purpose || "No reason given"),
    );
    return row;
  });
  $("[data-staff-access-rows]").replaceChildren(...rows);
  $("[data-staff-access]").hidden = rows.length === 0;
  $("[data-no-staff-access]").hidden = rows.length > 0;
}

function cell(content) {
  const element = document.createElement("td");
  element.append(content); // a string is added as text, never as markup
  return element;
}

/** An ISO time as a date and time in the reader's own locale and zone. */
function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeStyle: "short" }).format(date);
}

// ---------------------------------------------------------------- password, data, leaving

onSubmit(
  passwordForm,
  async ({ current_password, new_password }) => {
    await call("POST", "/api/v1/account/password", { body: { current_password, new_password } });
    passwordForm.reset();
    token.clear(); // the change ended every sign-in, this one too
    showSignIn("Your password is changed and every sign-in has ended. Please sign in again.");
  },
  { aliases: { password: "new_password" } }, // the password policy names its field "password"
);

const exportMessage = $("[data-export-message]");
$("[data-export]").addEventListener("click", async (event) => {
  const trigger = event.currentTarget;
  trigger.disabled = true;
  exportMessage.textContent = "Preparing your file…";
  try {
    const response = await call("GET", "/api/v1/account/export", { raw: true });
    const disposition = response.headers.get("content-disposition") ?? "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "quietshop-data.json";
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    exportMessage.textContent = `Your data is saved as ${name}.`;
  } catch (error) {
    exportMessage.textContent = error.signInShown ? "" : error.message;
  } finally {
    trigger.disabled = false;
  }
});

async function leave(everywhere) {
  const confirmed = await signOut({ everywhere });
  if (confirmed) {
    showSignIn(everywhere ? "You are signed out everywhere." : "You are signed out.");
  } else {
    showSignIn(
      "You are signed out in this tab. We could not reach the shop to end the sign-in " +
        "there as well; it ends by itself when unused for a while.",
    );
  }
}
$("[data-sign-out]").addEventListener("click", () => leave(false));
$("[data-sign-out-everywhere]").addEventListener("click", () => leave(true));

onSubmit(closeForm, async ({ password }) => {
  await call("POST", "/api/v1/account/close", { body: { password } });
  token.clear();
  closeForm.reset();
  show("closed");
  $("[data-panel='closed']").focus();
});

load();
