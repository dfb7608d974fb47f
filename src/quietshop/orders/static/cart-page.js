// The cart page. The cart is this browser's (cart.js); the page asks the shop for today's
// names, prices and stock of its SKUs, and keeps the cart honest with them: a product no
// longer sold is taken out, a quantity above the stock is brought down to it, each with a
// message naming the product. It follows changes made in other tabs. Data goes into the
// page with textContent only.
//
// Without JavaScript none of this runs, and the page's own text says the cart needs it.

import { add, CartError, lines, MAX_QUANTITY, onChange, remove, setQuantity } from "/static/orders/cart.js";
import { formatMoney } from "/static/orders/cart-money.js";
import { lookUpPrices } from "/static/orders/cart-prices.js";

const $ = (selector) => document.querySelector(selector);
const box = $("[data-cart]");
const message = $("[data-cart-message]");
const loading = $("[data-cart-loading]");
const empty = $("[data-cart-empty]");
const full = $("[data-cart-full]");
const body = $("[data-cart-lines]");
const subtotal = $("[data-cart-subtotal]");
const blocked = $("[data-cart-blocked]");
const checkout = $("[data-checkout]");
const lineTemplate = $("[data-line-template]");

// What the shop told us, by SKU. Asked again only for SKUs not seen yet on this page.
const known = new Map();

function say(notes, { append = false } = {}) {
  if (!append) message.replaceChildren();
  for (const note of notes) {
    const paragraph = document.createElement("p");
    paragraph.textContent = note;
    message.append(paragraph);
  }
}

function describe(variant) {
  return variant.label ? `${variant.name} (${variant.label})` : variant.name;
}

function stockText(stock) {
  if (stock <= 0) return "Out of stock";
  return stock < 10 ? `Only ${stock} left` : "In stock";
}

// ---------------------------------------------------------------- the no-JS add link

// A product page without JavaScript sends the shopper to /cart?add=SKU&qty=N. Add the line,
// then take the parameters out of the address, so a reload does not add it again.
function addFromAddress() {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("add")) return [];
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  const qtyText = params.get("qty") ?? "1";
  if (!/^[0-9]{1,9}$/.test(qtyText) || Number(qtyText) < 1) {
    return [`Nothing was added: a quantity is a whole number from 1 to ${MAX_QUANTITY}.`];
  }
  try {
    add(params.get("add"), Math.min(Number(qtyText), MAX_QUANTITY));
    return ["Added to your cart."];
  } catch (error) {
    if (!(error instanceof CartError)) throw error;
    return [`Nothing was added: ${error.message}`];
  }
}

// ---------------------------------------------------------------- keeping the cart honest

async function learn(current) {
  const unseen = current.map((line) => line.sku).filter((sku) => !known.has(sku));
  if (unseen.length === 0) return new Set();
  const { variants, missing } = await lookUpPrices(unseen);
  for (const [sku, variant] of variants) known.set(sku, variant);
  return missing;
}

// Changes the cart itself, so its own announcements are ignored while it runs.
let reconciling = false;

function reconcile(current, missing) {
  const notes = [];
  reconciling = true;
  try {
    const gone = current.filter((line) => missing.has(line.sku));
    for (const line of gone) remove(line.sku);
    if (gone.length === 1) {
      notes.push(`We took out ${gone[0].sku}: it is no longer sold.`);
    } else if (gone.length > 1) {
      notes.push(`We took out ${gone.length} products that are no longer sold.`);
    }
    for (const line of current) {
      const variant = known.get(line.sku);
      if (!variant || variant.stock <= 0 || line.qty <= variant.stock) continue;
      setQuantity(line.sku, variant.stock);
      notes.push(
        `We have only ${variant.stock} of ${describe(variant)}, so your cart now holds ${variant.stock}.`,
      );
    }
  } finally {
    reconciling = false;
  }
  return notes;
}

// ---------------------------------------------------------------- showing it

function lineRow(line, variant) {
  const row = lineTemplate.content.firstElementChild.cloneNode(true);
  const part = (name) => row.querySelector(`[data-line-${name}]`);
  row.dataset.sku = line.sku;
  const link = part("link");
  link.textContent = variant.name;
  link.href = `/products/${encodeURIComponent(variant.product_slug)}?variant=${encodeURIComponent(variant.sku)}`;
  part("label").textContent = variant.label;
  part("sku").textContent = `SKU ${variant.sku}`;
  const stock = part("stock");
  stock.textContent = stockText(variant.stock);
  stock.classList.add(variant.in_stock ? "in" : "out");
  part("price").textContent = formatMoney(variant.price.cents, variant.price.currency);
  const qty = part("qty");
  qty.value = String(line.qty);
  qty.max = String(Math.max(1, Math.min(variant.stock, MAX_QUANTITY)));
  qty.id = `qty-${line.sku}`;
  const qtyLabel = part("qty-label");
  qtyLabel.htmlFor = qty.id;
  qtyLabel.textContent = `Quantity of ${describe(variant)}`;
  part("total").textContent = variant.in_stock
    ? formatMoney(variant.price.cents * line.qty, variant.price.currency)
    : "—";
  part("remove").setAttribute("aria-label", `Remove ${describe(variant)}`);
  return row;
}

function totals(shown) {
  const byCurrency = new Map();
  for (const { line, variant } of shown) {
    if (!variant.in_stock) continue;
    const { cents, currency } = variant.price;
    byCurrency.set(currency, (byCurrency.get(currency) ?? 0) + cents * line.qty);
  }
  if (byCurrency.size === 0) return formatMoney(0, shown[0]?.variant.price.currency ?? "USD");
  return [...byCurrency].map(([currency, cents]) => formatMoney(cents, currency)).join(" + ");
}

function showCheckout(soldOut) {
  blocked.hidden = soldOut.length === 0;
  blocked.textContent = soldOut.length
    ? `To check out, first remove what is out of stock: ${soldOut.map(describe).join(", ")}.`
    : "";
  if (soldOut.length) {
    checkout.removeAttribute("href");
    checkout.setAttribute("aria-disabled", "true");
  } else {
    checkout.href = "/checkout";
    checkout.removeAttribute("aria-disabled");
  }
}

function render(current) {
  const focused = document.activeElement?.closest?.("[data-sku]")?.dataset.sku;
  const focusedPart = document.activeElement?.matches?.("[data-line-qty]") ? "qty" : "remove";
  const shown = current
    .filter((line) => known.has(line.sku))
    .map((line) => ({ line, variant: known.get(line.sku) }));
  loading.hidden = true;
  empty.hidden = current.length > 0;
  full.hidden = shown.length === 0;
  body.replaceChildren(...shown.map(({ line, variant }) => lineRow(line, variant)));
  subtotal.textContent = totals(shown);
  showCheckout(shown.filter(({ variant }) => !variant.in_stock).map(({ variant }) => variant));
  box.dataset.state = "ready"; // tests wait for it
  if (focused) body.querySelector(`[data-sku="${CSS.escape(focused)}"] [data-line-${focusedPart}]`)?.focus();
}

async function refresh(notes = []) {
  let missing;
  try {
    missing = await learn(lines());
  } catch (error) {
    render(lines());
    say([...notes, `We could not look up today’s prices: ${error.message}`]);
    return;
  }
  const fixes = reconcile(lines(), missing);
  render(lines());
  if (notes.length || fixes.length) say([...notes, ...fixes]);
}

// One refresh at a time, in order: a change made while prices are being looked up is
// shown once they are in.
let queue = Promise.resolve();
function schedule(notes = []) {
  queue = queue.then(() => refresh(notes));
  return queue;
}

// ---------------------------------------------------------------- the shopper's changes

function variantOf(row) {
  return known.get(row.dataset.sku);
}

body.addEventListener("change", (event) => {
  const input = event.target.closest("[data-line-qty]");
  if (!input) return;
  const row = input.closest("[data-sku]");
  const variant = variantOf(row);
  const wanted = input.value.trim() === "" ? NaN : Number(input.value);
  const current = lines().find((line) => line.sku === row.dataset.sku);
  if (!Number.isInteger(wanted) || wanted < 0) {
    input.value = String(current?.qty ?? 1);
    say([`A quantity is a whole number from 1 to ${MAX_QUANTITY}; 0 takes the product out.`]);
    return;
  }
  if (wanted === 0) {
    remove(row.dataset.sku);
    say([`We took ${describe(variant)} out of your cart.`]);
    return;
  }
  const limit = Math.min(variant.stock > 0 ? variant.stock : MAX_QUANTITY, MAX_QUANTITY);
  setQuantity(row.dataset.sku, Math.min(wanted, limit));
  if (wanted > limit) {
    say([
      variant.stock > 0 && variant.stock < MAX_QUANTITY
        ? `We have only ${variant.stock} of ${describe(variant)}, so your cart now holds ${variant.stock}.`
        : `A cart holds at most ${MAX_QUANTITY} of one product.`,
    ]);
  } else {
    say([]);
  }
});

body.addEventListener("click", (event) => {
  const button = event.target.closest("[data-line-remove]");
  if (!button) return;
  const row = button.closest("[data-sku]");
  const variant = variantOf(row);
  remove(row.dataset.sku);
  say([`We took ${describe(variant)} out of your cart.`]);
  $("h1").focus(); // the row and its button are gone
});

// ---------------------------------------------------------------- start

$("[data-needs-js]").hidden = true;
box.hidden = false;
const arrived = addFromAddress();
onChange(() => {
  if (!reconciling) schedule();
});
schedule(arrived);
