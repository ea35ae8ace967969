// The two workspaces. Draft: prompt-led (optimizer, templates, text to render, brand kit).
// Explore: reference-led (the reference tray, strength, variations, edit threads). Both share
// the settings panel and one gallery of results.

import { get, post, query } from "../api.js";
import { refreshCredits } from "../app.js";
import { controls, quotes, requestFields } from "../controls.js";
import { h, toast, usd } from "../dom.js";
import { assetTile, trackJob } from "../gallery.js";
import { currentModel, on } from "../state.js";
import { draftPanel, draftRequest } from "./draft.js";
import { explorePanel, exploreRequest } from "./explore.js";

/** Generate-to-first-image times (ms) of this page, newest last (the bench reads them). */
window.pfTimings ||= [];

function galleryPanel() {
  const grid = h("div", { class: "gallery", id: "results", "aria-live": "polite" });
  const empty = h("p", { class: "empty" }, "Nothing yet: write a prompt and press Generate.");
  const section = h(
    "section",
    { class: "stack", "aria-labelledby": "results-title" },
    h("div", { class: "spread" }, h("h2", { id: "results-title" }, "Results"),
      h("a", { href: "#/history" }, "All in History")),
    grid,
    empty,
  );
  // Tiles for jobs started while the list loads stay first. The "Nothing yet" line shows
  // only while the grid is empty (CSS: .gallery:not(:empty) + .empty).
  get(`/api/assets${query({ limit: 24 })}`).then((page) => {
    grid.append(...page.data.map((asset) => assetTile(asset)));
  });
  const offDeleted = on("asset-deleted", (id) => grid.querySelector(`[data-asset-id="${CSS.escape(id)}"]`)?.remove());
  return { section, grid, cleanup: offDeleted };
}

export async function render(root, { name }) {
  const workspace = name === "explore" ? "explore" : "draft";
  const gallery = galleryPanel();
  const panel = workspace === "draft" ? await draftPanel() : await explorePanel(gallery);
  const settings = controls();
  const status = h("p", { class: "muted", role: "status" });
  const button = h("button", { type: "button", class: "primary", id: "generate" }, "Generate");
  const price = h("span", { class: "muted", id: "generate-price" });

  async function generate() {
    const started = performance.now();
    let body;
    try {
      body = workspace === "draft" ? await draftRequest() : await exploreRequest();
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    button.disabled = true;
    status.textContent = "Submitting…";
    try {
      const job = await post("/api/jobs", { ...requestFields(), ...body, workspace });
      status.textContent = `${job.model}: ${job.status}`;
      trackJob(job, gallery.grid, {
        onImage: () => {
          window.pfTimings.push(performance.now() - started);
        },
        onDone: (final) => {
          status.textContent = final.status === "succeeded"
            ? `Done: ${final.assets.length} image${final.assets.length === 1 ? "" : "s"}, ${final.cost} USD`
            : `${final.status}: ${final.error?.message || ""}`;
          refreshCredits();
        },
      });
      refreshCredits();
    } catch (error) {
      status.textContent = error.message;
      toast(error.message, "error");
    } finally {
      button.disabled = false;
    }
  }
  button.addEventListener("click", generate);
  root.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      generate();
    }
  });
  const bar = h(
    "div",
    { class: "card spread generate-bar" },
    h("div", { class: "row" }, button, price),
    h("span", { class: "muted" }, "Ctrl+Enter generates"),
    status,
  );
  const updatePrice = () => {
    const model = currentModel();
    const quote = model && quotes.get(model.id);
    price.textContent = quote && quote.ok ? `${usd(quote.price)} for these settings` : "";
  };
  const offQuotes = on("quotes", updatePrice);
  const offSettings = on("settings", updatePrice);
  root.append(
    h(
      "div",
      { class: "studio" },
      h("div", { class: "stack" }, panel, settings),
      h("div", { class: "stack" }, bar, gallery.section),
    ),
  );
  return () => {
    settings.cleanup();
    gallery.cleanup();
    offQuotes();
    offSettings();
    panel.cleanup?.();
  };
}
