// An image's detail: parameters, cost, timings, provenance status, and every action on it
// (download, variations, edit with a mask, upscale, add text, use as reference, compare,
// delete). Shown as a dialog over any page, or as a page at #/asset/<id>.

import { api, del, fileUrl, get, post } from "../api.js";
import { navigate, refreshCredits } from "../app.js";
import { field, h, options, toast, usd, when } from "../dom.js";
import { submitAndTrack, trackJob } from "../gallery.js";
import { maskEditor } from "../mask.js";
import { currentModel, emit, state } from "../state.js";

function params(asset) {
  const rows = [
    ["Prompt", asset.prompt || "–"], ["Model", asset.model], ["Seed", asset.seed ?? "–"],
    ["Size", `${asset.width} × ${asset.height}`], ["Format", asset.format],
    ["Workspace", asset.workspace || "–"], ["Created", when(asset.created)],
    ["Cost", usd(asset.cost)],
    ["Timings", Object.entries(asset.timings || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "–"],
  ];
  const shown = new Set(["prompt", "model", "seed", "size", "generator"]);
  for (const [key, value] of Object.entries(asset.params || {})) {
    if (shown.has(key) || typeof value === "object" || String(value).length >= 200) continue;
    rows.push([key.replaceAll("_", " "), String(value)]);
  }
  if (asset.parent_id) rows.push(["Made from", h("a", { href: `#/asset/${asset.parent_id}` }, asset.parent_id)]);
  return h("dl", { class: "params" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

const VERDICTS = {
  verified: "Verified: signed by this server, watermark matches this image",
  signed: "Signed (C2PA), not matched to an image here",
  watermarked: "Watermark found; the C2PA manifest was stripped",
  tampered: "Tampered: the manifest no longer matches the pixels",
  unknown: "No credentials found",
};

async function provenance(asset, out) {
  out.textContent = "Checking provenance…";
  try {
    const blob = await (await api(fileUrl(asset.id), { raw: true })).blob();
    const form = new FormData();
    form.append("image", blob, `${asset.id}.${asset.format}`);
    const report = await api("/api/verify", { method: "POST", form });
    out.textContent = VERDICTS[report.verdict] || report.verdict;
    out.dataset.verdict = report.verdict;
  } catch (error) {
    out.textContent = `Provenance check failed: ${error.message}`;
  }
}

function downloadAction(asset) {
  const format = h("select", { "aria-label": "Download format" });
  format.append(...options(["png", "jpeg", "webp"], asset.format));
  const link = h("a", { class: "button", href: fileUrl(asset.id), download: `${asset.id}.${asset.format}` }, "Download");
  format.addEventListener("change", () => {
    link.href = fileUrl(asset.id, format.value);
    link.download = `${asset.id}.${format.value}`;
  });
  return h("div", { class: "row" }, format, link);
}

function variationsForm(asset, results) {
  const n = h("input", { type: "number", min: 1, max: 8, value: 4 });
  const strength = h("select");
  strength.append(...options([["", "Same settings, new seeds"], ["subtle", "Subtle"], ["strong", "Strong"]], ""));
  const go = h("button", { type: "submit", class: "primary" }, "Make variations");
  const form = h("form", { class: "stack" }, h("div", { class: "grid2" }, field("How many", n), field("Strength", strength)), go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { n: Number(n.value) || 4 };
    if (strength.value) body.strength = strength.value;
    submitAndTrack(`/api/assets/${asset.id}/variations`, body, results);
  });
  return form;
}

function editForm(asset, results, stage) {
  const model = state.models.find((m) => m.id === asset.model) || currentModel();
  const masks = Boolean(model?.capabilities.mask);
  const editor = maskEditor(fileUrl(asset.id), asset.width, asset.height);
  const instruction = h("textarea", { rows: 2, required: true, placeholder: "e.g. make the sky orange" });
  const go = h("button", { type: "submit", class: "primary" }, "Apply edit");
  const note = masks ? "Paint the area to change; no paint edits the whole image."
    : `${model?.id} edits without a mask: the painted area is ignored`;
  stage.show(editor.el);
  const form = h("form", { class: "stack" }, h("p", { class: "muted" }, note), field("Instruction", instruction), go);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!instruction.value.trim()) {
      instruction.focus();
      return toast("instruction: say what to change", "error");
    }
    go.disabled = true;
    try {
      const thread = await post("/api/threads", { asset_id: asset.id, title: instruction.value.slice(0, 80) });
      const turn = { instruction: instruction.value, node_id: thread.root_id };
      if (masks && editor.painted) turn.mask = editor.toBase64();
      const node = await post(`/api/threads/${thread.id}/turns`, turn);
      const job = await get(`/api/jobs/${node.job_id}`);
      trackJob(job, results);
      results.before(h("p", null, "Edit running in thread ", h("a", { href: `#/threads/${thread.id}` }, thread.title || thread.id)));
      refreshCredits();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      go.disabled = false;
    }
  });
  return form;
}

function upscaleForm(asset, results) {
  const factor = h("select");
  factor.append(...options([["2", "2×"], ["4", "4×"]], "2"));
  const go = h("button", { type: "submit", class: "primary" }, "Upscale");
  const form = h("form", { class: "row" }, field("Factor", factor), go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitAndTrack(`/api/assets/${asset.id}/upscale`, { factor: Number(factor.value) }, results);
  });
  return form;
}

function textForm(asset, results) {
  const headline = h("input", { maxlength: 200 });
  const subtitle = h("input", { maxlength: 300 });
  const position = h("select");
  position.append(...options(["auto", "top", "bottom", "center", "left", "right"], "auto"));
  const go = h("button", { type: "submit", class: "primary" }, "Add text");
  const form = h("form", { class: "stack" }, h("div", { class: "grid2" }, field("Headline", headline),
    field("Subtitle", subtitle)), field("Position", position), go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { position: position.value };
    if (headline.value.trim()) body.headline = headline.value.trim();
    if (subtitle.value.trim()) body.subtitle = subtitle.value.trim();
    if (!body.headline && !body.subtitle) return toast("headline: write the text to add", "error");
    submitAndTrack(`/api/assets/${asset.id}/text`, body, results);
  });
  return form;
}

function actions(asset, results, close, stage) {
  const panel = h("div", { class: "stack" });
  const show = (title, content) => {
    if (title !== "Edit with a mask") stage.reset();
    panel.replaceChildren(h("h3", null, title), content);
  };
  const button = (label, onclick, props = {}) => h("button", { type: "button", onclick, ...props }, label);
  const confirmDelete = button("Delete", () => {
    const sure = button("Yes, delete this image", async () => {
      try {
        await del(`/api/assets/${asset.id}`);
        emit("asset-deleted", asset.id);
        toast("Image deleted", "ok");
        close();
      } catch (error) {
        toast(error.message, "error");
      }
    }, { class: "danger" });
    show("Delete", h("div", { class: "row" }, h("span", null, "The file and its record go; threads keep their place."), sure));
    sure.focus();
  }, { class: "danger" });
  const bar = h(
    "div",
    { class: "row", role: "toolbar", "aria-label": "Image actions" },
    downloadAction(asset),
    button("Variations", () => show("Variations", variationsForm(asset, results))),
    button("Edit", () => show("Edit with a mask", editForm(asset, results, stage))),
    button("Upscale", () => show("Upscale", upscaleForm(asset, results))),
    button("Add text", () => show("Add text", textForm(asset, results))),
    button("Use as reference", async () => {
      const { useAsReference } = await import("./explore.js");
      useAsReference(asset);
      close();
      navigate("/explore");
    }),
    button("Compare", () => {
      sessionStorage.setItem("pixelforge.compare.prompt", asset.prompt || "");
      close();
      navigate("/compare");
    }),
    confirmDelete,
  );
  return h("div", { class: "stack" }, bar, panel);
}

/** The detail content of one asset; `close` leaves it. */
export async function detail(assetId, close) {
  const asset = await get(`/api/assets/${encodeURIComponent(assetId)}`);
  const results = h("div", { class: "gallery", "aria-label": "Results of actions" });
  const verdict = h("p", { class: "provenance", role: "status" });
  provenance(asset, verdict);
  const image = h("img", { class: "detail-image", src: fileUrl(asset.id), alt: asset.prompt || asset.id });
  const slot = h("div", { class: "detail-stage" }, image);
  // The mask editor takes the image's place while an edit is being painted.
  const stage = { show: (el) => slot.replaceChildren(el), reset: () => slot.replaceChildren(image) };
  return h(
    "div",
    { class: "dialog-body" },
    h("div", { class: "stack" }, slot, actions(asset, results, close, stage), results),
    h("div", { class: "stack" }, h("h3", null, "Parameters"), params(asset), h("h3", null, "Provenance"), verdict),
  );
}

/** Open an asset in a modal dialog (Escape or the close button closes it). */
export async function openDialog(assetId) {
  const dialog = h("dialog", { "aria-labelledby": "detail-title", class: "detail" });
  const close = () => dialog.close();
  const closeButton = h("button", { type: "button", "aria-label": "Close" }, "Close");
  closeButton.addEventListener("click", close);
  dialog.append(h("div", { class: "dialog-head" }, h("h2", { id: "detail-title" }, "Image"), closeButton));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  try {
    dialog.append(await detail(assetId, close));
  } catch (error) {
    dialog.append(h("p", { class: "form-error", role: "alert" }, error.message));
  }
  closeButton.focus();
  return dialog;
}

export async function render(root, { args }) {
  root.append(h("h1", { id: "detail-title" }, "Image"), await detail(args[0], () => navigate("/history")));
}
