// The back office screens' small DOM builders: text always through textContent, so no
// value from the API is ever parsed as HTML.

/** A cell appended to `row` (a header cell with scope="col" when `tag` is "th"). */
export function cell(row, text, tag = "td") {
  const element = document.createElement(tag);
  if (tag === "th") element.scope = "col";
  element.textContent = text;
  row.append(element);
  return element;
}

export function link(href, text) {
  const element = document.createElement("a");
  element.href = href;
  element.textContent = text;
  return element;
}
