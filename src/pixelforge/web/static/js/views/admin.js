// Admin (admins only; the API answers 403 to anyone else): Users (balances, credits,
// quotas, new users) and Usage (charged credits per day and model: an SVG chart, the same
// numbers as a table, and a CSV download). #/admin/usage opens the Usage tab.

import { ApiError, api, get, post, query } from "../api.js";
import { field, h, options, s, toast, usd } from "../dom.js";
import { state } from "../state.js";

const TABS = [
  ["users", "Users"],
  ["usage", "Usage"],
];

/** A v4 UUID; crypto.randomUUID only exists on secure origins (https, localhost). */
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function message(err) {
  return err instanceof ApiError ? err.message : String(err.message || err);
}

/** Tabs with role=tablist; arrow keys, Home and End move between them. */
function tabs(active, panels, onSwitch) {
  const buttons = TABS.map(([id, label]) =>
    h("button", { type: "button", role: "tab", id: `admin-tab-${id}`, "aria-controls": `admin-panel-${id}` }, label),
  );
  const select = (index, focus) => {
    buttons.forEach((button, i) => {
      const on = i === index;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      panels[i].hidden = !on;
    });
    if (focus) buttons[index].focus();
    onSwitch(TABS[index][0]);
  };
  buttons.forEach((button, i) => {
    button.addEventListener("click", () => select(i, false));
    button.addEventListener("keydown", (event) => {
      const last = buttons.length - 1;
      const to = { ArrowRight: i === last ? 0 : i + 1, ArrowLeft: i === 0 ? last : i - 1, Home: 0, End: last }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      select(to, true);
    });
  });
  panels.forEach((panel, i) => {
    panel.setAttribute("role", "tabpanel");
    panel.id = `admin-panel-${TABS[i][0]}`;
    panel.setAttribute("aria-labelledby", buttons[i].id);
    panel.tabIndex = 0;
  });
  select(Math.max(0, TABS.findIndex(([id]) => id === active)), false);
  return h("div", { role: "tablist", "aria-label": "Admin sections" }, buttons);
}

// -- Users ---------------------------------------------------------------------------------

function createUserForm(onCreated) {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off" });
  const password = h("input", { type: "password", name: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, options([["member", "Member"], ["admin", "Admin"]], "member"));
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create user");
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "admin-new-user" },
    h("h2", { id: "admin-new-user" }, "New user"),
    h("div", { class: "columns" }, field("Email", email), field("Password", password, "At least 8 characters"), field("Role", role)),
    error,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const user = await post("/api/admin/users", { email: email.value.trim(), password: password.value, role: role.value });
      form.reset();
      toast(`Created ${user.email}`, "ok");
      onCreated(user);
    } catch (err) {
      error.textContent = message(err);
      ({ email, password, role })[err.param]?.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The inline "Add credits" form; one Idempotency-Key per grant (a retry reuses it). */
function creditsForm(user, onDone, close) {
  let key = uuid();
  const amount = h("input", { type: "text", name: "amount", inputmode: "decimal", required: true, placeholder: "10.00", autocomplete: "off" });
  const note = h("input", { type: "text", name: "note", maxlength: 400, autocomplete: "off" });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary small" }, "Grant");
  const cancel = h("button", { type: "button", class: "small" }, "Cancel");
  const form = h(
    "form",
    { class: "row admin-inline", novalidate: true, "aria-label": `Add credits to ${user.email}` },
    field("Amount (USD)", amount),
    field("Note", note, "Optional; shown in the ledger"),
    submit,
    cancel,
    error,
  );
  amount.addEventListener("input", () => {
    key = uuid(); // a different grant: a new key
  });
  cancel.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const value = amount.value.trim().replace(/^\$/, "");
    if (!/^\d+(\.\d{1,6})?$/.test(value) || Number(value) <= 0) {
      error.textContent = "amount: a positive number of dollars, e.g. 10 or 2.50";
      amount.focus();
      return;
    }
    submit.disabled = true;
    try {
      const answer = await post(
        `/api/admin/users/${encodeURIComponent(user.id)}/credits`,
        { amount: value, kind: "grant", note: note.value.trim() },
        { "Idempotency-Key": key },
      );
      toast(`Granted ${usd(value)} to ${user.email}`, "ok");
      onDone({ ...user, balance: answer.balance });
    } catch (err) {
      error.textContent = message(err);
      submit.disabled = false;
    }
  });
  return { form, focus: () => amount.focus() };
}

function quotasForm(user, onDone, close) {
  const daily = h("input", { type: "text", name: "daily", inputmode: "decimal", value: user.daily_quota ?? "", autocomplete: "off" });
  const monthly = h("input", { type: "text", name: "monthly", inputmode: "decimal", value: user.monthly_quota ?? "", autocomplete: "off" });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary small" }, "Save quotas");
  const cancel = h("button", { type: "button", class: "small" }, "Cancel");
  const form = h(
    "form",
    { class: "row admin-inline", novalidate: true, "aria-label": `Quotas of ${user.email}` },
    field("Daily (USD)", daily, "Empty: no limit"),
    field("Monthly (USD)", monthly, "Empty: no limit"),
    submit,
    cancel,
    error,
  );
  cancel.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const value = (input) => input.value.trim().replace(/^\$/, "") || null;
    submit.disabled = true;
    try {
      const saved = await api(`/api/admin/users/${encodeURIComponent(user.id)}/quotas`, {
        method: "PUT", body: { daily: value(daily), monthly: value(monthly) },
      });
      toast(`Saved the quotas of ${user.email}`, "ok");
      onDone(saved);
    } catch (err) {
      error.textContent = message(err);
      ({ daily, monthly })[err.param]?.focus();
      submit.disabled = false;
    }
  });
  return { form, focus: () => daily.focus() };
}

function usersPanel() {
  const body = h("tbody");
  const panel = h("div", { class: "stack" });
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": "Users" },
      h("thead", null, h("tr", null,
        ["Email", "Role", "Balance", "Daily quota", "Monthly quota", "Actions"].map((t) =>
          h("th", { scope: "col", class: ["Balance", "Daily quota", "Monthly quota"].includes(t) ? "num" : null }, t)))),
      body,
    ),
  );

  function row(user) {
    const grant = h("button", { type: "button", class: "small", "aria-label": `Add credits to ${user.email}` }, "Add credits");
    const quotas = h("button", { type: "button", class: "small", "aria-label": `Edit quotas of ${user.email}` }, "Quotas");
    const tr = h(
      "tr",
      { dataset: { userId: user.id } },
      h("th", { scope: "row" }, user.email, user.disabled ? h("span", { class: "badge" }, " disabled") : null),
      h("td", null, user.role),
      h("td", { class: "num user-balance" }, usd(user.balance)),
      h("td", { class: "num" }, user.daily_quota === null ? "none" : usd(user.daily_quota)),
      h("td", { class: "num" }, user.monthly_quota === null ? "none" : usd(user.monthly_quota)),
      h("td", null, h("div", { class: "row" }, grant, quotas)),
    );
    const open = (make, button) => {
      const previous = tr.nextElementSibling;
      if (previous && previous.classList.contains("admin-edit")) previous.remove();
      const close = () => {
        edit.remove();
        button.focus();
      };
      const done = (next) => {
        const fresh = row(next);
        edit.remove();
        tr.replaceWith(fresh);
        fresh.querySelector("button").focus();
        if (next.id === state.me?.id) import("../app.js").then((app) => app.refreshCredits());
      };
      const made = make(user, done, close);
      const edit = h("tr", { class: "admin-edit" }, h("td", { colspan: 6 }, made.form));
      tr.after(edit);
      made.focus();
    };
    grant.addEventListener("click", () => open(creditsForm, grant));
    quotas.addEventListener("click", () => open(quotasForm, quotas));
    return tr;
  }

  async function load() {
    const list = await get("/api/admin/users");
    body.replaceChildren(...list.data.map(row));
  }

  panel.append(
    createUserForm(() => load().catch((err) => toast(message(err), "error"))),
    h("section", { class: "stack", "aria-label": "All users" }, h("h2", null, "Users"), table),
  );
  return { panel, load };
}

// -- Usage ---------------------------------------------------------------------------------

const PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#14b8a6", "#f97316", "#64748b", "#ec4899"];
/** The chart box in SVG units; the width follows the figure (text stays readable). */
const CHART = { width: 760, height: 280, left: 64, right: 12, top: 26, bottom: 44 };
const MAX_DAYS = 400;

/** A Date as its UTC day, YYYY-MM-DD (the usage report counts UTC days). */
function utcDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The UTC midnight of a YYYY-MM-DD day plus `plus` days, as epoch seconds. */
function utcSeconds(day, plus = 0) {
  const [y, m, d] = day.split("-").map(Number);
  return Date.UTC(y, m - 1, d + plus) / 1000;
}

function dayRange(from, to) {
  const out = [];
  for (let t = utcSeconds(from); t <= utcSeconds(to) && out.length < MAX_DAYS; t += 86400) {
    out.push(utcDay(new Date(t * 1000)));
  }
  return out;
}

/** A round axis top and step (1, 2 or 5 times a power of ten) for values up to `max`. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((k) => k * power).find((v) => v >= rough);
  return { top: Math.ceil(max / step) * step, step };
}

/** The report's rows grouped: per day per model {charged, jobs}, and per-model totals. */
function summarize(rows, from, to) {
  const days = dayRange(from, to);
  for (const row of rows) if (!days.includes(row.day)) days.push(row.day);
  days.sort();
  const cells = new Map(days.map((d) => [d, new Map()]));
  const models = new Map();
  for (const row of rows) {
    const model = row.model || "(none)";
    const cell = cells.get(row.day).get(model) || { charged: 0, jobs: 0 };
    cell.charged += Number(row.charged);
    cell.jobs += row.jobs;
    cells.get(row.day).set(model, cell);
    const sum = models.get(model) || { charged: 0, jobs: 0 };
    sum.charged += Number(row.charged);
    sum.jobs += row.jobs;
    models.set(model, sum);
  }
  const order = [...models.keys()].sort((a, b) => models.get(b).charged - models.get(a).charged || a.localeCompare(b));
  const colors = new Map(order.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
  return { days, cells, models, order, colors };
}

function chartLabel(sum, from, to) {
  const total = [...sum.models.values()].reduce((a, m) => a + m.charged, 0);
  const jobs = [...sum.models.values()].reduce((a, m) => a + m.jobs, 0);
  const per = sum.order.map((m) => `${m} ${usd(sum.models.get(m).charged)}`).join(", ");
  return `Charged credits per UTC day, ${from} to ${to}: ${usd(total)} over ${jobs} jobs` + (per ? `; ${per}.` : ".");
}

function drawChart(sum, from, to, space) {
  const { left, right, top, bottom } = CHART;
  const width = Math.round(Math.min(CHART.width, Math.max(300, space || CHART.width)));
  const height = Math.round(Math.min(CHART.height, Math.max(210, width * 0.5)));
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const totals = sum.days.map((d) => [...sum.cells.get(d).values()].reduce((a, c) => a + c.charged, 0));
  const scale = niceScale(Math.max(0, ...totals));
  const y = (v) => top + plotH - (v / scale.top) * plotH;
  const band = plotW / sum.days.length;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": chartLabel(sum, from, to) });
  for (let v = 0; v <= scale.top + scale.step / 2; v += scale.step) {
    svg.append(
      s("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }),
      s("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, usd(Number(v.toFixed(6)))),
    );
  }
  const every = Math.ceil(sum.days.length / Math.max(2, Math.floor(plotW / 48)));
  sum.days.forEach((day, i) => {
    let base = 0;
    const x = left + i * band + band * 0.15;
    for (const model of sum.order) {
      const cell = sum.cells.get(day).get(model);
      if (!cell || cell.charged <= 0) continue;
      const jobs = `${cell.jobs} job${cell.jobs === 1 ? "" : "s"}`;
      svg.append(
        s("rect", { class: "bar", x, y: y(base + cell.charged), width: Math.max(1, band * 0.7), height: Math.max(1, y(base) - y(base + cell.charged)), fill: sum.colors.get(model), "data-model": model, "data-day": day },
          s("title", null, `${day} · ${model}: ${usd(cell.charged)} (${jobs})`)),
      );
      base += cell.charged;
    }
    if (i % every === 0) {
      svg.append(s("text", { x: left + i * band + band / 2, y: height - bottom + 16, "text-anchor": "middle" }, day.slice(5)));
    }
  });
  svg.append(
    s("line", { class: "axis", x1: left, x2: width - right, y1: y(0), y2: y(0) }),
    s("line", { class: "axis", x1: left, x2: left, y1: top, y2: y(0) }),
    s("text", { x: left + plotW / 2, y: height - 6, "text-anchor": "middle" }, "Day (UTC, month-day)"),
    s("text", { x: 4, y: top - 12 }, "USD"),
  );
  return svg;
}

function legend(sum) {
  return h(
    "div",
    { class: "legend-row" },
    sum.order.map((model) =>
      h("span", null, h("span", { class: "swatch", style: { background: sum.colors.get(model) } }), `${model} · ${usd(sum.models.get(model).charged)}`),
    ),
  );
}

function usageTable(rows) {
  const total = rows.reduce((a, r) => a + Number(r.charged), 0);
  const jobs = rows.reduce((a, r) => a + r.jobs, 0);
  const num = { class: "num" };
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      h("caption", { class: "sr-only" }, "Charged credits per day, user and model"),
      h("thead", null, h("tr", null, ["Day (UTC)", "User", "Model", "Jobs", "Charged"].map((t) =>
        h("th", { scope: "col", class: ["Jobs", "Charged"].includes(t) ? "num" : null }, t)))),
      h("tbody", null, rows.map((r) =>
        h("tr", null, h("td", null, r.day), h("td", null, r.user), h("td", null, r.model || "(none)"),
          h("td", num, r.jobs), h("td", num, usd(r.charged))))),
      h("tfoot", null, h("tr", null, h("th", { scope: "row", colspan: 3 }, "Total"), h("td", num, jobs), h("td", num, usd(total)))),
    ),
  );
}

function usagePanel() {
  const today = utcDay(new Date());
  const from = h("input", { type: "date", name: "since", value: utcDay(new Date(Date.now() - 29 * 86400_000)) });
  const to = h("input", { type: "date", name: "until", value: today });
  const csv = h("a", { class: "button", download: "usage.csv" }, "Download CSV");
  const error = h("p", { class: "form-error", role: "alert" });
  const figure = h("figure", { class: "chart card" });
  const table = h("div");
  const form = h(
    "form",
    { class: "toolbar", "aria-label": "Usage range" },
    field("From (UTC day)", from),
    field("To (UTC day)", to),
    h("button", { type: "submit", class: "primary" }, "Show"),
    csv,
  );
  const panel = h("div", { class: "stack" }, form, error, figure, h("h2", null, "Usage table"), table);

  async function load() {
    error.textContent = "";
    if (!from.value || !to.value || from.value > to.value) {
      error.textContent = "Choose a from day on or before the to day.";
      return;
    }
    const range = { since: utcSeconds(from.value), until: utcSeconds(to.value, 1) };
    csv.href = `/api/admin/usage${query({ ...range, format: "csv" })}`;
    figure.setAttribute("aria-busy", "true");
    try {
      const answer = await get(`/api/admin/usage${query(range)}`);
      const sum = summarize(answer.data, from.value, to.value);
      const caption = h("figcaption", null, h("h2", null, "Charged credits per day"), legend(sum));
      if (!answer.data.length) caption.append(h("p", { class: "muted" }, "No charges in this range."));
      const space = figure.clientWidth ? figure.clientWidth - 34 : 0; // less padding, border
      figure.replaceChildren(caption, drawChart(sum, from.value, to.value, space));
      table.replaceChildren(answer.data.length ? usageTable(answer.data) : h("p", { class: "muted" }, "No rows."));
    } catch (err) {
      error.textContent = message(err);
    } finally {
      figure.removeAttribute("aria-busy");
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  return { panel, load };
}

export async function render(root, { args }) {
  root.append(h("h1", null, "Admin"));
  if (!state.me || state.me.role !== "admin") {
    root.append(h("p", { class: "empty" }, "Admins only. Ask an administrator if you need access."));
    return;
  }
  const users = usersPanel();
  const usage = usagePanel();
  let usageLoaded = false;
  const list = tabs(args[0] || "users", [users.panel, usage.panel], (id) => {
    history.replaceState(null, "", id === "users" ? "#/admin" : `#/admin/${id}`);
    if (id === "usage" && !usageLoaded) {
      usageLoaded = true;
      usage.load();
    }
  });
  root.append(list, users.panel, usage.panel);
  await users.load();
}
