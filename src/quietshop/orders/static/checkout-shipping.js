// The shipping methods the shop offers for a quote, as radios: name, cost and delivery
// time. Text goes in with textContent only.

import { element, money } from "./checkout-money.js";

/** The chosen method's name in a quote. */
export function methodName(quote) {
  return quote.shipping_options.find((o) => o.code === quote.shipping_method)?.name ?? "";
}

/** "2–4 working days". */
export function days(option) {
  const { delivery_days_min: min, delivery_days_max: max } = option;
  if (min === max) return min === 1 ? "1 working day" : `${min} working days`;
  return `${min}–${max} working days`;
}

/** One radio per option in `box` (ids method-<code>), the quote's own checked. */
export function drawMethods(box, quote, onChoose) {
  box.replaceChildren(
    ...quote.shipping_options.map((option) => {
      const wrap = element("div", "", "choice");
      const input = element("input");
      const id = `method-${option.code.replace(/[^A-Za-z0-9_-]/g, "-")}`;
      Object.assign(input, { type: "radio", name: "shipping_method", id, value: option.code });
      input.required = true;
      input.checked = option.code === quote.shipping_method;
      input.addEventListener("change", () => onChoose(option.code));
      const label = element("label", `${option.name}: ${money(option.cost)}, ${days(option)}`);
      label.htmlFor = id;
      wrap.append(input, " ", label);
      return wrap;
    }),
  );
}
