// Where the shop's error about a field goes on the checkout page. The API names fields
// its own way: a dotted path ("shipping_address.postcode", "card.number") from the order
// service, or a bare name from body validation ("postcode", "security_code"); each comes
// back as [the form or fieldset holding the control, the control's name].

import { CARD_ALIASES } from "./checkout-card.js";
import { sentence } from "/static/js/forms.js";

const ADDRESS_FIELDS = ["name", "line1", "line2", "city", "region", "postcode", "country"];

/**
 * A function field -> [container, control name] | null, over the checkout's forms
 * (card, method, discount) and field groups (guest, ship, bill, shipBook, billBook).
 */
export function fieldPlaces({ card, method, discount, guest, ship, bill, shipBook, billBook }) {
  const named = {
    guest: [guest, "name"],
    shipping_address: [ship, "name"],
    billing_address: [bill, "name"],
    shipping_address_id: [shipBook, "ship_address"],
    billing_address_id: [billBook, "bill_address"],
    shipping_country: [ship, "country"],
    shipping_method: [method, "shipping_method"],
    discount_code: [discount, "code"],
  };
  const groups = { guest, shipping_address: ship, billing_address: bill };
  return (field) => {
    const parts = String(field).split(".");
    const leaf = parts.at(-1);
    const group = parts.length > 1 ? parts[0] : "";
    if (group === "card") {
      return [card, leaf === "name" ? "name_on_card" : (CARD_ALIASES[leaf] ?? leaf)];
    }
    if (Object.hasOwn(CARD_ALIASES, leaf)) return [card, CARD_ALIASES[leaf]];
    if (Object.hasOwn(groups, group)) return [groups[group], leaf];
    if (Object.hasOwn(named, leaf)) return named[leaf];
    if (leaf === "email") return [guest, "email"];
    // A bare address field: the typed shipping address's, unless only billing is typed.
    if (ADDRESS_FIELDS.includes(leaf)) return [ship.hidden && !bill.hidden ? bill : ship, leaf];
    return null;
  };
}

/**
 * Mark the control `name` in `container` invalid and put `message` (as a sentence with the
 * field's label) in its error slot; {control, text}, or null when there is no such control.
 */
export function markField(container, name, message) {
  const found = container.elements.namedItem(name);
  if (!found) return null;
  const controls = found instanceof RadioNodeList ? [...found] : [found];
  for (const control of controls) control.setAttribute("aria-invalid", "true");
  const label = controls[0].labels?.[0]?.firstChild?.textContent.trim() ?? "";
  const text = sentence(label, message);
  const slot = container.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (slot) slot.textContent = text;
  return { control: controls[0], text };
}
