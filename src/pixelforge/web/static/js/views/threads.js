// Edit threads. #/threads: your threads, and a form that starts one from a prompt;
// #/threads/<id>: the thread as a tree. Select any node (the branch point), apply an
// instruction to it on a model, and the new node grows under it with live progress.

import { del, fileUrl, get, post, query } from "../api.js";
import { field, h, options, toast, when } from "../dom.js";
import { openAsset } from "../gallery.js";
import { state } from "../state.js";

const POLL_MS = 400;
const PAGE = 50;

const short = (text, n = 80) =>
  text && text.length > n ? `${text.slice(0, n - 1)}…` : text || "";

async function spent() {
  const { refreshCredits } = await import("../app.js");
  refreshCredits();
}

function statusText(node) {
  if (node.status === "running") return `running ${Math.round((node.progress || 0) * 100)}%`;
  return node.status;
}

/** Models a turn can run on: those that edit, plus `current` (a node's own model). */
function editModels(current) {
  const ids = state.models.filter((m) => m.capabilities.modes.includes("edit")).map((m) => m.id);
  if (current && !ids.includes(current)) ids.unshift(current);
  return ids;
}

// -- The list ---------------------------------------------------------------------------

function startForm() {
  const prompt = h("textarea", { name: "prompt", rows: 3, required: true });
  const models = state.models.map((m) => m.id);
  const model = h("select", { name: "model" }, options(models, state.settings.model));
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Start thread");
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "start-thread" },
    h("h2", { id: "start-thread" }, "Start a thread"),
    field("Prompt", prompt, "The first image; then edit it turn by turn, branching anywhere."),
    field("Model", model),
    error,
    h("div", { class: "row end" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!prompt.value.trim()) {
      error.textContent = "Enter a prompt.";
      prompt.focus();
      return;
    }
    submit.disabled = true;
    try {
      const thread = await post("/api/threads", {
        prompt: prompt.value, model: model.value,
        aspect_ratio: state.settings.aspect_ratio, resolution: state.settings.resolution,
        workspace: "explore", // edit threads are Explore's; their images list there
      });
      spent();
      location.hash = `/threads/${encodeURIComponent(thread.id)}`;
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function renderList(root) {
  const list = h("ul", { class: "stack thread-list" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const total = h("p", { class: "muted", "aria-live": "polite" });
  let offset = 0;
  const load = async () => {
    more.disabled = true;
    const page = await get(`/api/threads${query({ offset, limit: PAGE })}`);
    offset += page.data.length;
    total.textContent = `${page.total} ${page.total === 1 ? "thread" : "threads"}`;
    if (!page.total) {
      list.replaceWith(h("p", { class: "empty" }, "No threads yet: start one from a prompt."));
    }
    list.append(...page.data.map((t) => h(
      "li",
      { class: "card thread-item" },
      h("a", { href: `#/threads/${encodeURIComponent(t.id)}` }, t.title),
      h("span", { class: "muted" },
        ` · ${t.nodes} ${t.nodes === 1 ? "image" : "images"} · updated ${when(t.updated)}`),
    )));
    more.hidden = !page.has_more;
    more.disabled = false;
  };
  more.addEventListener("click", () => load().catch((err) => toast(err.message, "error")));
  root.append(
    h("h1", null, "Threads"),
    h("div", { class: "studio" }, startForm(),
      h("section", { class: "stack", "aria-label": "Your threads" }, total, list, more)),
  );
  await load();
}

// -- The tree ---------------------------------------------------------------------------

/** A tree of nodes kept in step with the thread's view; keyboard as the ARIA tree pattern. */
class Tree {
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.items = new Map();
    this.selected = null;
    this.el = h("ul", { class: "tree", role: "tree", "aria-label": "Edit tree" });
    this.el.addEventListener("keydown", (event) => this.key(event));
  }

  /** Add or refresh one node (parents come before their children in a thread's view). */
  upsert(node) {
    let item = this.items.get(node.id);
    if (!item) {
      item = this.make(node);
      this.items.set(node.id, item);
      const parent = this.items.get(node.parent_id);
      if (parent) this.group(parent).append(item.li);
      else this.el.append(item.li);
    }
    item.node = node;
    item.meta.textContent = `${node.model} · ${statusText(node)}`;
    if (node.asset_id && item.img.dataset.assetId !== node.asset_id) {
      item.img.dataset.assetId = node.asset_id;
      item.img.src = fileUrl(node.asset_id);
      item.img.hidden = false;
      item.wait.hidden = true;
    }
    item.wait.value = node.progress || 0;
    item.wait.hidden = Boolean(node.asset_id) || node.status !== "running";
    return item;
  }

  make(node) {
    const img = h("img", { alt: "", hidden: true, decoding: "async" });
    const wait = h("progress", { max: 1, value: 0, "aria-hidden": "true", hidden: true });
    const meta = h("small", { class: "muted" });
    const button = h(
      "button",
      { type: "button", class: "tree-node", role: "treeitem", tabindex: "-1",
        "aria-selected": "false", "aria-level": String(node.depth + 1),
        dataset: { nodeId: node.id } },
      img,
      h("span", { class: "tree-node-text" }, h("span", null, short(node.instruction) || "(image)"),
        meta, wait),
    );
    button.addEventListener("click", () => this.select(node.id));
    button.addEventListener("focus", () => this.rove(button));
    const li = h("li", { role: "none" }, button);
    return { li, button, img, wait, meta, list: null, node };
  }

  group(item) {
    if (!item.list) {
      item.list = h("ul", { role: "group" });
      item.li.append(item.list);
      item.button.setAttribute("aria-expanded", "true");
    }
    return item.list;
  }

  select(id) {
    const item = this.items.get(id);
    if (!item) return;
    for (const other of this.items.values()) {
      other.button.setAttribute("aria-selected", String(other === item));
    }
    this.selected = id;
    // A node under a folded branch: unfold its ancestors so the selection shows.
    for (let up = this.items.get(item.node.parent_id); up; up = this.items.get(up.node.parent_id)) {
      this.expand(up, true);
    }
    this.rove(item.button);
    this.onSelect(item.node);
  }

  /** The focusable node: one tab stop for the whole tree. */
  rove(button) {
    for (const other of this.items.values()) {
      other.button.tabIndex = other.button === button ? 0 : -1;
    }
  }

  visible() {
    return [...this.el.querySelectorAll('[role="treeitem"]')].filter(
      (b) => !b.parentElement.closest("[hidden]"),
    );
  }

  expand(item, open) {
    if (!item.list) return;
    item.button.setAttribute("aria-expanded", String(open));
    item.list.hidden = !open;
  }

  key(event) {
    const button = event.target.closest('[role="treeitem"]');
    if (!button) return;
    const item = this.items.get(button.dataset.nodeId);
    const shown = this.visible();
    const at = shown.indexOf(button);
    let next = null;
    if (event.key === "ArrowDown") next = shown[at + 1];
    else if (event.key === "ArrowUp") next = shown[at - 1];
    else if (event.key === "Home") next = shown[0];
    else if (event.key === "End") next = shown[shown.length - 1];
    else if (event.key === "ArrowRight" && item.list) {
      if (item.list.hidden) this.expand(item, true);
      else next = item.list.querySelector('[role="treeitem"]');
    } else if (event.key === "ArrowLeft") {
      if (item.list && !item.list.hidden) this.expand(item, false);
      else next = this.items.get(item.node.parent_id)?.button;
    } else return;
    event.preventDefault();
    if (next) next.focus();
  }
}

// -- One thread -------------------------------------------------------------------------

function preview() {
  const img = h("img", { class: "detail-image", alt: "", hidden: true });
  const none = h("p", { class: "empty" }, "No image yet.");
  const details = h("dl", { class: "params" });
  const open = h("button", { type: "button" }, "Open");
  let assetId = null;
  open.addEventListener("click", () => assetId && openAsset(assetId));
  const el = h("section", { class: "card stack thread-preview", "aria-label": "Selected image" },
    img, none, details, h("div", { class: "row" }, open));
  const show = (node) => {
    assetId = node.asset_id;
    open.disabled = !assetId;
    if (assetId) {
      if (img.dataset.assetId !== assetId) img.src = fileUrl(assetId);
      img.dataset.assetId = assetId;
      img.alt = `Selected: ${short(node.instruction, 140) || "image"}`;
    }
    img.hidden = !assetId;
    none.hidden = Boolean(assetId);
    none.textContent = node.status === "failed"
      ? "This turn failed: no image."
      : `No image yet (${statusText(node)}).`;
    const rows = [["Instruction", node.instruction || "–"], ["Model", node.model]];
    if (node.served_by && node.served_by !== node.model) rows.push(["Served by", node.served_by]);
    rows.push(["Status", statusText(node)], ["Added", when(node.created)]);
    if (node.error) rows.push(["Error", node.error.message || node.error.code]);
    details.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
  };
  return { el, show };
}

function turnForm(apply) {
  const branch = h("p", { class: "muted", "aria-live": "polite" });
  const instruction = h("textarea", { name: "instruction", rows: 3, required: true });
  const model = h("select", { name: "model" });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Apply");
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-label": "Apply a turn" },
    h("h2", null, "Apply a turn"),
    branch,
    field("Instruction", instruction, "What to change in the selected image."),
    field("Model", model),
    error,
    h("div", { class: "row end" }, submit),
  );
  let node = null;
  const ready = () => node && node.status === "succeeded" && node.asset_id;
  const setNode = (next, { keepModel = false } = {}) => {
    const changed = !node || node.id !== next.id;
    node = next;
    const what = short(next.instruction) || "(image)";
    branch.textContent = `Branch from: ${what} · ${statusText(next)}`;
    if (changed && !keepModel) {
      model.replaceChildren(...options(editModels(next.model), next.model));
    }
    submit.disabled = !ready();
    submit.title = ready() ? "" : "The selected node has no image yet";
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!instruction.value.trim()) {
      error.textContent = "Enter an instruction.";
      instruction.focus();
      return;
    }
    if (!ready()) return;
    submit.disabled = true;
    try {
      await apply({ node_id: node.id, instruction: instruction.value, model: model.value });
      instruction.value = "";
      instruction.focus();
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = !ready();
    }
  });
  return { form, setNode };
}

function deleteControls(threadId) {
  const ask = h("button", { type: "button", class: "danger" }, "Delete thread");
  const confirm = h("button", { type: "button", class: "danger" }, "Confirm delete");
  const cancel = h("button", { type: "button" }, "Cancel");
  const question = h("span", { class: "row", hidden: true, role: "group", "aria-label": "Confirm" },
    h("span", null, "Delete this thread? Its images stay in your history."), confirm, cancel);
  ask.addEventListener("click", () => {
    ask.hidden = true;
    question.hidden = false;
    cancel.focus();
  });
  cancel.addEventListener("click", () => {
    question.hidden = true;
    ask.hidden = false;
    ask.focus();
  });
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      await del(`/api/threads/${encodeURIComponent(threadId)}`);
      toast("Thread deleted", "ok");
      location.hash = "/threads";
    } catch (err) {
      toast(err.message, "error");
      confirm.disabled = false;
    }
  });
  return h("div", { class: "row" }, ask, question);
}

async function renderThread(root, threadId) {
  const path = `/api/threads/${encodeURIComponent(threadId)}`;
  let view = await get(path);
  let timer = null;
  let alive = true;
  const title = h("h1", null, view.title);
  const status = h("span", { class: "badge", "aria-live": "polite" }, view.status);
  const big = preview();
  const form = turnForm(async (body) => {
    const node = await post(`${path}/turns`, body);
    spent();
    tree.upsert(node);
    tree.select(node.id);
    view.status = "running";
    status.textContent = "running";
    poll();
  });
  const tree = new Tree((node) => {
    big.show(node);
    form.setNode(node);
  });

  const applyView = (next) => {
    view = next;
    title.textContent = next.title;
    status.textContent = next.status;
    for (const node of next.nodes) tree.upsert(node);
    const chosen = tree.items.get(tree.selected);
    if (chosen) {
      big.show(chosen.node);
      form.setNode(chosen.node, { keepModel: true });
    }
  };
  function poll() {
    if (timer !== null || !alive) return;
    timer = setTimeout(async () => {
      timer = null;
      if (!alive) return;
      try {
        applyView(await get(path));
      } catch (err) {
        toast(err.message, "error");
        return;
      }
      if (view.status === "running") poll();
    }, POLL_MS);
  }

  applyView(view);
  tree.select(view.head_id || view.root_id);
  root.append(
    h("div", { class: "spread" }, title,
      h("div", { class: "row" }, h("a", { href: "#/threads" }, "All threads"), status,
        deleteControls(threadId))),
    h("div", { class: "studio thread-layout" },
      h("div", { class: "stack" },
        h("section", { class: "card thread-tree", "aria-label": "Tree" }, tree.el), form.form),
      big.el),
  );
  if (view.status === "running") poll();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}

export async function render(root, { args }) {
  if (args[0]) return renderThread(root, args[0]);
  await renderList(root);
  return undefined;
}
