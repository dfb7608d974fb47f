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

/**
 * One page of a list shown in `container`: a first page replaces what was there, a next
 * page ("more") adds to it; the "nothing found" note and the "more" button follow.
 * Returns nothing; the caller keeps the page's cursor for the next request.
 */
export function showPage(container, items, build, { more, empty, moreButton, hasNext }) {
  if (!more) container.replaceChildren();
  for (const item of items) container.append(build(item));
  empty.hidden = container.children.length > 0;
  moreButton.hidden = !hasNext;
}

/** Save `blob` as a file named `name`, from memory (a file fetched with the tab's token
 * in a header, never through a link a cookie would have to open); the URL is revoked after. */
export function saveFile(blob, name) {
  const anchor = document.createElement("a");
  anchor.href = URL.createObjectURL(blob);
  anchor.download = name;
  anchor.click();
  setTimeout(() => URL.revokeObjectURL(anchor.href), 1000);
}
