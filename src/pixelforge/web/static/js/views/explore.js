// Explore: the reference-led workspace. A reference tray (drag and drop, paste, a file
// picker, or "Use as reference" on any image) up to the model's limit with a role each;
// variations of a reference at a chosen strength; edit threads from it.

import { fileUrl, post } from "../api.js";
import { navigate } from "../app.js";
import { dropTarget, field, h, options, toast, toBase64 } from "../dom.js";
import { submitAndTrack } from "../gallery.js";
import { currentModel, emit, on, state } from "../state.js";

const ROLES = ["subject", "character", "product", "style", "composition", "background", "logo"];
const ACCEPT = ["image/png", "image/jpeg", "image/webp"];

let els = null;

function limit() {
  return currentModel()?.capabilities.max_references ?? 0;
}

/** Add image files to the tray (as inline references), up to the model's limit. */
export async function addFiles(files) {
  for (const file of files) {
    if (!ACCEPT.includes(file.type)) {
      toast(`${file.name || "pasted item"}: not a PNG, JPEG or WebP image`, "error");
      continue;
    }
    if (state.tray.length >= limit()) {
      toast(`The tray is full: ${currentModel()?.id} takes up to ${limit()} references`, "error");
      break;
    }
    state.tray.push({
      b64: await toBase64(file), preview: URL.createObjectURL(file), role: "subject",
      name: file.name || "pasted image",
    });
  }
  emit("tray");
}

function trayItem(ref, index) {
  const role = h("select", { "aria-label": `Role of ${ref.name}` });
  role.append(...options(ROLES, ref.role));
  role.addEventListener("change", () => (ref.role = role.value));
  const remove = h("button", { type: "button", class: "small", "aria-label": `Remove ${ref.name}` }, "Remove");
  remove.addEventListener("click", () => {
    state.tray.splice(index, 1);
    emit("tray");
  });
  return h("div", { class: "ref", role: "listitem" }, h("img", { src: ref.preview, alt: ref.name }), role, remove);
}

function tray() {
  const list = h("div", { class: "tray", role: "list", "aria-label": "References" });
  const count = h("p", { class: "muted", id: "tray-count" });
  const picker = h("input", { type: "file", accept: ACCEPT.join(","), multiple: true, class: "sr-only", id: "tray-file" });
  picker.addEventListener("change", () => addFiles([...picker.files]).then(() => (picker.value = "")));
  const zone = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    "Drop images here, paste (Ctrl+V), or ",
    h("label", { for: "tray-file", class: "button small", tabindex: 0 }, "choose files"),
    picker,
  );
  zone.querySelector("label").addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      picker.click();
    }
  });
  dropTarget(zone, (data) => {
    const assetId = data.getData("application/x-pixelforge-asset");
    if (assetId) useAsReference({ id: assetId });
    else addFiles([...data.files]);
  });
  const draw = () => {
    list.replaceChildren(...state.tray.map(trayItem));
    const max = limit();
    count.textContent = max
      ? `${state.tray.length} of ${max} references (${currentModel().id}'s limit)`
      : `${currentModel()?.id} takes no reference images: pick another model to use the tray`;
    zone.hidden = max === 0;
    els?.refresh();
  };
  draw();
  return { el: h("fieldset", null, h("legend", null, "Reference tray"), zone, list, count), draw };
}

/** Put an asset in the tray (from the detail dialog's "Use as reference"). */
export function useAsReference(asset) {
  if (state.tray.some((r) => r.asset_id === asset.id)) return;
  state.tray.push({ asset_id: asset.id, preview: fileUrl(asset.id), role: "subject", name: asset.id });
  emit("tray");
}

function firstAsset() {
  return state.tray.find((r) => r.asset_id) || null;
}

export async function explorePanel(gallery) {
  const prompt = h("textarea", { rows: 3, name: "prompt", placeholder: "What to make with these references" });
  const strength = h("select", { name: "strength" });
  strength.append(...options([["", "Same settings, new seeds"], ["subtle", "Subtle"], ["strong", "Strong"]], ""));
  const count = h("input", { type: "number", min: 1, max: 8, value: 4, name: "variations_n" });
  const vary = h("button", { type: "button" }, "Variations");
  const thread = h("button", { type: "button" }, "Start an edit thread");
  const trayBox = tray();
  const refresh = () => {
    const source = firstAsset();
    vary.disabled = thread.disabled = !source;
    vary.title = thread.title = source ? `From ${source.name}` : "Put a generated image in the tray first";
  };
  vary.addEventListener("click", async () => {
    const source = firstAsset();
    const body = { n: Number(count.value) || 4 };
    if (strength.value) body.strength = strength.value;
    await submitAndTrack(`/api/assets/${encodeURIComponent(source.asset_id)}/variations`, body, gallery.grid);
  });
  thread.addEventListener("click", async () => {
    try {
      const made = await post("/api/threads", { asset_id: firstAsset().asset_id });
      navigate(`/threads/${made.id}`);
    } catch (error) {
      toast(error.message, "error");
    }
  });
  const onPaste = (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      addFiles(files);
    }
  };
  document.addEventListener("paste", onPaste);
  const offTray = on("tray", trayBox.draw);
  const offSettings = on("settings", trayBox.draw);
  els = { prompt, refresh };
  refresh();
  const panel = h(
    "section",
    { class: "card stack", "aria-label": "Explore" },
    h("h1", null, "Explore"),
    trayBox.el,
    field("Prompt", prompt),
    h(
      "fieldset",
      null,
      h("legend", null, "From the first generated image in the tray"),
      h("div", { class: "grid2" }, field("Strength", strength), field("How many", count)),
      h("div", { class: "row" }, vary, thread),
    ),
  );
  panel.cleanup = () => {
    document.removeEventListener("paste", onPaste);
    offTray();
    offSettings();
  };
  return panel;
}

/** The Explore-specific request fields: the prompt and the tray as references. */
export async function exploreRequest() {
  const prompt = els.prompt.value.trim();
  if (!prompt) {
    els.prompt.focus();
    throw new Error("prompt: say what to make with the references");
  }
  const max = limit();
  if (state.tray.length > max) {
    throw new Error(`references: ${currentModel().id} takes up to ${max}; remove ${state.tray.length - max}`);
  }
  const references = state.tray.map((r) =>
    r.asset_id ? { asset_id: r.asset_id, role: r.role } : { b64_json: r.b64, role: r.role });
  return { prompt, references };
}
