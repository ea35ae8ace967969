// Batch: upload a JSONL of image requests (POST /v1/files, then POST /v1/batches), then
// follow your batches: status, progress from request_counts (polled every second while one
// runs), cancel, and the output, error and images files when they are written.

import { ApiError, api, get, post } from "../api.js";
import { dropTarget, field, h, options, toast, when } from "../dom.js";

const ENDPOINTS = [
  ["/v1/images/generations", "Generations"],
  ["/v1/images/edits", "Edits (images inline)"],
];
const SAMPLE = JSON.stringify({
  custom_id: "cat-1", method: "POST", url: "/v1/images/generations",
  body: { model: "compose", prompt: "a cat in a paper boat", size: "1024x1024" },
});
/** A batch in these states changes by itself: keep polling. */
const RUNNING = ["validating", "in_progress", "finalizing", "cancelling"];
const POLL_MS = 1000;

/** The endpoint a JSONL asks for: its first request line's url (null when unreadable). */
async function endpointOf(file) {
  const head = await file.slice(0, 64 * 1024).text();
  for (const line of head.split("\n")) {
    if (!line.trim()) continue;
    try {
      const url = JSON.parse(line).url;
      return ENDPOINTS.some(([value]) => value === url) ? url : null;
    } catch {
      return null;
    }
  }
  return null;
}

function lineErrors(batch) {
  const data = (batch.errors && batch.errors.data) || [];
  return data.map((e) => {
    const where = e.line ? `Line ${e.line}` : "File";
    const field = e.param && !e.message.includes(e.param) ? ` (${e.param})` : "";
    return `${where}${field}: ${e.message}`;
  });
}

function contentUrl(fileId) {
  return `/v1/files/${encodeURIComponent(fileId)}/content`;
}

/** One batch in the list; update(view) refreshes it in place (focus survives a poll). */
function batchRow(view, onCancel) {
  const status = h("span", { class: "badge batch-status" });
  const bar = h("progress", { max: 1, value: 0 });
  const counts = h("span", { class: "muted batch-counts" });
  const actions = h("div", { class: "row batch-actions" });
  const problems = h("ul", { class: "batch-errors" });
  const title = h("strong", null, view.metadata?.name || view.id);
  const el = h(
    "li",
    { class: "card stack batch", dataset: { batchId: view.id } },
    h("div", { class: "spread" }, h("span", null, title, " ", status), h("span", { class: "muted" }, when(view.created_at))),
    bar,
    counts,
    problems,
    actions,
  );
  bar.setAttribute("aria-label", `Progress of ${view.id}`);
  let shownStatus = null;

  function update(next) {
    const { total, completed, failed } = next.request_counts;
    const done = completed + failed;
    status.textContent = next.status.replace("_", " ");
    status.dataset.status = next.status;
    bar.value = total ? done / total : next.status === "completed" ? 1 : 0;
    counts.textContent = `${done}/${total} done` + (failed ? ` · ${failed} failed` : "");
    problems.replaceChildren(...lineErrors(next).map((text) => h("li", { class: "form-error" }, text)));
    if (next.status === shownStatus) return;
    shownStatus = next.status;
    actions.replaceChildren(...links(next));
  }

  function links(next) {
    const items = [];
    if (next.output_file_id) {
      items.push(h("a", { class: "button small", href: contentUrl(next.output_file_id), download: `${next.id}_output.jsonl` }, "Download results"));
    }
    if (next.images_file_id) {
      items.push(h("a", { class: "button small", href: contentUrl(next.images_file_id), download: `${next.id}_images.zip` }, "Images (zip)"));
    }
    if (next.error_file_id) {
      items.push(h("a", { class: "button small", href: contentUrl(next.error_file_id), download: `${next.id}_errors.jsonl` }, "Errors"));
    }
    if (next.status === "in_progress") {
      const cancel = h("button", { type: "button", class: "small danger" }, "Cancel");
      cancel.addEventListener("click", () => onCancel(next.id, cancel));
      items.push(cancel);
    }
    return items;
  }

  update(view);
  return { el, update };
}

export function render(root) {
  let timer = null;
  let alive = true;
  let chosen = null;
  const rows = new Map();

  const endpoint = h("select", { name: "endpoint" }, options(ENDPOINTS, ENDPOINTS[0][0]));
  const input = h("input", { type: "file", name: "file", accept: ".jsonl,application/jsonl,application/x-ndjson" });
  const picked = h("span", { class: "muted" }, "No file chosen yet.");
  const drop = h("div", { class: "dropzone" }, h("p", null, "Drop a .jsonl file here, or choose one:"), field("JSONL file", input), picked);
  const error = h("div", { class: "form-error batch-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", disabled: true }, "Run batch");
  const list = h("ul", { class: "stack batch-list" });
  const empty = h("p", { class: "empty" }, "No batches yet.");

  async function choose(file) {
    chosen = file || null;
    error.replaceChildren();
    submit.disabled = !chosen;
    picked.textContent = chosen ? `${chosen.name} · ${chosen.size.toLocaleString()} bytes` : "No file chosen yet.";
    if (!chosen) return;
    if (!/\.jsonl$/i.test(chosen.name)) picked.textContent += " (expected a .jsonl file)";
    const url = await endpointOf(chosen);
    if (url) endpoint.value = url;
  }

  function showError(message, details = []) {
    error.replaceChildren(h("p", null, message), details.length ? h("ul", null, details.map((d) => h("li", null, d))) : null);
  }

  async function run(event) {
    event.preventDefault();
    if (!chosen) {
      showError("Choose a .jsonl file first.");
      return;
    }
    error.replaceChildren();
    submit.disabled = true;
    submit.textContent = "Uploading…";
    try {
      const form = new FormData();
      form.append("purpose", "batch");
      form.append("file", chosen, chosen.name);
      const file = await api("/v1/files", { method: "POST", form });
      submit.textContent = "Checking…";
      const batch = await post("/v1/batches", {
        input_file_id: file.id, endpoint: endpoint.value, completion_window: "24h",
      });
      show(batch);
      if (batch.status === "failed") {
        showError(`The file has ${lineErrors(batch).length ? "bad lines" : "a problem"}; nothing ran:`, lineErrors(batch));
      } else {
        toast(`Batch started: ${batch.request_counts.total} requests`, "ok");
        input.value = "";
        await choose(null);
        import("../app.js").then((app) => app.refreshCredits());
      }
      poll();
    } catch (err) {
      showError(err instanceof ApiError ? err.message : String(err.message || err));
    } finally {
      submit.textContent = "Run batch";
      submit.disabled = !chosen;
    }
  }

  async function cancel(id, button) {
    button.disabled = true;
    try {
      show(await post(`/v1/batches/${encodeURIComponent(id)}/cancel`));
      poll();
    } catch (err) {
      toast(err.message, "error");
      button.disabled = false;
    }
  }

  /** The row of a batch, made (and placed first or last) when new, refreshed otherwise. */
  function place(view, first) {
    const row = rows.get(view.id);
    if (row) {
      if (RUNNING.includes(row.status) && !RUNNING.includes(view.status)) {
        toast(`Batch ${view.id}: ${view.status.replace("_", " ")}`, view.status === "completed" ? "ok" : "info");
      }
      row.status = view.status;
      row.update(view);
      return row.el;
    }
    const made = { ...batchRow(view, cancel), status: view.status };
    rows.set(view.id, made);
    if (first) list.prepend(made.el);
    else list.append(made.el);
    return made.el;
  }

  function show(batch) {
    place(batch, true);
    empty.hidden = rows.size > 0;
  }

  /** Read the list (newest first) and put the rows in its order. */
  async function refresh() {
    const page = await get("/v1/batches?limit=50");
    if (!alive) return [];
    const order = page.data.map((view) => place(view, false));
    for (const el of list.children) if (!order.includes(el)) order.push(el);
    if (order.some((el, i) => list.children[i] !== el)) list.append(...order);
    empty.hidden = rows.size > 0;
    return page.data;
  }

  function poll() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!alive) return;
      try {
        const data = await refresh();
        if (data.some((b) => RUNNING.includes(b.status))) poll();
      } catch (err) {
        if (alive) toast(err.message, "error");
      }
    }, POLL_MS);
  }

  input.addEventListener("change", () => choose(input.files[0]));
  dropTarget(drop, (data) => {
    if (data.files[0]) choose(data.files[0]);
  });

  const form = h(
    "form",
    { class: "card stack batch-form", "aria-labelledby": "batch-new" },
    h("h2", { id: "batch-new" }, "New batch"),
    h(
      "p",
      null,
      "A JSONL file, one request per line: a custom_id, method POST, the endpoint as url, and " +
        "the endpoint's JSON body (edits give their images inline as data URLs or asset ids). " +
        "Batches run after interactive work, at the batch price. For example:",
    ),
    h("pre", { class: "batch-sample" }, h("code", null, SAMPLE)),
    field("Endpoint", endpoint, "Set from the file's first line when it names one"),
    drop,
    error,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", run);

  root.append(
    h("h1", null, "Batch"),
    h("div", { class: "stack" }, form, h("section", { class: "stack", "aria-labelledby": "batch-yours" }, h("h2", { id: "batch-yours" }, "Your batches"), empty, list)),
  );
  refresh()
    .then((data) => {
      if (data.some((b) => RUNNING.includes(b.status))) poll();
    })
    .catch((err) => toast(err.message, "error"));

  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
