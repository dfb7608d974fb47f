// Traffic (#traffic: the owner, marketing and analysts): the access logs' counts for a
// period, from GET /api/v1/staff/analytics/report (issue 10, item 4).
//
// Counts only: nothing on this screen names anyone. A value seen by fewer than k visitors
// comes as null (k is the answer's `fewer_than`) and is shown as "fewer than k". The
// charts are SVG drawn here with createElementNS; the CSP forbids inline styles, so every
// look is a class in traffic.css and every size an attribute (x, y, width, height). Each
// chart's numbers are also in a table, or a <title> per mark. Every value goes in with
// textContent. A table's CSV file is fetched with the tab's token (an Authorization
// header, which an <a href> cannot send) and saved from memory through a blob: URL.

import { clearErrors, showError } from "/static/js/forms.js";
import { acknowledged, checkPolicies } from "./policies.js";
import { ready } from "./shell.js";
import { ApiError, staffFetch } from "./staff-api.js";
import { cell, saveFile } from "./dom.js";

const API = "/api/v1/staff/analytics";
// As the need-to-know table grants view_aggregates (the server decides; this only shows
// the menu entry to those who could use it).
const ROLES = ["owner", "marketing", "analyst"];
const DEFAULT_DAYS = 30;
const SVG = "http://www.w3.org/2000/svg";
const DAY_MS = 86_400_000;

const $ = (selector, root = document) => root.querySelector(selector);
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const signed = new Intl.NumberFormat(undefined, {
  style: "percent",
  maximumFractionDigits: 1,
  signDisplay: "exceptZero",
});
const utc = (options) => new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" });
const PERIOD_LABELS = {
  hour: utc({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }),
  day: utc({ weekday: "short", day: "numeric", month: "short" }),
  week: utc({ day: "numeric", month: "short", year: "numeric" }),
  month: utc({ month: "long", year: "numeric" }),
};
const longDay = utc({ day: "numeric", month: "long", year: "numeric" });
const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const METRICS = { visitors: "Visitors", visits: "Visits", pageviews: "Pageviews" };

// What each breakdown is called and which of its counts it shows, as [field, heading].
const VISITORS = ["visitors", "Visitors"];
const PAGEVIEWS = ["hits", "Pageviews"];
const VISITS = ["visits", "Visits"];
const REQUESTS = ["hits", "Requests"];
const BREAKDOWNS = {
  page: ["Top pages", "Page", [VISITORS, PAGEVIEWS]],
  entry: ["Entry pages", "Page", [VISITORS, VISITS]],
  exit: ["Exit pages", "Page", [VISITORS, VISITS]],
  transition: ["Page to page", "From → to", [VISITORS, ["hits", "Times"]]],
  referrer: ["Referrers", "Domain", [VISITORS, VISITS]],
  browser: ["Browsers", "Browser", [VISITORS, PAGEVIEWS]],
  os: ["Operating systems", "System", [VISITORS, PAGEVIEWS]],
  device: ["Devices", "Device", [VISITORS, PAGEVIEWS]],
  country: ["Countries", "Country", [VISITORS, PAGEVIEWS]],
  status: ["Status codes", "Status", [VISITORS, REQUESTS]],
  missing: ["Missing pages (404)", "Path", [VISITORS, REQUESTS]],
  route: ["Slowest routes", "Route", [["mean_ms", "Mean time (ms)"], REQUESTS, VISITORS]],
  excluded: ["Left out of the counts", "What", [REQUESTS]],
  rejected: ["Rejected log lines", "Reason", [["hits", "Lines"]]],
};
const FIXED = { trend: "Trend", heatmap: "Time of day and day of the week", funnel: "Funnel" };
const STEPS = {
  product: "Viewed a product",
  cart: "Opened the cart",
  checkout: "Began the checkout",
  "order placed": "Placed an order",
};
const TOTALS = [
  ["visitors", "Visitors", (v) => number.format(v)],
  ["visits", "Visits", (v) => number.format(v)],
  ["pageviews", "Pageviews", (v) => number.format(v)],
  ["views_per_visit", "Views per visit", (v) => number.format(v)],
  ["bounce_rate", "Bounce rate", (v) => percent.format(v)],
  ["mean_visit_seconds", "Visit duration", (v) => duration(v)],
];

let me = null;
const state = { report: null, query: null, asked: 0, opened: false };

// ---------------------------------------------------------------- small builders

function duration(seconds) {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** A count, or "fewer than k" where k-anonymity hid it; "—" where there is nothing. */
function shown(value, k, format = (v) => number.format(v)) {
  if (value === null) return `fewer than ${k}`;
  return value === undefined ? "—" : format(value);
}

function element(tag, className, text) {
  const found = document.createElement(tag);
  if (className) found.className = className;
  if (text !== undefined) found.textContent = text;
  return found;
}

/** An SVG element with `attributes`, appended to `parent`. */
function svg(tag, attributes = {}, parent = null) {
  const found = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) found.setAttribute(name, String(value));
  parent?.append(found);
  return found;
}

/** A mark's tooltip (and its text for whoever reads the picture by its parts). */
function titled(mark, text) {
  svg("title", {}, mark).textContent = text;
  return mark;
}

function rect(parent, x, y, width, height, className) {
  return svg("rect", { x, y, width, height, class: className }, parent);
}

function label(parent, x, y, text, className = "traffic-axis", anchor = "start") {
  const found = svg("text", { x, y, class: className, "text-anchor": anchor }, parent);
  found.textContent = text;
  return found;
}

function picture(width, height, summary) {
  return svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "traffic-svg",
    role: "img",
    "aria-label": summary,
    focusable: "false",
  });
}

function table(caption, headings) {
  const found = element("table", "orders-table traffic-table");
  found.createCaption().textContent = caption;
  const head = found.createTHead().insertRow();
  for (const heading of headings) cell(head, heading, "th");
  return found;
}

function rowOf(body, header, values) {
  const row = body.insertRow();
  const first = cell(row, header, "th");
  first.scope = "row";
  for (const value of values) cell(row, value);
  return row;
}

/** A table of numbers that a chart draws, folded away under `summary`. */
function numbers(summary, found) {
  const details = element("details", "traffic-numbers");
  details.append(element("summary", "", summary), element("div", "table-scroll"));
  details.lastElementChild.append(found);
  return details;
}

const periodLabel = (start, by) => PERIOD_LABELS[by].format(new Date(start));
const dayLabel = (iso) => longDay.format(new Date(`${iso}T00:00:00Z`));

// ---------------------------------------------------------------- totals

function change(compared, name) {
  const found = compared.change[name];
  const before = compared.totals[name];
  const [, , format] = TOTALS.find(([field]) => field === name);
  const was = before === null ? "—" : format(before);
  if (found === null) return `before: ${was}`;
  return `${signed.format(found)} (before: ${was})`;
}

function renderTotals(found) {
  const list = $("[data-traffic-totals]");
  list.replaceChildren();
  for (const [name, title, format] of TOTALS) {
    const item = element("div", "traffic-total");
    item.dataset.total = name;
    // Totals are never hidden (k applies to a cell, not the whole); null: no visit at all.
    const value = element("dd", "traffic-value", shown(found.totals[name] ?? undefined, 0, format));
    item.append(element("dt", "", title), value);
    if (found.compared) {
      const moved = found.compared.change[name];
      const what = element("dd", "traffic-change", change(found.compared, name));
      if (moved) what.dataset.direction = moved > 0 ? "up" : "down";
      item.append(what);
    }
    list.append(item);
  }
  let said =
    `${dayLabel(found.from)} to ${dayLabel(found.to)} (UTC), ` +
    `${number.format(found.requests)} requests counted. Visitors over several days are ` +
    "each day's visitors added up: the key that tells visitors apart changes daily.";
  if (found.compared) {
    said += ` Compared with ${dayLabel(found.compared.from)} to ${dayLabel(found.compared.to)}.`;
  }
  $("[data-traffic-period]").textContent = said;
}

// ---------------------------------------------------------------- the trend

const TREND = { width: 720, height: 240, left: 52, right: 8, top: 12, bottom: 30 };

/** A round number at or above `most`, for the top of an axis. */
function ceiling(most) {
  if (most <= 5) return 5;
  const step = 10 ** Math.floor(Math.log10(most));
  return Math.ceil(most / step) * step;
}

function trendChart(found, metric) {
  const { width, height, left, right, top, bottom } = TREND;
  const points = found.trend;
  const k = found.fewer_than;
  const by = found.granularity;
  const plot = { width: width - left - right, height: height - top - bottom };
  const most = Math.max(0, ...points.filter((p) => !p.hidden).map((p) => p[metric]));
  const scale = ceiling(most);
  const peak = points.find((p) => !p.hidden && p[metric] === most && most > 0);
  const name = METRICS[metric];
  const summary =
    `${name} per ${by}, ${points.length} ${by}s` +
    (peak ? `, most ${number.format(most)} (${periodLabel(peak.start, by)})` : ", none counted") +
    ". The numbers are in the table below.";
  const chart = picture(width, height, summary);
  chart.dataset.metric = metric;
  const base = top + plot.height;
  for (const tick of [0, scale / 2, scale]) {
    const y = base - (tick / scale) * plot.height;
    svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "traffic-grid" }, chart);
    label(chart, left - 6, y + 4, number.format(tick), "traffic-axis", "end");
  }
  const step = plot.width / Math.max(points.length, 1);
  const gap = step > 4 ? step * 0.15 : 0;
  points.forEach((point, index) => {
    const x = left + index * step + gap;
    const barWidth = Math.max(step - 2 * gap, 0.5);
    const when = periodLabel(point.start, by);
    if (point.hidden) {
      const mark = rect(chart, x, top, barWidth, plot.height, "trend-mark trend-fewer");
      titled(mark, `${when}: fewer than ${k} visitors`);
      return;
    }
    const tall = (point[metric] / scale) * plot.height;
    const mark = rect(chart, x, base - tall, barWidth, tall, "trend-mark");
    titled(
      mark,
      `${when}: ${number.format(point.visitors)} visitors, ${number.format(point.visits)} ` +
        `visits, ${number.format(point.pageviews)} pageviews`,
    );
  });
  // Dates along the bottom: each of a dozen or fewer; else the first, the last, four between.
  const labels = points.length <= 12 ? points.length : 6;
  for (let n = 0; n < labels; n += 1) {
    const index = labels === 1 ? 0 : Math.round((n * (points.length - 1)) / (labels - 1));
    const x = left + index * step + step / 2;
    const anchor = n === 0 ? "start" : n === labels - 1 ? "end" : "middle";
    const at = n === 0 ? left : n === labels - 1 ? width - right : x;
    label(chart, at, height - 8, periodLabel(points[index].start, by), "traffic-axis", anchor);
  }
  return chart;
}

function trendTable(found) {
  const k = found.fewer_than;
  const by = found.granularity;
  const grid = table(`The trend by ${by}`, [
    by.charAt(0).toUpperCase() + by.slice(1),
    "Visitors",
    "Visits",
    "Pageviews",
    "Views per visit",
    "Bounce rate",
    "Visit duration",
  ]);
  const body = grid.createTBody();
  for (const point of found.trend) {
    const hide = (value, format) => (point.hidden ? `fewer than ${k}` : shown(value, k, format));
    rowOf(body, periodLabel(point.start, by), [
      hide(point.visitors),
      hide(point.visits),
      hide(point.pageviews),
      hide(point.views_per_visit ?? undefined),
      hide(point.bounce_rate ?? undefined, (v) => percent.format(v)),
      hide(point.mean_visit_seconds ?? undefined, duration),
    ]);
  }
  return grid;
}

function renderTrend() {
  const found = state.report;
  const metric = $("[data-traffic-metric]").value;
  const box = $("[data-traffic-trend]");
  box.replaceChildren(
    trendChart(found, metric),
    numbers("The trend's numbers", trendTable(found)),
  );
}

// ---------------------------------------------------------------- the heatmap

const HEAT = { cell: 24, row: 22, left: 44, top: 20, legend: 34 };

function heatClass(pageviews, most) {
  if (pageviews === null) return "heat-cell heat-fewer";
  if (!pageviews || !most) return "heat-cell heat-0";
  return `heat-cell heat-${Math.min(4, 1 + Math.floor((pageviews / most) * 4))}`;
}

function hourSpan(hour) {
  const two = (n) => String(n).padStart(2, "0");
  return `${two(hour)}:00 to ${two((hour + 1) % 24)}:00`;
}

function heatChart(found) {
  const { cell: size, row, left, top, legend } = HEAT;
  const k = found.fewer_than;
  const width = left + 24 * size;
  const height = top + 7 * row + legend;
  const most = Math.max(0, ...found.heatmap.map((c) => c.pageviews ?? 0));
  const chart = picture(
    width,
    height,
    `Pageviews by hour of the day (UTC) and day of the week; the most in one cell ` +
      `${number.format(most)}. The numbers are in the table below.`,
  );
  for (let hour = 0; hour < 24; hour += 3) {
    label(chart, left + hour * size + 2, top - 6, String(hour).padStart(2, "0"));
  }
  WEEKDAYS.forEach((day, weekday) => {
    label(chart, 0, top + weekday * row + row / 2 + 4, day.slice(0, 3));
  });
  for (const spot of found.heatmap) {
    const mark = svg("rect", {
      x: left + spot.hour * size + 1,
      y: top + spot.weekday * row + 1,
      width: size - 2,
      height: row - 2,
      class: heatClass(spot.pageviews, most),
      "data-weekday": spot.weekday,
      "data-hour": spot.hour,
    }, chart);
    const when = `${WEEKDAYS[spot.weekday]} ${hourSpan(spot.hour)} UTC`;
    titled(
      mark,
      spot.pageviews === null
        ? `${when}: fewer than ${k} visitors`
        : `${when}: ${number.format(spot.pageviews)} pageviews, ` +
            `${number.format(spot.visitors)} visitors`,
    );
  }
  // The legend: from none to the most, and the cells hidden for having too few visitors.
  const y = top + 7 * row + 12;
  label(chart, left, y + 12, "None");
  for (let level = 0; level <= 4; level += 1) {
    rect(chart, left + 40 + level * 20, y, 18, 16, `heat-cell heat-${level}`);
  }
  label(chart, left + 146, y + 12, "Most");
  rect(chart, left + 210, y, 18, 16, "heat-cell heat-fewer");
  label(chart, left + 234, y + 12, `Fewer than ${k} visitors`);
  return chart;
}

function heatTable(found) {
  const k = found.fewer_than;
  const hours = Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, "0"));
  const grid = table("Pageviews by weekday (rows) and hour, UTC (columns)", [
    "Day",
    ...hours,
  ]);
  const body = grid.createTBody();
  WEEKDAYS.forEach((day, weekday) => {
    const cells = found.heatmap.filter((spot) => spot.weekday === weekday);
    cells.sort((a, b) => a.hour - b.hour);
    rowOf(body, day, cells.map((spot) => shown(spot.pageviews, k)));
  });
  return grid;
}

function renderHeatmap(found) {
  $("[data-traffic-heatmap]").replaceChildren(
    heatChart(found),
    numbers("The heatmap's numbers", heatTable(found)),
  );
}

// ---------------------------------------------------------------- the funnel

const FUNNEL = { width: 720, row: 34, left: 170, right: 130 };

function funnelChart(found) {
  const { width, row, left, right } = FUNNEL;
  const k = found.fewer_than;
  const steps = found.funnel;
  const most = Math.max(1, ...steps.map((step) => step.visits ?? 0));
  const chart = picture(
    width,
    row * steps.length + 4,
    "The funnel's visits at each step; the numbers and the drop-off are in the table below.",
  );
  steps.forEach((step, index) => {
    const y = index * row + 4;
    const name = STEPS[step.step] ?? step.step;
    label(chart, 0, y + row / 2 + 2, name);
    const full = width - left - right;
    if (step.visits === null) {
      const mark = rect(chart, left, y, full, row - 10, "funnel-mark funnel-fewer");
      titled(mark, `${name}: fewer than ${k} visitors`);
      label(chart, width - right + 8, y + row / 2 + 2, `fewer than ${k}`);
      return;
    }
    const long = (step.visits / most) * full;
    const mark = rect(chart, left, y, long, row - 10, "funnel-mark");
    titled(mark, `${name}: ${number.format(step.visits)} visits`);
    label(chart, left + long + 8, y + row / 2 + 2, `${number.format(step.visits)} visits`);
  });
  return chart;
}

function funnelTable(found) {
  const k = found.fewer_than;
  const grid = table("Visits at each step of the funnel, and the drop-off from the step before", [
    "Step",
    "Visits",
    "Visitors",
    "Went on from the step before",
    "Dropped off",
  ]);
  grid.dataset.funnel = "";
  const body = grid.createTBody();
  found.funnel.forEach((step, index) => {
    const hidden = step.visitors === null;
    const share = step.of_previous;
    let wentOn = "—";
    let dropped = "—";
    if (hidden) {
      wentOn = `fewer than ${k}`;
      dropped = `fewer than ${k}`;
    } else if (index > 0 && share !== null) {
      wentOn = percent.format(share);
      dropped = percent.format(Math.max(0, 1 - share));
    }
    const row = rowOf(body, STEPS[step.step] ?? step.step, [
      shown(step.visits, k),
      shown(step.visitors, k),
      wentOn,
      dropped,
    ]);
    row.dataset.step = step.step;
  });
  return grid;
}

function renderFunnel(found) {
  const box = $("[data-traffic-funnel]");
  box.replaceChildren(funnelChart(found), element("div", "table-scroll"));
  box.lastElementChild.append(funnelTable(found));
}

// ---------------------------------------------------------------- the breakdowns

function breakdownSection(name, found, k) {
  const [title, heading, columns] = BREAKDOWNS[name] ?? [name, "Value", [VISITORS, REQUESTS]];
  const section = element("section", "traffic-part");
  section.dataset.trafficTable = name;
  const id = `traffic-${name}-heading`;
  section.setAttribute("aria-labelledby", id);
  const h2 = element("h2", "", title);
  h2.id = id;
  section.append(h2, csvButton(name, title));
  const listed = found.rows.length;
  const folded = found.folded ? `, ${number.format(found.folded)} more in (other)` : "";
  const of = `${number.format(listed)} of ${number.format(found.values)}`;
  const caption = `${title}: ${of} shown${folded}`;
  const shownTable = table(caption, [heading, ...columns.map(([, text]) => text)]);
  const body = shownTable.createTBody();
  const rows = [...found.rows, ...(found.other ? [found.other] : [])];
  for (const row of rows) {
    const values = columns.map(([field]) => {
      // A listed route with no timed request has no mean; a hidden row hides it too.
      if (field === "mean_ms" && row.mean_ms === null && row.visitors !== null) return "—";
      return shown(row[field], k);
    });
    const line = rowOf(body, row.value, values);
    if (row === found.other) line.className = "traffic-other";
  }
  if (!rows.length) {
    const empty = body.insertRow().insertCell();
    empty.colSpan = columns.length + 1;
    empty.className = "note";
    empty.textContent = "Nothing counted in this period.";
  }
  const scroll = element("div", "table-scroll");
  scroll.append(shownTable);
  section.append(scroll);
  return section;
}

function renderBreakdowns(found) {
  const box = $("[data-traffic-breakdowns]");
  box.replaceChildren();
  for (const [name, breakdown] of Object.entries(found.breakdowns)) {
    box.append(breakdownSection(name, breakdown, found.fewer_than));
  }
}

// ---------------------------------------------------------------- CSV files

function fileName(response, table) {
  const found = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "");
  return found ? found[1] : `traffic-${table}.csv`;
}

/** One table of the report shown, every row of it, as CSV (the token in a header). */
async function downloadCsv(table, button) {
  const query = new URLSearchParams(state.query);
  query.delete("compare");
  button.disabled = true;
  try {
    const path = `${API}/tables/${encodeURIComponent(table)}.csv?${query}`;
    const response = await staffFetch(path, { file: "text/csv" });
    saveFile(await response.blob(), fileName(response, table));
    say("");
  } catch (error) {
    if (!error?.signInShown) say(`The CSV file could not be fetched: ${error.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

function csvButton(table, title) {
  const button = element("button", "secondary traffic-csv", "Download CSV");
  button.type = "button";
  button.dataset.csv = table;
  button.append(element("span", "visually-hidden", ` of ${title.toLowerCase()}`));
  button.addEventListener("click", () => downloadCsv(table, button));
  return button;
}

// ---------------------------------------------------------------- asking

/** Put `text` in the screen's live region. */
function say(text, kind = "info") {
  const box = $("[data-traffic-message]");
  box.textContent = text;
  box.dataset.kind = kind;
}

function render(found) {
  state.report = found;
  for (const slot of document.querySelectorAll("[data-traffic-k]")) {
    slot.textContent = String(found.fewer_than);
  }
  renderTotals(found);
  renderTrend();
  renderHeatmap(found);
  renderFunnel(found);
  renderBreakdowns(found);
}

function queryOf(form) {
  const query = new URLSearchParams({
    from: form.elements.from.value,
    to: form.elements.to.value,
    by: form.elements.by.value,
  });
  if (form.elements.compare.checked) query.set("compare", "true");
  return query;
}

/** Show the screen's answer to this role: refused, the form and report stay hidden. */
function refused(message) {
  $("[data-traffic-form]").hidden = true;
  $("[data-traffic-report]").hidden = true;
  say(`${message} Traffic is for the owner, marketing and analysts.`, "error");
}

/** Ask for the form's period and show it; a later question wins over an earlier one. */
async function load() {
  const form = $("[data-traffic-form]");
  const report = $("[data-traffic-report]");
  const query = queryOf(form);
  const asked = ++state.asked;
  clearErrors(form);
  say("Loading the traffic…");
  report.setAttribute("aria-busy", "true");
  try {
    const found = await staffFetch(`${API}/report?${query}`);
    if (asked !== state.asked) return;
    state.query = query;
    form.hidden = false;
    render(found);
    report.hidden = false;
    say(`Showing ${dayLabel(found.from)} to ${dayLabel(found.to)}.`, "success");
  } catch (error) {
    if (asked !== state.asked || error?.signInShown) return;
    say("");
    report.hidden = true; // no numbers beside an error about another period
    if (error instanceof ApiError && error.code === "policies_pending") {
      checkPolicies();
      say("Please acknowledge the current policies first.", "error");
    } else if (error instanceof ApiError && error.status === 403) {
      refused(error.message);
    } else {
      showError(form, error); // the API's message; a 400 names its fields
      if (error instanceof ApiError && error.code === "invalid_period") {
        for (const name of ["from", "to"]) form.elements[name].setAttribute("aria-invalid", "true");
      }
    }
  } finally {
    if (asked === state.asked) report.removeAttribute("aria-busy");
  }
}

/** The last DEFAULT_DAYS UTC days, today included (the API's default too). */
function defaultPeriod(form) {
  const today = Date.now();
  form.elements.to.value = new Date(today).toISOString().slice(0, 10);
  form.elements.from.value = new Date(today - (DEFAULT_DAYS - 1) * DAY_MS)
    .toISOString()
    .slice(0, 10);
}

function wire() {
  const form = $("[data-traffic-form]");
  defaultPeriod(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await load();
    } finally {
      button.disabled = false;
    }
  });
  for (const fieldset of form.querySelectorAll("fieldset[data-needs-script]")) {
    fieldset.disabled = false;
  }
  $("[data-traffic-metric]").addEventListener("change", () => state.report && renderTrend());
  for (const [table, title] of Object.entries(FIXED)) {
    const heading = $(`[data-traffic-table="${table}"] h2`);
    heading.after(csvButton(table, title));
  }
}

// ---------------------------------------------------------------- which screen

const allowed = () => me.roles.some((role) => ROLES.includes(role));

function route() {
  const here = decodeURIComponent(window.location.hash.slice(1)).split("/")[0] === "traffic";
  $("[data-traffic-screen]").hidden = !here;
  document.querySelector('[data-nav="traffic"] a')?.toggleAttribute("aria-current", here);
  if (!here || state.opened) return;
  state.opened = true;
  // Shown to whoever opens it; the server answers, and refuses a role without the right.
  if (allowed()) $("[data-traffic-form]").hidden = false;
  acknowledged.then(load);
}

async function start() {
  me = await ready;
  if (!me) return;
  const entry = document.querySelector('[data-nav="traffic"]');
  if (entry && allowed()) entry.hidden = false;
  wire();
  window.addEventListener("hashchange", route);
  route();
}

start();
