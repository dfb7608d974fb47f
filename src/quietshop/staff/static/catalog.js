// The catalog screen (#catalog; issue 9 item 7) for the catalog role: the product list with
// a search, an editor for a product and its variants (prices, stock, was-prices), its
// picture, new products and categories, and the catalog file (CSV) with an upload
// progress bar and the import's report, row by row.
//
// Everything is built here with createElement and textContent: no markup from the API or
// a file is ever parsed. Amounts are typed as 12.99 and sent as cents. The server checks
// everything again and names the field it refuses; that message is shown by the form.
// A picture and a catalog file go as the raw request body (XMLHttpRequest, for the
// progress bar), with the tab's token like every other call.

import { ready } from "./shell.js";
import { ApiError, staffFetch, staffToken, waitForUnlock } from "./staff-api.js";

const API = "/api/v1/staff/catalog";
// As the need-to-know table grants the catalog actions (the server decides).
const CATALOG_ROLES = ["catalog"];
const PAGE_SIZE = 25;

const $ = (selector, root = document) => root.querySelector(selector);

/** An element with attributes (or properties for on*, value, checked) and children. */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

function moneyText(cents) {
  return cents === null || cents === undefined ? "" : (cents / 100).toFixed(2);
}

class Unreadable extends Error {}

function parseMoney(text, label, optional = false) {
  const value = text.trim().replace(",", ".");
  if (!value && optional) return null;
  if (!/^\d{1,7}(\.\d{1,2})?$/.test(value)) throw new Unreadable(`${label}: write a price as 12.99.`);
  const [whole, part = ""] = value.split(".");
  return Number(whole) * 100 + Number(part.padEnd(2, "0"));
}

function parseWhole(text, label) {
  const value = text.trim();
  if (!/^\d{1,10}$/.test(value)) throw new Unreadable(`${label}: write a whole number.`);
  return Number(value);
}

function errorText(error) {
  if (error instanceof Unreadable) return error.message;
  if (error instanceof ApiError && error.fields.length) {
    return error.fields.map((item) => `${item.field}: ${item.message}`).join(" ");
  }
  return error?.message ?? "Something went wrong.";
}

function messageBox() {
  return el("p", { class: "form-message", role: "status", "aria-live": "polite" });
}

function say(box, text, kind = "info") {
  box.textContent = text;
  box.dataset.kind = kind;
}

/** Run `action` for a form's submit, with its buttons disabled and its outcome said. */
function handle(form, box, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) button.disabled = true;
    say(box, "");
    try {
      const done = await action();
      if (done) say(box, done, "success");
    } catch (error) {
      if (!error?.signInShown) say(box, errorText(error), "error");
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
}

function field(label, input, hint) {
  const id = `catalog-${Math.random().toString(36).slice(2, 10)}`;
  input.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), hint ? el("p", { class: "hint" }, hint) : null, input);
}

/** A raw body (a picture, a CSV file) with the tab's token; `onProgress(0..1)` while it
 * goes up. A locked session waits for the lock screen and is sent again. */
function sendRaw(path, body, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.setRequestHeader("Authorization", `Bearer ${staffToken.get() ?? ""}`);
    request.setRequestHeader("Content-Type", contentType);
    request.setRequestHeader("Accept", "application/json");
    request.withCredentials = false;
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    request.addEventListener("error", () => reject(new ApiError(0, null)));
    request.addEventListener("load", async () => {
      let data = null;
      try {
        data = JSON.parse(request.responseText);
      } catch {
        data = null;
      }
      if (request.status >= 200 && request.status < 300) return resolve(data);
      if (request.status === 401 && data?.error === "locked") {
        await waitForUnlock();
        return sendRaw(path, body, contentType, onProgress).then(resolve, reject);
      }
      if (request.status === 401) {
        staffToken.clear();
        window.location.replace("/staff/sign-in");
      }
      const error = new ApiError(request.status, data);
      error.body = data;
      return reject(error);
    });
    request.send(body);
  });
}

// ---------------------------------------------------------------- the screen

let categories = [];
const list = { q: "", page: 1 };

function categorySelect(selected) {
  return el(
    "select",
    { name: "category_slug" },
    categories.map((c) =>
      el("option", { value: c.slug, selected: c.slug === selected }, `${c.parent_slug ? "— " : ""}${c.name}`),
    ),
  );
}

async function loadCategories() {
  categories = await staffFetch(`${API}/categories`);
  renderCategories();
}

async function loadList() {
  const params = new URLSearchParams({ q: list.q, page: String(list.page), page_size: String(PAGE_SIZE) });
  const page = await staffFetch(`${API}/products?${params}`);
  const rows = $("[data-catalog-rows]");
  rows.replaceChildren(
    ...page.items.map((item) =>
      el(
        "tr",
        {},
        el("td", {}, item.sku),
        el("td", {}, item.name),
        el("td", {}, item.category_slug),
        el("td", {}, `${moneyText(item.price_cents)} ${item.currency}`),
        el("td", {}, String(item.stock)),
        el("td", {}, String(item.variant_count)),
        el("td", {}, item.active ? "On sale" : "Withdrawn"),
        el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => openProduct(item.sku) }, "Edit")),
      ),
    ),
  );
  const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
  $("[data-catalog-page]").textContent = `${page.total} products · page ${list.page} of ${pages}`;
  $("[data-catalog-prev]").disabled = list.page <= 1;
  $("[data-catalog-next]").disabled = list.page >= pages;
}

function productForm(product) {
  const inputs = {
    name: el("input", { name: "name", maxlength: 200, value: product.name, required: true }),
    brand: el("input", { name: "brand", maxlength: 80, value: product.brand }),
    category_slug: categorySelect(product.category_slug),
    description: el("textarea", { name: "description", rows: 5, maxlength: 20000 }),
    warranty_months: el("input", { name: "warranty_months", inputmode: "numeric", value: String(product.warranty_months) }),
    warranty_terms: el("textarea", { name: "warranty_terms", rows: 3, maxlength: 5000 }),
    image_alt: el("input", { name: "image_alt", maxlength: 300, value: product.image_alt }),
    active: el("input", { type: "checkbox", name: "active", checked: product.active }),
  };
  inputs.description.value = product.description;
  inputs.warranty_terms.value = product.warranty_terms;
  const box = messageBox();
  const form = el(
    "form",
    { class: "account-form" },
    el("h3", {}, "Product"),
    field("Name", inputs.name),
    field("Brand", inputs.brand),
    field("Category", inputs.category_slug),
    field("Description", inputs.description),
    el("div", { class: "field-row" }, field("Warranty (months)", inputs.warranty_months), field("Picture description", inputs.image_alt, "Read out where the picture cannot be seen.")),
    field("Warranty terms", inputs.warranty_terms),
    el("div", { class: "field check" }, inputs.active, el("label", { for: "catalog-active" }, "On sale")),
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Save the product")),
    box,
  );
  inputs.active.id = "catalog-active";
  handle(form, box, async () => {
    const body = {
      name: inputs.name.value.trim(),
      brand: inputs.brand.value.trim(),
      category_slug: inputs.category_slug.value,
      description: inputs.description.value,
      warranty_months: parseWhole(inputs.warranty_months.value, "Warranty"),
      warranty_terms: inputs.warranty_terms.value,
      image_alt: inputs.image_alt.value.trim(),
      active: inputs.active.checked,
    };
    const saved = await staffFetch(`${API}/products/${encodeURIComponent(product.sku)}`, { method: "PATCH", body });
    showProduct(saved);
    loadList();
    return "Saved.";
  });
  return form;
}

function variantRow(product, variant, box) {
  const inputs = {
    label: el("input", { value: variant.label, maxlength: 120, "aria-label": `Label of ${variant.sku}` }),
    price: el("input", { value: moneyText(variant.price_cents), inputmode: "decimal", size: 8, "aria-label": `Price of ${variant.sku}` }),
    was: el("input", { value: moneyText(variant.was_price_cents), inputmode: "decimal", size: 8, "aria-label": `Was-price of ${variant.sku}` }),
    stock: el("input", { value: String(variant.stock), inputmode: "numeric", size: 6, "aria-label": `Stock of ${variant.sku}` }),
    weight: el("input", { value: String(variant.weight_grams), inputmode: "numeric", size: 6, "aria-label": `Weight of ${variant.sku}` }),
  };
  const save = el("button", { type: "button", class: "secondary" }, "Save");
  save.addEventListener("click", async () => {
    save.disabled = true;
    say(box, "");
    try {
      const body = {
        label: inputs.label.value.trim(),
        price_cents: parseMoney(inputs.price.value, "Price"),
        was_price_cents: parseMoney(inputs.was.value, "Was-price", true),
        stock: parseWhole(inputs.stock.value, "Stock"),
        weight_grams: parseWhole(inputs.weight.value, "Weight"),
      };
      const saved = await staffFetch(`${API}/variants/${encodeURIComponent(variant.sku)}`, { method: "PATCH", body });
      showProduct(saved);
      loadList();
      say($("[data-catalog-variants-message]"), `Saved ${variant.sku}.`, "success");
    } catch (error) {
      if (!error?.signInShown) say(box, `${variant.sku}: ${errorText(error)}`, "error");
      save.disabled = false;
    }
  });
  const options = Object.entries(variant.options).map(([k, v]) => `${k}: ${v}`).join(", ");
  return el(
    "tr",
    {},
    el("td", {}, variant.sku),
    el("td", {}, options),
    el("td", {}, inputs.label),
    el("td", {}, inputs.price),
    el("td", {}, inputs.was),
    el("td", {}, inputs.stock),
    el("td", {}, inputs.weight),
    el("td", {}, save),
  );
}

function variantsPart(product) {
  const box = el("p", { class: "form-message", role: "status", "aria-live": "polite", "data-catalog-variants-message": true });
  const head = ["SKU", "Options", "Label", `Price (${product.currency})`, "Was-price", "Stock", "Weight (g)", ""];
  const table = el(
    "table",
    { class: "orders-table" },
    el("thead", {}, el("tr", {}, head.map((title) => el("th", { scope: "col" }, title)))),
    el("tbody", {}, product.variants.map((variant) => variantRow(product, variant, box))),
  );
  const adding = {
    sku: el("input", { maxlength: 40, required: true }),
    label: el("input", { maxlength: 120 }),
    price: el("input", { inputmode: "decimal", required: true }),
    stock: el("input", { inputmode: "numeric", value: "0" }),
  };
  const addBox = messageBox();
  const add = el(
    "form",
    { class: "account-form" },
    el("h4", {}, "Add a variant"),
    el("div", { class: "field-row" }, field("SKU", adding.sku), field("Label", adding.label), field("Price", adding.price), field("Stock", adding.stock)),
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Add the variant")),
    addBox,
  );
  handle(add, addBox, async () => {
    const body = {
      product_sku: product.sku,
      sku: adding.sku.value.trim(),
      label: adding.label.value.trim(),
      price_cents: parseMoney(adding.price.value, "Price"),
      stock: parseWhole(adding.stock.value, "Stock"),
    };
    showProduct(await staffFetch(`${API}/variants`, { method: "POST", body }));
    loadList();
    return "";
  });
  return el("div", { class: "desk-part" }, el("h3", {}, "Variants"), el("div", { class: "table-scroll" }, table), box, add);
}

function picturePart(product) {
  const input = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp" });
  const bar = el("progress", { max: 1, value: 0, hidden: true });
  const box = messageBox();
  const image = product.image_url ? el("img", { src: product.image_url, alt: product.image_alt, width: 240 }) : el("p", { class: "note" }, "No picture yet.");
  const form = el(
    "form",
    { class: "account-form" },
    el("h3", {}, "Picture"),
    image,
    field("A PNG, JPEG or WebP picture", input, "It is stored re-encoded, without its metadata (such as where a photo was taken)."),
    bar,
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Upload")),
    box,
  );
  handle(form, box, async () => {
    const file = input.files?.[0];
    if (!file) throw new Unreadable("Choose a picture first.");
    bar.hidden = false;
    const saved = await sendRaw(`${API}/images/${encodeURIComponent(product.sku)}`, file, file.type || "application/octet-stream", (share) => {
      bar.value = share;
    });
    bar.hidden = true;
    showProduct(saved);
    loadList();
    return "The picture is the product's now.";
  });
  return form;
}

function showProduct(product) {
  const editor = $("[data-catalog-editor]");
  editor.replaceChildren(
    el("h2", {}, `${product.name} (${product.sku})`),
    el("p", { class: "meta" }, product.active ? `On sale at /products/${product.slug}` : "Withdrawn: not shown in the shop."),
    productForm(product),
    variantsPart(product),
    picturePart(product),
    el("button", { type: "button", class: "secondary", onclick: () => { editor.hidden = true; } }, "Close"),
  );
  editor.hidden = false;
}

async function openProduct(sku) {
  try {
    showProduct(await staffFetch(`${API}/products/${encodeURIComponent(sku)}`));
    $("[data-catalog-editor]").scrollIntoView?.({ block: "start" });
  } catch (error) {
    if (!error?.signInShown) say($("[data-catalog-message]"), errorText(error), "error");
  }
}

// ---------------------------------------------------------------- new products, categories

function newProductPart() {
  const inputs = {
    sku: el("input", { maxlength: 40, required: true }),
    name: el("input", { maxlength: 200, required: true }),
    category: el("select", {}),
    price: el("input", { inputmode: "decimal", required: true }),
    stock: el("input", { inputmode: "numeric", value: "0" }),
  };
  const box = messageBox();
  const form = el(
    "form",
    { class: "account-form", "data-catalog-new": true },
    el("h3", {}, "New product"),
    el("div", { class: "field-row" }, field("SKU", inputs.sku), field("Name", inputs.name), field("Category", inputs.category), field("Price", inputs.price), field("Stock", inputs.stock)),
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Create the product")),
    box,
  );
  handle(form, box, async () => {
    const sku = inputs.sku.value.trim();
    const body = {
      sku,
      name: inputs.name.value.trim(),
      category_slug: inputs.category.value,
      variants: [{ sku, price_cents: parseMoney(inputs.price.value, "Price"), stock: parseWhole(inputs.stock.value, "Stock") }],
    };
    showProduct(await staffFetch(`${API}/products`, { method: "POST", body }));
    form.reset();
    loadList();
    return `Created ${sku}.`;
  });
  return form;
}

function renderCategories() {
  const select = $("[data-catalog-new] select");
  if (select) select.replaceChildren(...categorySelect("").children);
  $("[data-catalog-categories]").replaceChildren(
    ...categories.map((c) => el("li", {}, `${c.parent_slug ? "— " : ""}${c.name} (${c.slug}), ${c.product_count} products`)),
  );
  const parents = $("[data-catalog-parent]");
  parents.replaceChildren(el("option", { value: "" }, "(top level)"), ...categories.map((c) => el("option", { value: c.slug }, c.name)));
}

function categoriesPart() {
  const inputs = {
    slug: el("input", { maxlength: 80, required: true, pattern: "[a-z0-9]+(-[a-z0-9]+)*" }),
    name: el("input", { maxlength: 120, required: true }),
    parent: el("select", { "data-catalog-parent": true }),
  };
  const box = messageBox();
  const form = el(
    "form",
    { class: "account-form" },
    el("h3", {}, "Categories"),
    el("ul", { "data-catalog-categories": true }),
    el("p", { class: "note" }, "A category with this slug already there is renamed and moved; a new slug makes a new category."),
    el("div", { class: "field-row" }, field("Slug", inputs.slug, "a-z, 0-9 and hyphens"), field("Name", inputs.name), field("Inside", inputs.parent)),
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Save the category")),
    box,
  );
  handle(form, box, async () => {
    const slug = inputs.slug.value.trim();
    const parent = inputs.parent.value || null;
    const exists = categories.some((c) => c.slug === slug);
    categories = exists
      ? await staffFetch(`${API}/categories/${encodeURIComponent(slug)}`, { method: "PATCH", body: { name: inputs.name.value.trim(), parent_slug: parent } })
      : await staffFetch(`${API}/categories`, { method: "POST", body: { slug, name: inputs.name.value.trim(), parent_slug: parent } });
    renderCategories();
    return exists ? `Saved ${slug}.` : `Created ${slug}.`;
  });
  return form;
}

// ---------------------------------------------------------------- the catalog file

function reportView(report) {
  const counts = `${report.products} products in ${report.rows} rows: ${report.created} created, ` +
    `${report.updated} updated, ${report.unchanged} unchanged, ${report.skipped} skipped.`;
  const headline = report.dry_run ? `Dry run, nothing changed. ${counts}` : report.imported ? `Imported. ${counts}` : `Nothing was imported. ${counts}`;
  const more = report.error_count > report.errors.length ? el("p", { class: "note" }, `… and ${report.error_count - report.errors.length} more errors.`) : null;
  return [
    el("p", {}, headline),
    report.errors.length
      ? el("ol", { class: "import-errors" }, report.errors.map((e) => el("li", {}, `Line ${e.line}, ${e.column}: ${e.message}`)))
      : null,
    more,
  ];
}

function filePart() {
  const input = el("input", { type: "file", accept: ".csv,text/csv" });
  const dryRun = el("input", { type: "checkbox", id: "catalog-dry-run", checked: true });
  const skipBad = el("input", { type: "checkbox", id: "catalog-skip-bad" });
  const bar = el("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const report = el("div", { "data-catalog-report": true, "aria-live": "polite" });
  const box = messageBox();
  const exportButton = el("button", { type: "button", class: "secondary" }, "Export the catalog (CSV)");
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    try {
      const response = await fetch(`${API}/export`, { headers: { Authorization: `Bearer ${staffToken.get() ?? ""}` }, credentials: "omit", cache: "no-store" });
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
      const link = el("a", { href: URL.createObjectURL(await response.blob()), download: "catalog.csv" });
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      say(box, errorText(error), "error");
    } finally {
      exportButton.disabled = false;
    }
  });
  const form = el(
    "form",
    { class: "account-form" },
    el("h3", {}, "Catalog file (CSV)"),
    el("p", { class: "note" }, "One row per variant; the columns are those of the export. A file with a bad row imports nothing, unless you leave the bad products out."),
    field("Catalog file", input),
    el("div", { class: "field check" }, dryRun, el("label", { for: "catalog-dry-run" }, "Only check it (a dry run)")),
    el("div", { class: "field check" }, skipBad, el("label", { for: "catalog-skip-bad" }, "Import the good products, leave out the bad ones")),
    bar,
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Import"), " ", exportButton),
    box,
    report,
  );
  handle(form, box, async () => {
    const file = input.files?.[0];
    if (!file) throw new Unreadable("Choose a catalog file first.");
    const params = new URLSearchParams({ dry_run: String(dryRun.checked), skip_bad: String(skipBad.checked) });
    bar.hidden = false;
    bar.value = 0;
    report.replaceChildren();
    try {
      const done = await sendRaw(`${API}/import?${params}`, file, "text/csv", (share) => {
        bar.value = share;
      });
      report.replaceChildren(...reportView(done));
      if (done.imported) loadList();
      return "";
    } catch (error) {
      if (error?.body?.report) {
        report.replaceChildren(...reportView(error.body.report));
        return "";
      }
      throw error;
    } finally {
      bar.hidden = true;
    }
  });
  return form;
}

// ---------------------------------------------------------------- wiring

function build(screen) {
  const search = el("input", { type: "search", maxlength: 100, placeholder: "SKU or name" });
  const searchForm = el(
    "form",
    { class: "account-form", role: "search" },
    field("Find products", search),
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Find")),
  );
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    list.q = search.value.trim();
    list.page = 1;
    loadList();
  });
  const heads = ["SKU", "Name", "Category", "Price", "Stock", "Variants", "", ""];
  screen.replaceChildren(
    el("h1", { id: "catalog-heading" }, "Catalog"),
    el("p", { class: "page-message", role: "status", "aria-live": "polite", "data-catalog-message": true }),
    searchForm,
    el(
      "div",
      { class: "table-scroll" },
      el("table", { class: "orders-table" }, el("thead", {}, el("tr", {}, heads.map((title) => el("th", { scope: "col" }, title)))), el("tbody", { "data-catalog-rows": true })),
    ),
    el(
      "p",
      { class: "form-actions" },
      el("button", { type: "button", class: "secondary", "data-catalog-prev": true, onclick: () => { list.page -= 1; loadList(); } }, "Previous"),
      " ",
      el("span", { class: "meta", "data-catalog-page": true }),
      " ",
      el("button", { type: "button", class: "secondary", "data-catalog-next": true, onclick: () => { list.page += 1; loadList(); } }, "Next"),
    ),
    el("section", { class: "desk-part", "data-catalog-editor": true, hidden: true }),
    el("div", { class: "desk-part" }, newProductPart()),
    el("div", { class: "desk-part" }, categoriesPart()),
    el("div", { class: "desk-part" }, filePart()),
  );
}

let built = false;

async function route() {
  const screen = $("[data-catalog-screen]");
  const here = decodeURIComponent(window.location.hash.slice(1)) === "catalog";
  screen.hidden = !here;
  $('[data-nav="catalog"] a')?.toggleAttribute("aria-current", here);
  if (!here) return;
  if (!built) {
    build(screen);
    built = true;
  }
  try {
    await loadCategories();
    await loadList();
  } catch (error) {
    if (!error?.signInShown) say($("[data-catalog-message]"), errorText(error), "error");
  }
}

async function start() {
  const me = await ready;
  if (!me || !me.roles.some((role) => CATALOG_ROLES.includes(role))) return;
  const entry = $('[data-nav="catalog"]');
  if (entry) entry.hidden = false;
  window.addEventListener("hashchange", route);
  route();
}

start();
