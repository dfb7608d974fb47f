// The address step of the checkout: the countries we ship to, a signed-in customer's
// address book as radio choices ("new address" last), and an address read from its
// fields. Each group is a <fieldset>; a hidden one is also disabled, so the browser
// neither checks nor sends its fields. Text goes in with textContent only.

import { element } from "./checkout-money.js";

export const NEW = "new";

/** Fill every country <select> with the countries we ship to, keeping a choice made. */
export function fillCountries(root, countries) {
  for (const select of root.querySelectorAll("select[data-countries]")) {
    const chosen = select.value;
    const options = countries.map(({ code, name }) => new Option(name, code));
    select.replaceChildren(new Option("Choose…", ""), ...options);
    if (countries.some((c) => c.code === chosen)) select.value = chosen;
  }
}

/** A country's name from the list, or its code. */
export function countryNamer(countries) {
  const names = new Map(countries.map(({ code, name }) => [code, name]));
  return (code) => names.get(code) ?? code;
}

export function showGroup(group, shown) {
  group.hidden = !shown;
  group.disabled = !shown;
}

/**
 * The address book as radios in `book` (a fieldset), one per address, then "a new
 * address". Addresses in a country we do not ship to are shown but cannot be chosen.
 * Returns whether the book has anything to choose.
 */
export function fillBook(book, addresses, { prefix, shipsTo, countryName, onChoose }) {
  const choices = book.querySelector("[data-book-choices]");
  const items = addresses.map((address) => {
    const usable = !shipsTo || shipsTo.has(address.country);
    const text = [address.name, address.line1, address.city, countryName(address.country)]
      .filter(Boolean)
      .join(", ");
    return choice(prefix, `${prefix}-address-${address.id}`, String(address.id), text, usable);
  });
  items.push(choice(prefix, `${prefix}-address-new`, NEW, "A new address", true));
  choices.replaceChildren(...items);
  const first = choices.querySelector("input:not([disabled])");
  if (first) first.checked = true;
  for (const input of choices.querySelectorAll("input")) {
    input.addEventListener("change", () => onChoose(chosen(book)));
  }
  showGroup(book, addresses.length > 0);
  return addresses.length > 0;
}

function choice(prefix, id, value, text, usable) {
  const wrap = element("div", "", "choice");
  const input = element("input");
  // One radio group per book: the shipping and billing books share a form.
  Object.assign(input, { type: "radio", name: `${prefix}_address`, id, value, disabled: !usable });
  const label = element("label", usable ? text : `${text} (we do not ship there)`);
  label.htmlFor = id;
  wrap.append(input, " ", label);
  return wrap;
}

/** The chosen radio's value: an address id (as text), NEW, or null with no book. */
export function chosen(book) {
  if (book.hidden) return null;
  return book.querySelector("input[type='radio']:checked")?.value ?? null;
}

/** The address typed into a group of fields. */
export function readAddress(group) {
  const value = (name) => group.elements.namedItem(name).value.trim();
  return {
    name: value("name"),
    line1: value("line1"),
    line2: value("line2"),
    city: value("city"),
    region: value("region"),
    postcode: value("postcode"),
    country: value("country"),
  };
}

/**
 * The address step: which addresses the order ships and bills to. `groups` holds the
 * fieldsets (shipBook, ship, billBook, bill), the "same as shipping" checkbox and the box
 * around billing; `onChange` runs when the shipping choice changes.
 */
export class AddressStep {
  constructor({ shipBook, ship, billBook, bill, billingSame, billingBox, onChange }) {
    Object.assign(this, { shipBook, ship, billBook, bill, billingSame, billingBox, onChange });
    this.book = []; // the signed-in customer's addresses
    billingSame.addEventListener("change", () => this.showBilling());
  }

  forGuest() {
    this.book = [];
    showGroup(this.shipBook, false);
    showGroup(this.billBook, false);
    this.show();
  }

  forCustomer(addresses, { shipsTo, countryName }) {
    this.book = addresses;
    const onChoose = () => {
      this.show();
      this.onChange();
    };
    const common = { countryName, onChoose };
    const kind = (wanted) => addresses.filter((a) => a.kind === wanted);
    fillBook(this.shipBook, kind("shipping"), { ...common, prefix: "ship", shipsTo });
    fillBook(this.billBook, kind("billing"), { ...common, prefix: "bill" });
    this.show();
  }

  // The typed-address fields show only where "a new address" is chosen (or there is no book).
  show() {
    const ship = chosen(this.shipBook);
    showGroup(this.ship, ship === null || ship === NEW);
    this.showBilling();
  }

  showBilling() {
    const separate = !this.billingSame.checked;
    this.billingBox.hidden = !separate;
    // The book holds "a new address" after the customer's own: more than one is a choice.
    const hasBook = this.book.length > 0 && this.billBook.querySelectorAll("input").length > 1;
    showGroup(this.billBook, separate && hasBook);
    const bill = chosen(this.billBook);
    showGroup(this.bill, separate && (bill === null || bill === NEW));
  }

  /** {id, address}: a book address by its id, or the typed one. */
  shipping() {
    return choiceIn(this.shipBook, this.ship);
  }

  /** As shipping(); both null when billing is the shipping address. */
  billing() {
    if (this.billingSame.checked) return { id: null, address: null };
    return choiceIn(this.billBook, this.bill);
  }

  /** The shipping address itself (from the book or typed), for the review and the quote. */
  shippingAddress() {
    return this.resolve(this.shipping());
  }

  billingAddress() {
    return this.billingSame.checked ? this.shippingAddress() : this.resolve(this.billing());
  }

  resolve({ id, address }) {
    return id === null ? address : (this.book.find((a) => a.id === id) ?? null);
  }
}

function choiceIn(book, fields) {
  const choice = chosen(book);
  if (choice !== null && choice !== NEW) return { id: Number(choice), address: null };
  return { id: null, address: readAddress(fields) };
}
