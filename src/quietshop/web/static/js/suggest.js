// Suggestions as the shopper types in the header's search box: product names from this
// shop's own endpoint (GET /api/v1/search/suggest, answered "no-store" and logged without
// its text), shown in a <datalist>. Without this script the box is a plain search form.
// Nothing is stored, and nothing goes anywhere but this origin.

const DEBOUNCE_MS = 200; // ask once the typing pauses, not on every key
const MIN_CHARS = 2; // the endpoint ignores shorter words

const input = document.getElementById("site-search");

if (input) {
  const list = document.createElement("datalist");
  list.id = "site-search-suggestions";
  input.after(list);
  input.setAttribute("list", list.id);
  input.setAttribute("autocomplete", "off");

  let timer = 0;
  let pending = null; // the request in flight, aborted when a newer one starts
  let shown = new Map(); // name -> product URL, for the options on show

  function show(suggestions) {
    shown = new Map();
    const options = [];
    for (const { name, url } of suggestions) {
      // Only this shop's product pages: the answer names a path, never another site.
      if (typeof name !== "string" || typeof url !== "string" || !url.startsWith("/products/")) {
        continue;
      }
      shown.set(name, url);
      const option = document.createElement("option");
      option.value = name;
      options.push(option);
    }
    list.replaceChildren(...options);
  }

  async function ask(text) {
    pending?.abort();
    pending = new AbortController();
    try {
      const answer = await fetch(`/api/v1/search/suggest?q=${encodeURIComponent(text)}`, {
        headers: { Accept: "application/json" },
        credentials: "omit",
        cache: "no-store",
        signal: pending.signal,
      });
      if (!answer.ok) return;
      const body = await answer.json();
      if (input.value.trim() === text) show(body.suggestions ?? []);
    } catch {
      // aborted by a newer request, or offline: the plain search still works
    }
  }

  input.addEventListener("input", (event) => {
    // Picking an option (not typing) fills in its name: go to that product's page.
    const picked = shown.get(input.value);
    if (picked && (!event.inputType || event.inputType === "insertReplacementText")) {
      window.location.assign(picked);
      return;
    }
    window.clearTimeout(timer);
    const text = input.value.trim();
    if (text.length < MIN_CHARS) {
      pending?.abort();
      show([]);
      return;
    }
    timer = window.setTimeout(() => ask(text), DEBOUNCE_MS);
  });
}
