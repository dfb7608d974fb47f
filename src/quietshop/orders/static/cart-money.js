// Money as the shop's pages show it (web/templating.py format_money): integer cents and
// a currency, "$1,234.50"; a currency without a symbol reads "1,234.50 SEK".

const SYMBOLS = { USD: "$", EUR: "€", GBP: "£", CAD: "CA$", AUD: "A$" };

export function formatMoney(cents, currency) {
  const whole = Math.floor(cents / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const amount = `${whole}.${String(cents % 100).padStart(2, "0")}`;
  const symbol = SYMBOLS[currency];
  return symbol ? `${symbol}${amount}` : `${amount} ${currency}`;
}
