// Compare and leaderboard. #/compare: one prompt sent to 2..8 entries (a model, or the same
// model again under a label); #/compare/<id>: the entries side by side, live, with a vote on
// every pair of finished entries; #/compare/leaderboard: the ratings those votes make.

import { get, post, query } from "../api.js";
import { field, h, nextId, options, toast, usd, when } from "../dom.js";
import { assetTile, trackJob } from "../gallery.js";
import { state } from "../state.js";

export const PREFILL_KEY = "pixelforge.compare.prompt";
const MAX_ENTRIES = 8;
const MIN_ENTRIES = 2;
const CATEGORIES = [
  "poster", "product", "portrait", "infographic", "ui", "thumbnail", "concept", "other",
];
const RATIO_ORDER = ["1:1", "4:5", "5:4", "3:4", "4:3", "2:3", "3:2", "9:16", "16:9", "21:9"];
const TIER_ORDER = ["512", "1K", "2K", "4K"];
const TERMINAL = ["succeeded", "failed", "canceled"];

const titleCase = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** An entry's name as the page shows it: the model, with its label when it has one. */
function entryName(entry) {
  return entry.label ? `${entry.model} (${entry.label})` : entry.model;
}

/** Every value any generating model offers, in a sensible order. */
function offered(key, order) {
  const all = new Set(state.models.flatMap((m) => m.capabilities[key] || []));
  return [...order.filter((v) => all.has(v)), ...[...all].filter((v) => !order.includes(v))];
}

// -- Tabs -------------------------------------------------------------------------------

/** A tablist with its panels; onShow(key) runs when a tab is shown. */
function tabs(items, selected, onShow) {
  const list = h("div", { role: "tablist", "aria-label": "Compare views" });
  const panels = [];
  const buttons = items.map((item) => {
    const panelId = nextId("panel");
    const button = h(
      "button",
      { type: "button", role: "tab", id: nextId("tab"), "aria-controls": panelId },
      item.label,
    );
    panels.push(h("section", {
      role: "tabpanel", id: panelId, "aria-labelledby": button.id, tabindex: "0",
    }, item.panel));
    return button;
  });
  const show = (index, focus) => {
    buttons.forEach((b, i) => {
      b.setAttribute("aria-selected", String(i === index));
      b.tabIndex = i === index ? 0 : -1;
      panels[i].hidden = i !== index;
    });
    if (focus) buttons[index].focus();
    onShow(items[index].key);
  };
  buttons.forEach((button, i) => {
    button.addEventListener("click", () => show(i, false));
    button.addEventListener("keydown", (event) => {
      const last = buttons.length - 1;
      const next = { ArrowRight: i === last ? 0 : i + 1, ArrowLeft: i === 0 ? last : i - 1,
        Home: 0, End: last }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      show(next, true);
    });
  });
  list.append(...buttons);
  show(Math.max(0, items.findIndex((item) => item.key === selected)), false);
  return [list, ...panels];
}

// -- The form ---------------------------------------------------------------------------

function modelChecklist(checked) {
  const boxes = state.models.map((model) => {
    const box = h("input", { type: "checkbox", value: model.id, checked: checked.has(model.id) });
    const speed = model.capabilities.speed_class;
    return h(
      "label",
      { class: "model" },
      box,
      h("span", null, model.id),
      speed ? h("span", { class: `badge ${speed === "instant" ? "fast" : ""}` }, speed) : null,
    );
  });
  return h("div", { class: "models" }, boxes);
}

/** One extra entry: any model again, with the label that tells it apart and its options. */
function extraRow(index, onRemove) {
  const name = `extra entry ${index}`;
  const model = h("select", { "aria-label": `Model of ${name}` },
    options(state.models.map((m) => m.id), state.settings.model));
  const label = h("input", {
    type: "text", value: `variant ${index + 1}`, maxlength: 80, placeholder: "e.g. steps 30",
    "aria-label": `Label of ${name}`,
  });
  const opts = h("input", {
    type: "text", placeholder: '{"reframe": "pad"}', spellcheck: false,
    "aria-label": `Options (JSON) of ${name}`,
  });
  const remove = h("button", { type: "button", class: "small", "aria-label": `Remove ${name}` },
    "Remove");
  const row = h("fieldset", { class: "extra-entry" },
    h("legend", null, `Extra entry ${index}`),
    h("div", { class: "row" }, field("Model", model), field("Label", label),
      field("Options (JSON)", opts), remove));
  remove.addEventListener("click", () => onRemove(row));
  return { row, model, label, opts };
}

function entriesFrom(checklist, extras) {
  const entries = [...checklist.querySelectorAll("input:checked")].map((box) => ({
    model: box.value,
  }));
  for (const extra of extras) {
    const entry = { model: extra.model.value };
    const label = extra.label.value.trim();
    if (label) entry.label = label;
    const raw = extra.opts.value.trim();
    if (raw) {
      try {
        entry.options = JSON.parse(raw);
      } catch {
        throw Object.assign(new Error(`Options of ${entryName(entry)}: not valid JSON`), {
          control: extra.opts,
        });
      }
    }
    entries.push(entry);
  }
  return entries;
}

/** The client-side checks the server makes too, said before a round trip. */
function entriesProblem(entries) {
  if (entries.length < MIN_ENTRIES || entries.length > MAX_ENTRIES) {
    return `Pick ${MIN_ENTRIES} to ${MAX_ENTRIES} entries; you have ${entries.length}.`;
  }
  const seen = new Set();
  for (const entry of entries) {
    const key = `${entry.model}\u001f${entry.label || ""}`;
    if (seen.has(key)) {
      return `${entryName(entry)} appears twice: give each entry of the same model its own label.`;
    }
    seen.add(key);
  }
  return null;
}

function takePrefill() {
  const text = sessionStorage.getItem(PREFILL_KEY);
  if (text !== null) sessionStorage.removeItem(PREFILL_KEY);
  return text || "";
}

function compareForm(navigateTo) {
  const prompt = h("textarea", { name: "prompt", required: true, rows: 4 });
  prompt.value = takePrefill();
  const first = state.models.find((m) => m.id === state.settings.model) || state.models[0];
  const checklist = modelChecklist(new Set(first ? [first.id] : []));
  const extras = [];
  const extraBox = h("div", { class: "stack" });
  const count = h("p", { class: "hint", "aria-live": "polite" });
  const addButton = h("button", { type: "button", class: "small" }, "+ Add entry");
  let added = 0;

  const updateCount = () => {
    const n = checklist.querySelectorAll("input:checked").length + extras.length;
    count.textContent = `${n} ${n === 1 ? "entry" : "entries"} (${MIN_ENTRIES} to ${MAX_ENTRIES})`;
    addButton.disabled = n >= MAX_ENTRIES;
  };
  const removeExtra = (row) => {
    const i = extras.findIndex((e) => e.row === row);
    if (i >= 0) extras.splice(i, 1);
    row.remove();
    updateCount();
    addButton.focus();
  };
  addButton.addEventListener("click", () => {
    added += 1;
    const extra = extraRow(added, removeExtra);
    extras.push(extra);
    extraBox.append(extra.row);
    updateCount();
    extra.model.focus();
  });
  checklist.addEventListener("change", updateCount);
  updateCount();

  const ratio = h("select", { name: "aspect_ratio" },
    options(offered("aspect_ratios", RATIO_ORDER), state.settings.aspect_ratio));
  const resolution = h("select", { name: "resolution" },
    options(offered("resolutions", TIER_ORDER), state.settings.resolution));
  const category = h("select", { name: "category" },
    options(CATEGORIES.map((c) => [c, titleCase(c)]), "other"));
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Compare");

  const form = h(
    "form",
    { class: "card stack compare-form", novalidate: true },
    field("Prompt", prompt, "Every entry gets this prompt and the settings below."),
    h("fieldset", null, h("legend", null, "Models"), checklist,
      h("div", { class: "stack compare-extras" },
        h("p", { class: "hint" },
          "An extra entry can repeat a model: its label names the settings that differ."),
        extraBox, h("div", null, addButton)),
      count),
    h("div", { class: "grid2" }, field("Aspect ratio", ratio), field("Resolution", resolution)),
    field("Category", category, "The leaderboard files your votes under it."),
    error,
    h("div", { class: "row end" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    let entries;
    try {
      entries = entriesFrom(checklist, extras);
    } catch (err) {
      error.textContent = err.message;
      err.control?.focus();
      return;
    }
    const problem = !prompt.value.trim() ? "Enter a prompt." : entriesProblem(entries);
    if (problem) {
      error.textContent = problem;
      (prompt.value.trim() ? checklist.querySelector("input") : prompt)?.focus();
      return;
    }
    submit.disabled = true;
    try {
      const compare = await post("/api/compare", {
        prompt: prompt.value, aspect_ratio: ratio.value, resolution: resolution.value,
        category: category.value, entries,
      });
      const { refreshCredits } = await import("../app.js");
      refreshCredits();
      navigateTo(compare.id);
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  return h("div", { class: "stack" }, h("h2", null, "New compare"), form);
}

// -- One compare ------------------------------------------------------------------------

function entryMeta(entry) {
  const parts = [];
  if (entry.served_by && entry.served_by !== entry.model) {
    parts.push(`served by ${entry.served_by}`);
  }
  if (entry.seconds !== null && entry.seconds !== undefined) {
    parts.push(`${Number(entry.seconds).toFixed(1)} s`);
  }
  if (entry.status === "succeeded") parts.push(usd(entry.cost));
  if (entry.size) parts.push(entry.size);
  return parts.join(" · ");
}

/** A column: the entry's name, its live job tile, then its images. */
function entryColumn(entry, prompt, onFinished) {
  const headingId = nextId("entry");
  const meta = h("p", { class: "muted compare-meta" }, entryMeta(entry));
  const tiles = h("div", { class: "gallery compare-tiles" });
  const column = h("section", { class: "card stack compare-entry", "aria-labelledby": headingId,
    dataset: { entryId: entry.id } },
  h("h3", { id: headingId }, entryName(entry)), meta, tiles);
  const showFinal = (status, error, assets) => {
    if (status === "succeeded") {
      tiles.replaceChildren(...assets.map((id) => assetTile({ id, model: entry.model, prompt })));
    } else {
      const reason = error?.message || status;
      tiles.replaceChildren(h("p", { class: "form-error" },
        status === "canceled" ? "Cancelled" : `Failed: ${reason}`));
    }
  };
  if (TERMINAL.includes(entry.status)) {
    showFinal(entry.status, entry.error, entry.assets);
  } else {
    const view = { id: entry.job_id, model: entryName(entry), status: entry.status,
      progress: entry.progress };
    trackJob(view, tiles, { label: `${entryName(entry)} progress`, onDone: onFinished })
      .catch(() => onFinished());
  }
  return {
    column,
    update(next) {
      meta.textContent = entryMeta(next);
      // trackJob may have seen the job end before the compare did: show what the server says.
      const shown = tiles.querySelector(".tile:not(.pending), .form-error");
      if (TERMINAL.includes(next.status) && !shown) {
        showFinal(next.status, next.error, next.assets);
      }
    },
  };
}

const OUTCOMES = ["a", "tie", "b"];

/** The vote on entries x and y (either order) as seen from x: "a", "b", "tie" or null. */
function recordedWinner(votes, x, y) {
  const vote = votes.find((v) => (v.a === x.id && v.b === y.id) || (v.a === y.id && v.b === x.id));
  if (!vote) return null;
  if (vote.winner === "tie" || vote.a === x.id) return vote.winner;
  return vote.winner === "a" ? "b" : "a";
}

function voteText(winner, nameA, nameB) {
  if (winner === "a") return `Your vote: ${nameA} is better`;
  if (winner === "b") return `Your vote: ${nameB} is better`;
  if (winner === "tie") return "Your vote: a tie";
  return "Not voted yet";
}

/** The three vote buttons of one pair, pressed as recorded; a click records or changes it. */
function votePair(compareId, x, y, winner) {
  const nameA = entryName(x);
  const nameB = entryName(y);
  const said = h("span", { class: "muted vote-state", "aria-live": "polite" },
    voteText(winner, nameA, nameB));
  const buttons = {
    a: h("button", { type: "button", "aria-label": `${nameA} is better than ${nameB}` },
      `${nameA} is better`),
    tie: h("button", { type: "button", "aria-label": `Tie between ${nameA} and ${nameB}` }, "Tie"),
    b: h("button", { type: "button", "aria-label": `${nameB} is better than ${nameA}` },
      `${nameB} is better`),
  };
  const press = (chosen) => {
    for (const outcome of OUTCOMES) {
      buttons[outcome].setAttribute("aria-pressed", String(outcome === chosen));
      buttons[outcome].classList.toggle("primary", outcome === chosen);
    }
  };
  press(winner);
  for (const outcome of OUTCOMES) {
    buttons[outcome].addEventListener("click", async () => {
      for (const b of Object.values(buttons)) b.disabled = true;
      try {
        const vote = await post(`/api/compare/${encodeURIComponent(compareId)}/votes`,
          { a: x.id, b: y.id, winner: outcome });
        press(outcome);
        said.textContent = `${voteText(outcome, nameA, nameB)}${vote.replaced ? " (changed)" : ""}`;
      } catch (err) {
        toast(err.message, "error");
      } finally {
        for (const b of Object.values(buttons)) b.disabled = false;
      }
    });
  }
  return h(
    "div",
    { class: "card stack vote-pair", role: "group", "aria-label": `${nameA} versus ${nameB}` },
    h("strong", null, `${nameA} vs ${nameB}`),
    h("div", { class: "row" }, buttons.a, buttons.tie, buttons.b),
    said,
  );
}

async function showCompare(panel, compareId, life) {
  let view = await get(`/api/compare/${encodeURIComponent(compareId)}`);
  const status = h("span", { "aria-live": "polite" }, view.status);
  const columns = new Map();
  const pairs = new Set();
  const voteList = h("div", { class: "stack vote-list" });
  const voteHint = h("p", { class: "hint" });

  const renderVotes = () => {
    const done = view.entries.filter((e) => e.status === "succeeded");
    for (let i = 0; i < done.length; i += 1) {
      for (let j = i + 1; j < done.length; j += 1) {
        const key = `${done[i].id}|${done[j].id}`;
        if (pairs.has(key)) continue;
        pairs.add(key);
        voteList.append(votePair(view.id, done[i], done[j],
          recordedWinner(view.votes, done[i], done[j])));
      }
    }
    voteHint.textContent = pairs.size
      ? "Which is better? A later vote on a pair replaces the earlier one."
      : "Votes open once two entries have finished.";
  };
  const refresh = async () => {
    if (!life.alive) return;
    try {
      view = await get(`/api/compare/${encodeURIComponent(compareId)}`);
    } catch (err) {
      toast(err.message, "error");
      return;
    }
    if (!life.alive) return;
    status.textContent = view.status;
    for (const entry of view.entries) columns.get(entry.id)?.update(entry);
    renderVotes();
  };

  const grid = h("div", { class: "columns compare-columns" });
  for (const entry of view.entries) {
    const col = entryColumn(entry, view.prompt, refresh);
    columns.set(entry.id, col);
    grid.append(col.column);
  }
  renderVotes();
  panel.replaceChildren(
    h("div", { class: "spread" },
      h("h2", null, "Compare"),
      h("a", { href: "#/compare", class: "button small" }, "New compare")),
    h("p", { class: "compare-prompt" }, view.prompt),
    h("p", { class: "muted" }, `${titleCase(view.category)} · ${when(view.created)} · `, status),
    grid,
    h("section", { class: "stack", "aria-label": "Votes" }, h("h2", null, "Votes"), voteHint,
      voteList),
  );
}

// -- Leaderboard ------------------------------------------------------------------------

function leaderboardPanel() {
  const category = h("select", { name: "category" },
    options([["", "All categories"], ...CATEGORIES.map((c) => [c, titleCase(c)])], ""));
  const mine = h("input", { type: "checkbox", name: "mine" });
  const download = h("a", { class: "button small", download: "" }, "Download CSV");
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const body = h("div", { class: "table-wrap" });
  const filters = () => ({ category: category.value, mine: mine.checked ? "true" : "" });
  let loading = 0;

  const load = async () => {
    const ticket = ++loading;
    download.href = `/api/leaderboard${query({ format: "csv", ...filters() })}`;
    let board;
    try {
      board = await get(`/api/leaderboard${query(filters())}`);
    } catch (err) {
      summary.textContent = err.message;
      return;
    }
    if (ticket !== loading) return;
    summary.textContent = `${board.votes} ${board.votes === 1 ? "vote" : "votes"} · ` +
      `${board.method}: ${board.scale}; ${board.interval}.`;
    if (!board.data.length) {
      body.replaceChildren(h("p", { class: "empty" }, "No votes yet: compare a prompt and vote."));
      return;
    }
    const head = ["Rank", "Model", "Rating", "95% interval", "Votes", "Wins", "Losses", "Ties"];
    const num = new Set(["Rank", "Rating", "Votes", "Wins", "Losses", "Ties"]);
    body.replaceChildren(h(
      "table",
      { class: "leaderboard" },
      h("caption", { class: "sr-only" }, "Leaderboard, best first"),
      h("thead", null, h("tr", null, head.map((t) =>
        h("th", { scope: "col", class: num.has(t) ? "num" : null }, t)))),
      h("tbody", null, board.data.map((row) => h(
        "tr",
        null,
        h("td", { class: "num" }, row.rank),
        h("th", { scope: "row" }, entryName(row)),
        h("td", { class: "num" }, row.rating.toFixed(1)),
        h("td", null, `${row.ci_low.toFixed(1)} – ${row.ci_high.toFixed(1)}`),
        h("td", { class: "num" }, row.votes),
        h("td", { class: "num" }, row.wins),
        h("td", { class: "num" }, row.losses),
        h("td", { class: "num" }, row.ties),
      ))),
    ));
  };
  category.addEventListener("change", load);
  mine.addEventListener("change", load);
  const panel = h(
    "div",
    { class: "stack" },
    h("h2", null, "Leaderboard"),
    h("div", { class: "toolbar" },
      field("Leaderboard category", category),
      h("label", { class: "row" }, mine, "Only my votes"),
      download),
    summary,
    body,
  );
  return { panel, load };
}

// -- The page ---------------------------------------------------------------------------

export function render(root, { args }) {
  const life = { alive: true };
  const target = args[0] || "";
  const onBoard = target === "leaderboard";
  const comparePath = onBoard ? "/compare" : `/compare${target ? `/${target}` : ""}`;
  const comparePanel = h("div", { class: "stack" });
  const board = leaderboardPanel();
  const navigateTo = (id) => {
    location.hash = `/compare/${encodeURIComponent(id)}`;
  };

  if (target && !onBoard) {
    comparePanel.append(h("p", { class: "muted" }, "Loading…"));
    showCompare(comparePanel, target, life).catch((err) => {
      if (!life.alive) return;
      comparePanel.replaceChildren(
        h("p", { class: "form-error", role: "alert" }, err.message),
        h("a", { href: "#/compare", class: "button" }, "New compare"),
      );
    });
  } else {
    comparePanel.append(compareForm(navigateTo));
  }
  const onShow = (key) => {
    // Keep the address in step without re-rendering the page (no hashchange).
    const path = key === "leaderboard" ? "/compare/leaderboard" : comparePath;
    history.replaceState(null, "", `#${path}`);
    if (key === "leaderboard") board.load();
  };
  root.append(
    h("h1", { class: "sr-only" }, "Compare models"),
    ...tabs([
      { key: "compare", label: "Compare", panel: comparePanel },
      { key: "leaderboard", label: "Leaderboard", panel: board.panel },
    ], onBoard ? "leaderboard" : "compare", onShow),
  );
  return () => {
    life.alive = false;
  };
}
