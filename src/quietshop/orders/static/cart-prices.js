// Today's name, price and stock of a cart's SKUs, from the catalog's public lookup.
//
// Only SKUs are sent: never a quantity, never a token (the lookup is the same for everyone
// and cached like a product page). They go sorted and without repeats, so two carts with
// the same products ask the same question and share one cached answer.

import { call } from "/static/js/api.js";

export const LOOKUP_BATCH = 50; // the API's limit per request

/** {variants: Map(sku -> variant), missing: Set(sku)}; throws ApiError when unreachable. */
export async function lookUpPrices(skus) {
  const wanted = [...new Set(skus)].sort();
  const batches = [];
  for (let start = 0; start < wanted.length; start += LOOKUP_BATCH) {
    batches.push(wanted.slice(start, start + LOOKUP_BATCH));
  }
  const answers = await Promise.all(
    batches.map((batch) => {
      const query = new URLSearchParams(batch.map((sku) => ["sku", sku]));
      return call("GET", `/api/v1/variants?${query}`, { auth: false });
    }),
  );
  const variants = new Map();
  const missing = new Set();
  for (const answer of answers) {
    for (const variant of answer.variants) variants.set(variant.sku, variant);
    for (const sku of answer.missing) missing.add(sku);
  }
  return { variants, missing };
}
