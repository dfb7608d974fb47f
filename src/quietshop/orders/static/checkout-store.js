// What the order screens keep in this tab's sessionStorage, and nothing else: the
// Idempotency-Key of the order being placed, the shop's answer to it (for the
// confirmation page), and a guest's order-link token. All of it goes when the tab closes.
// No card number or security code is ever kept here, nor anywhere but a request body.

const ATTEMPT_KEY = "quietshop.checkout.attempt";
const PLACED_KEY = "quietshop.checkout.placed";
const ORDER_LINK_KEY = "quietshop.order-link";

function read(name) {
  try {
    return sessionStorage.getItem(name);
  } catch {
    return null; // storage turned off: the page still works, without a retry key
  }
}

function write(name, value) {
  try {
    sessionStorage.setItem(name, value);
  } catch {
    // storage full or off: nothing to keep, nothing to leak
  }
}

function forget(name) {
  try {
    sessionStorage.removeItem(name);
  } catch {
    // as above
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The Idempotency-Key of one placing attempt. It stays until the shop has answered that
 * attempt, so a retry after a lost connection (or a reload) sends the same key and the
 * shop replays its first answer instead of placing the order twice.
 */
export const attempt = {
  key() {
    let key = read(ATTEMPT_KEY);
    if (!key || !/^[\x21-\x7e]{1,255}$/.test(key)) {
      key = newKey();
      write(ATTEMPT_KEY, key);
    }
    return key;
  },
  pending: () => Boolean(read(ATTEMPT_KEY)),
  answered: () => forget(ATTEMPT_KEY),
};

const money = (value) =>
  value && Number.isInteger(value.cents) && typeof value.currency === "string"
    ? { cents: value.cents, currency: value.currency }
    : null;

const text = (value) => (typeof value === "string" ? value.slice(0, 500) : "");

/** The placed order for the confirmation page: only these fields, whatever else came. */
export const placed = {
  save(answer) {
    const payment = answer.payment ?? {};
    const kept = {
      order_number: text(answer.order_number),
      status: text(answer.status),
      total: money(answer.total),
      payment: {
        status: text(payment.status),
        card_label: text(payment.card_label),
        simulated: payment.simulated === true,
        message: text(payment.message),
      },
      next: answer.next === "account" ? "account" : "mail",
    };
    write(PLACED_KEY, JSON.stringify(kept));
  },
  read() {
    try {
      const kept = JSON.parse(read(PLACED_KEY) ?? "null");
      return kept && typeof kept.order_number === "string" && kept.order_number ? kept : null;
    } catch {
      return null;
    }
  },
};

/** A guest's order-link token, kept so that reloading the order page still works. */
export const orderLink = {
  get: () => read(ORDER_LINK_KEY),
  set: (value) => write(ORDER_LINK_KEY, value),
  clear: () => forget(ORDER_LINK_KEY),
};
