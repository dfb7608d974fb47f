// The card fields (checkout, and "pay with another card" on an order page).
//
// The card number and security code leave the page only in the body of the request that
// pays, and nowhere else: never in sessionStorage or a URL, and not in the page either
// once the shop has answered (the fields are emptied, also when the page is left, so the
// back button's page cache cannot bring them back).

const SECRET_FIELDS = ["number", "security_code"];

/** The card as the API takes it: {number, exp_month, exp_year, name, security_code}. */
export function readCard(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  return {
    number: value("number"),
    exp_month: wholeNumber(value("exp_month")),
    exp_year: fourDigitYear(value("exp_year")),
    name: value("name_on_card"),
    security_code: value("security_code"),
  };
}

// "07" -> 7; anything that is no whole number goes as typed, for the shop to name.
function wholeNumber(text) {
  return /^\d{1,4}$/.test(text) ? Number(text) : text;
}

function fourDigitYear(text) {
  if (/^\d{2}$/.test(text)) return 2000 + Number(text);
  return wholeNumber(text);
}

/** Empty the number and security code (the expiry and name are no secret). */
export function forgetSecrets(form) {
  for (const name of SECRET_FIELDS) {
    const input = form.elements.namedItem(name);
    input.value = "";
    input.setCustomValidity("");
  }
}

/** Empty the whole card. */
export function forgetCard(form) {
  forgetSecrets(form);
  for (const name of ["exp_month", "exp_year", "name_on_card"]) {
    form.elements.namedItem(name).value = "";
  }
}

/** "Visa ending in 4242" for the review; the last four digits are the masked form. */
export function cardHint(form) {
  const digits = form.elements.namedItem("number").value.replace(/\D/g, "");
  return digits.length >= 12 ? `Card ending in ${digits.slice(-4)}` : "";
}

/** The API names card fields its own way; these are the form's names for them. */
export const CARD_ALIASES = {
  card_number: "number",
  number: "number",
  expiry: "exp_month",
  exp_month: "exp_month",
  exp_year: "exp_month",
  name_on_card: "name_on_card",
  security_code: "security_code",
  cvc: "security_code",
};

/** Whatever happens, the secrets do not outlive the page. */
export function forgetOnLeave(form) {
  window.addEventListener("pagehide", () => forgetSecrets(form));
}

// The shapes the browser can check before anything is sent, each with a plain message
// (the shop checks everything again: the number's digits, the brand, the expiry date).
const SHAPES = {
  number: [/^[0-9][0-9 -]{10,}[0-9]$/, "Enter the card number: 12 to 19 digits."],
  exp_month: [/^(0?[1-9]|1[0-2])$/, "Enter the month as 01 to 12."],
  exp_year: [/^([0-9]{2}|20[0-9]{2})$/, "Enter the year as two digits, like 29."],
  security_code: [/^[0-9]{3,4}$/, "Enter the 3 or 4 digits of the security code."],
};

/** Let the browser refuse a card field of the wrong shape, with a message that says why. */
export function checkShapes(form) {
  for (const [name, [shape, message]] of Object.entries(SHAPES)) {
    const input = form.elements.namedItem(name);
    const check = () => {
      const value = input.value.trim();
      input.setCustomValidity(value && !shape.test(value) ? message : "");
    };
    input.addEventListener("input", check);
    input.addEventListener("change", check);
  }
}
