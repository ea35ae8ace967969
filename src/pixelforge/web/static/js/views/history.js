// History: every image you made, newest first, searchable by prompt text and filterable by
// model, workspace and date; paged; the matching images as a zip. The filters live in the
// hash (#/history?q=cat&model=compose&page=2), so a reload or a shared link keeps them.

import { ApiError, api, get, query } from "../api.js";
import { debounce, field, h, options, toast } from "../dom.js";
import { assetTile } from "../gallery.js";
import { on, state } from "../state.js";

const PAGE_SIZE = 24;
const PAGE_SIZES = [12, 24, 48, 96];
const MAX_SIZE = 200; // the API's largest page
const MAX_EXPORT_IDS = 500; // POST /api/assets/export takes at most this many ids
const FILTER_KEYS = ["q", "model", "workspace", "from", "to"];

/** The filters from the hash query; unknown or bad values fall back to the defaults. */
function readFilters() {
  const text = location.hash.includes("?") ? location.hash.slice(location.hash.indexOf("?") + 1) : "";
  const params = new URLSearchParams(text);
  const filters = { q: "", model: "", workspace: "", from: "", to: "", page: 1, size: PAGE_SIZE };
  for (const key of FILTER_KEYS) filters[key] = params.get(key) || "";
  if (!["draft", "explore"].includes(filters.workspace)) filters.workspace = "";
  for (const key of ["from", "to"]) if (!/^\d{4}-\d{2}-\d{2}$/.test(filters[key])) filters[key] = "";
  const page = Number.parseInt(params.get("page") || "1", 10);
  filters.page = Number.isFinite(page) && page > 0 ? page : 1;
  const size = Number.parseInt(params.get("size") || "", 10);
  filters.size = Number.isFinite(size) && size > 0 ? Math.min(size, MAX_SIZE) : PAGE_SIZE;
  return filters;
}

/** Put the filters in the hash without a hashchange (the view stays, focus stays). */
function writeFilters(filters) {
  const params = {};
  for (const key of FILTER_KEYS) params[key] = filters[key];
  if (filters.page > 1) params.page = filters.page;
  if (filters.size !== PAGE_SIZE) params.size = filters.size;
  history.replaceState(null, "", `#/history${query(params)}`);
}

/** Local midnight of a YYYY-MM-DD day (plus `days`), as epoch seconds. */
function midnight(day, days = 0) {
  const [y, m, d] = day.split("-").map(Number);
  return Math.floor(new Date(y, m - 1, d + days).getTime() / 1000);
}

/** The API's query for the filters: `until` is the next day's midnight, so `to` is included. */
function apiParams(filters) {
  return {
    q: filters.q.trim(),
    model: filters.model,
    workspace: filters.workspace,
    since: filters.from ? midnight(filters.from) : "",
    until: filters.to ? midnight(filters.to, 1) : "",
  };
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function fileName(response, fallback) {
  const match = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
  return match ? match[1] : fallback;
}

/** Every matching id (the export's own filter knows no prompt text or workspace). */
async function matchingIds(params, total) {
  const ids = [];
  for (let offset = 0; offset < total; offset += MAX_SIZE) {
    const page = await get(`/api/assets${query({ ...params, offset, limit: MAX_SIZE })}`);
    ids.push(...page.data.map((a) => a.id));
    if (!page.has_more) break;
  }
  return ids;
}

async function exportBody(filters, total) {
  const params = apiParams(filters);
  if (total <= MAX_EXPORT_IDS) return { asset_ids: await matchingIds(params, total) };
  if (params.q || params.workspace) {
    throw new Error(
      `${total} images match; an export holds at most ${MAX_EXPORT_IDS} when searching by ` +
        "prompt or workspace. Narrow the search or the dates.",
    );
  }
  const filter = { model: params.model || null, since: params.since || null, until: params.until || null };
  return { filter };
}

export function render(root) {
  const filters = readFilters();
  let total = 0;
  let ticket = 0; // the latest load; older answers are dropped

  const search = h("input", { type: "search", name: "q", value: filters.q, placeholder: "Words in the prompt", autocomplete: "off" });
  const models = [["", "All models"], ...state.models.map((m) => [m.id, m.id])];
  if (filters.model && !models.some(([id]) => id === filters.model)) models.push([filters.model, filters.model]);
  const model = h("select", { name: "model" }, options(models, filters.model));
  const workspace = h(
    "select",
    { name: "workspace" },
    options([["", "All"], ["draft", "Draft"], ["explore", "Explore"]], filters.workspace),
  );
  const from = h("input", { type: "date", name: "from", value: filters.from });
  const to = h("input", { type: "date", name: "to", value: filters.to });
  const sizes = PAGE_SIZES.includes(filters.size) ? PAGE_SIZES : [...PAGE_SIZES, filters.size].sort((a, b) => a - b);
  const size = h("select", { name: "size" }, options(sizes, filters.size));
  const clearButton = h("button", { type: "button" }, "Clear filters");
  const exportButton = h("button", { type: "button" }, "Export as zip");
  const error = h("p", { class: "form-error", role: "alert" });
  const count = h("p", { class: "muted history-count", "aria-live": "polite" });
  const gallery = h("div", { class: "gallery", "aria-label": "Images" });
  const prev = h("button", { type: "button" }, "Previous");
  const next = h("button", { type: "button" }, "Next");
  const range = h("span", { class: "muted" });

  function syncFromControls() {
    Object.assign(filters, {
      q: search.value, model: model.value, workspace: workspace.value, from: from.value,
      to: to.value, size: Number(size.value) || PAGE_SIZE,
    });
  }

  function changed() {
    syncFromControls();
    filters.page = 1;
    load();
  }

  async function load() {
    error.textContent = "";
    if (filters.from && filters.to && filters.from > filters.to) {
      error.textContent = "“From” is after “to”: no day is in that range.";
      return;
    }
    writeFilters(filters);
    const mine = ++ticket;
    const offset = (filters.page - 1) * filters.size;
    gallery.setAttribute("aria-busy", "true");
    try {
      const page = await get(`/api/assets${query({ ...apiParams(filters), offset, limit: filters.size })}`);
      if (mine !== ticket) return;
      if (page.data.length === 0 && page.total > 0 && filters.page > 1) {
        filters.page = Math.ceil(page.total / filters.size); // past the end: the last page
        load();
        return;
      }
      show(page, offset);
    } catch (err) {
      if (mine !== ticket) return;
      error.textContent = err.message;
    } finally {
      if (mine === ticket) gallery.removeAttribute("aria-busy");
    }
  }

  function show(page, offset) {
    total = page.total;
    const filtered = FILTER_KEYS.some((k) => filters[k]);
    gallery.replaceChildren(...page.data.map((asset) => assetTile(asset)));
    if (page.data.length === 0) {
      gallery.append(
        h("p", { class: "empty" }, filtered ? "No images match these filters." : "No images yet: make some in Draft or Explore."),
      );
    }
    const text = total ? `${offset + 1}–${offset + page.data.length} of ${total}` : "0 of 0";
    count.textContent = `${text} image${total === 1 ? "" : "s"}`;
    range.textContent = `Page ${filters.page} of ${Math.max(1, Math.ceil(total / filters.size))}`;
    prev.disabled = filters.page <= 1;
    next.disabled = !page.has_more;
    exportButton.disabled = total === 0;
  }

  async function exportZip() {
    error.textContent = "";
    exportButton.disabled = true;
    const label = exportButton.textContent;
    exportButton.textContent = "Preparing zip…";
    try {
      const body = await exportBody(filters, total);
      const response = await api("/api/assets/export", { method: "POST", body, raw: true });
      download(await response.blob(), fileName(response, "pixelforge-export.zip"));
      toast(`Exported ${total} image${total === 1 ? "" : "s"}`, "ok");
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err.message || err);
    } finally {
      exportButton.textContent = label;
      exportButton.disabled = total === 0;
    }
  }

  const typed = debounce(changed, 300);
  search.addEventListener("input", typed);
  for (const control of [model, workspace, from, to, size]) control.addEventListener("change", changed);
  clearButton.addEventListener("click", () => {
    search.value = model.value = workspace.value = from.value = to.value = "";
    changed();
    search.focus();
  });
  exportButton.addEventListener("click", exportZip);
  prev.addEventListener("click", () => {
    filters.page = Math.max(1, filters.page - 1);
    load();
  });
  next.addEventListener("click", () => {
    filters.page += 1;
    load();
  });

  const form = h(
    "form",
    { class: "toolbar history-filters", role: "search", "aria-label": "Filter your images" },
    field("Search prompts", search),
    field("Model", model),
    field("Workspace", workspace),
    field("From", from),
    field("To", to),
    field("Per page", size),
    h("div", { class: "row" }, clearButton, exportButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    changed();
  });

  root.append(
    h("div", { class: "spread" }, h("h1", null, "History"), count),
    form,
    error,
    gallery,
    h("nav", { class: "row pager", "aria-label": "Pages" }, prev, range, next),
  );
  load();
  // A job that finishes elsewhere (another tab's tile, a dialog action) shows up here.
  return on("assets", () => load());
}
