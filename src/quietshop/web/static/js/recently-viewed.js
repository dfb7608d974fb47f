// "Recently viewed": the last products this tab showed, kept in this tab's sessionStorage
// and nowhere else. Nothing is ever sent (no fetch, no beacon, nothing in a URL), and the
// list is gone when the tab closes. The product page is the same for everyone and cached
// whole: it only says which product it is (data-recent-* on the article) and leaves an
// empty, hidden container that this script fills; without JavaScript there is no list.

const KEY = "quietshop.recentlyViewed";
const MAX_ITEMS = 8;
const MAX_TEXT = 300;

// Same-origin paths only: whatever sits in storage (another script's, or edited by hand)
// can never turn into a link or a picture from elsewhere.
const isProductPath = (value) => typeof value === "string" && /^\/products\/[^/\\]/.test(value);
const isImagePath = (value) => value === "" || (typeof value === "string" && /^\/images\/[^/\\]/.test(value));

function isItem(item) {
  return (
    item !== null &&
    typeof item === "object" &&
    typeof item.sku === "string" &&
    item.sku.length > 0 &&
    item.sku.length <= MAX_TEXT &&
    typeof item.name === "string" &&
    item.name.length <= MAX_TEXT &&
    isProductPath(item.url) &&
    isImagePath(item.image)
  );
}

function read() {
  try {
    const items = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    return Array.isArray(items) ? items.filter(isItem).slice(0, MAX_ITEMS) : [];
  } catch {
    return []; // unreadable, or storage blocked: no list
  }
}

function write(items) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(items));
  } catch {
    // Storage full or blocked: the list is a convenience, the page works without it.
  }
}

function render(items) {
  const box = document.querySelector("[data-recently-viewed]");
  const list = box?.querySelector("[data-recently-viewed-list]");
  if (!box || !list || items.length === 0) return;
  list.replaceChildren(
    ...items.map((item) => {
      const entry = document.createElement("li");
      const link = document.createElement("a");
      link.href = item.url;
      if (item.image) {
        const picture = document.createElement("img");
        picture.src = item.image;
        picture.alt = "";
        picture.width = 160;
        picture.height = 120;
        picture.loading = "lazy";
        link.append(picture);
      }
      const name = document.createElement("span");
      name.textContent = item.name; // text, never markup
      link.append(name);
      entry.append(link);
      return entry;
    }),
  );
  box.hidden = false;
}

const product = document.querySelector("[data-recent-sku]");
if (product) {
  const current = {
    sku: product.dataset.recentSku || "",
    name: product.dataset.recentName || "",
    url: product.dataset.recentUrl || "",
    image: product.dataset.recentImage || "",
  };
  const earlier = read().filter((item) => item.sku !== current.sku);
  render(earlier); // the others: this product is on the screen already
  if (isItem(current)) write([current, ...earlier].slice(0, MAX_ITEMS));
}
