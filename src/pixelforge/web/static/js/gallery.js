// Tiles shared by every page: an asset's tile (opens the detail dialog) and a job's live
// tile (queue position, progress, step previews, cancel) that turns into asset tiles.

import { fileUrl, post, watchJob } from "./api.js";
import { refreshCredits } from "./app.js";
import { h, toast } from "./dom.js";
import { emit } from "./state.js";

/** Open the detail dialog of an asset (the module loads on first use). */
export async function openAsset(assetId) {
  const { openDialog } = await import("./views/asset.js");
  return openDialog(assetId);
}

function altText(asset) {
  return asset.prompt ? `Generated: ${asset.prompt.slice(0, 140)}` : `Image ${asset.id}`;
}

/**
 * The tile of an asset. Needs only {id}; model, prompt and workspace fill the caption when
 * known. onLoad is called once the image is on screen.
 */
export function assetTile(asset, { onLoad } = {}) {
  const img = h("img", { src: fileUrl(asset.id), alt: altText(asset), decoding: "async" });
  if (onLoad) img.addEventListener("load", () => onLoad(img), { once: true });
  const open = h(
    "button",
    { type: "button", class: "open", "aria-label": `Open ${altText(asset)}`, onclick: () => openAsset(asset.id) },
    img,
  );
  const caption = h(
    "div",
    { class: "caption" },
    h("span", null, asset.model || ""),
    asset.workspace ? h("span", { class: "badge" }, asset.workspace) : null,
  );
  const tile = h("div", { class: "tile", dataset: { assetId: asset.id } }, open, caption);
  // Drag a result onto Explore's reference tray to use it as a reference.
  tile.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("application/x-pixelforge-asset", asset.id);
  });
  return tile;
}

function statusText(view) {
  if (view.status === "queued") {
    // queue_position counts the jobs that run first (0: this one is next).
    const ahead = view.queue_position;
    return ahead === undefined ? "Queued" : `Queued · #${ahead + 1} in line`;
  }
  if (view.status === "running") {
    const pct = Math.round((view.progress || 0) * 100);
    return `${view.message ? `${view.message} · ` : ""}${pct}%`;
  }
  return view.status;
}

/** POST an action that answers with a job (variations, upscale, text…), then follow it in
 * `container`; errors become a toast. Resolves with the submitted job, or null. */
export async function submitAndTrack(path, body, container) {
  try {
    const job = await post(path, body);
    trackJob(job, container);
    refreshCredits();
    return job;
  } catch (error) {
    toast(error.message, "error");
    return null;
  }
}

/**
 * Follow a job in `container`: one live tile until it ends, then its images (prepended in
 * order). Resolves with the final job view. onImage(img) fires when the first image loads.
 */
export function trackJob(view, container, { onDone, onImage, label } = {}) {
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Progress" });
  const text = h("span", { class: "status-text" }, statusText(view));
  const preview = h("img", { alt: "", hidden: true });
  const cancel = h("button", { type: "button", class: "small" }, "Cancel");
  const tile = h(
    "div",
    { class: "tile pending", dataset: { jobId: view.id }, role: "group", "aria-label": label || `Job ${view.model}` },
    preview,
    h("div", { class: "status" }, h("strong", null, view.model), h("div", null, text), progress, cancel),
  );
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await post(`/api/jobs/${encodeURIComponent(view.id)}/cancel`);
    } catch (error) {
      toast(error.message, "error");
      cancel.disabled = false;
    }
  });
  container.prepend(tile);
  const update = (next) => {
    text.textContent = statusText(next);
    progress.value = next.status === "queued" ? 0 : next.progress || 0;
    if (next.preview) {
      preview.src = next.preview;
      preview.hidden = false;
    }
  };
  return watchJob(view.id, update).then((final) => {
    if (final.status === "succeeded") {
      const tiles = final.assets.map((id, i) => {
        const made = assetTile({ id, model: final.model }, { onLoad: i === 0 ? onImage : undefined });
        made.dataset.jobId = final.id;
        return made;
      });
      tile.replaceWith(...tiles);
      emit("assets", final);
    } else {
      tile.classList.replace("pending", "failed");
      cancel.remove();
      const reason = final.error?.message || final.status;
      text.textContent = final.status === "canceled" ? "Cancelled" : `Failed: ${reason}`;
      preview.hidden = true;
      progress.remove();
    }
    onDone?.(final);
    return final;
  });
}
