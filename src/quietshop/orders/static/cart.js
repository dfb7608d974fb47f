// The cart, kept in this browser's localStorage and nowhere else until checkout (P1).
//
// It holds SKUs and quantities only: [{sku, qty}]. Names, prices and stock are asked of
// the shop each time they are shown (GET /api/v1/variants), so nothing stored here is
// personal or goes stale. Whatever is found under the key is read with suspicion (another
// script, an old version or a hand edit may have put anything there): entries that are
// not {sku, qty} are dropped, quantities are whole numbers from 1 to MAX_QUANTITY, and
// at most MAX_LINES distinct SKUs are kept.
//
// Every change is announced to onChange callbacks, in this tab at once and in the other
// tabs of this shop through the browser's `storage` event.

export const STORAGE_KEY = "quietshop.cart.v1";
export const MAX_LINES = 100;
export const MAX_QUANTITY = 999;
// As the lookup API takes them: 1 to 40 visible ASCII characters.
const SKU_PATTERN = /^[!-~]{1,40}$/;

/** A change the cart refuses: a SKU that is not one, a full cart, a bad quantity. */
export class CartError extends Error {}

export function isSku(value) {
  return typeof value === "string" && SKU_PATTERN.test(value);
}

// A stored or given quantity as a whole number within 1..MAX_QUANTITY, or null when it is
// no quantity at all (not a number, zero or less). Fractions round down; more than
// MAX_QUANTITY is MAX_QUANTITY.
function quantity(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  const whole = Math.floor(value);
  if (whole < 1) return null;
  return Math.min(whole, MAX_QUANTITY);
}

function clean(raw) {
  if (!Array.isArray(raw)) return [];
  const bySku = new Map();
  for (const entry of raw) {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) continue;
    const qty = quantity(entry.qty);
    if (!isSku(entry.sku) || qty === null) continue;
    if (bySku.has(entry.sku)) {
      bySku.set(entry.sku, Math.min(bySku.get(entry.sku) + qty, MAX_QUANTITY));
    } else if (bySku.size < MAX_LINES) {
      bySku.set(entry.sku, qty);
    }
  }
  return [...bySku].map(([sku, qty]) => ({ sku, qty }));
}

function storage() {
  try {
    return window.localStorage; // reading it throws where site data is blocked
  } catch {
    return null;
  }
}

function read() {
  let text = null;
  try {
    text = storage()?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return [];
  }
  if (text === null) return [];
  try {
    return clean(JSON.parse(text));
  } catch {
    return []; // not JSON: an empty cart (the next change writes a clean one)
  }
}

const listeners = new Set();

function announce() {
  const current = read();
  for (const callback of listeners) {
    try {
      callback(current.map((line) => ({ ...line })));
    } catch (error) {
      console.error(error); // one broken listener must not stop the others
    }
  }
}

function write(next) {
  const store = storage();
  if (!store) throw new CartError("This browser does not let the shop keep a cart.");
  try {
    if (next.length === 0) store.removeItem(STORAGE_KEY);
    else store.setItem(STORAGE_KEY, JSON.stringify(next));
  } catch {
    throw new CartError("This browser has no room left to keep the cart.");
  }
  announce();
}

function checkSku(sku) {
  if (!isSku(sku)) throw new CartError("That is not a product code we use.");
}

function checkQuantity(qty) {
  const value = quantity(qty);
  if (value === null) {
    throw new CartError(`A quantity is a whole number from 1 to ${MAX_QUANTITY}.`);
  }
  return value;
}

/** The cart's lines, [{sku, qty}], in the order they were added (a copy). */
export function lines() {
  return read();
}

/** How many items: the sum of the quantities. */
export function count() {
  return read().reduce((sum, line) => sum + line.qty, 0);
}

/** Add `qty` of `sku` (to what is there already, up to MAX_QUANTITY); the line as kept. */
export function add(sku, qty = 1) {
  checkSku(sku);
  const more = checkQuantity(qty);
  const current = read();
  const line = current.find((entry) => entry.sku === sku);
  if (line) {
    line.qty = Math.min(line.qty + more, MAX_QUANTITY);
  } else {
    if (current.length >= MAX_LINES) {
      throw new CartError(`A cart holds at most ${MAX_LINES} different products.`);
    }
    current.push({ sku, qty: more });
  }
  write(current);
  return { ...(line ?? current[current.length - 1]) };
}

/** Set the quantity of `sku` (adding the line if it is not there); 0 removes it. */
export function setQuantity(sku, qty) {
  checkSku(sku);
  if (qty === 0) {
    remove(sku);
    return null;
  }
  const value = checkQuantity(qty);
  const current = read();
  const line = current.find((entry) => entry.sku === sku);
  if (line) {
    if (line.qty === value) return { ...line };
    line.qty = value;
  } else {
    if (current.length >= MAX_LINES) {
      throw new CartError(`A cart holds at most ${MAX_LINES} different products.`);
    }
    current.push({ sku, qty: value });
  }
  write(current);
  return { sku, qty: value };
}

/** Take `sku` out of the cart; true when it was there. */
export function remove(sku) {
  const current = read();
  const kept = current.filter((entry) => entry.sku !== sku);
  if (kept.length === current.length) return false;
  write(kept);
  return true;
}

/** Empty the cart (after an order is placed). */
export function clear() {
  let stored = null;
  try {
    stored = storage()?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return; // no storage: nothing was kept
  }
  if (stored !== null) write([]);
}

/**
 * Call `callback(lines)` after every change to the cart, this tab's or another tab's.
 * Returns a function that stops the calls.
 */
export function onChange(callback) {
  listeners.add(callback);
  return () => listeners.delete(callback);
}

window.addEventListener("storage", (event) => {
  // key is null when another tab cleared the whole of localStorage.
  if (event.key === STORAGE_KEY || event.key === null) announce();
});
