// Draft: the prompt-led workspace. Use-case templates, the prompt box with the optimizer
// (original and optimized side by side, slot chips to edit), exact text to render, and a
// brand kit picker.

import { get, post } from "../api.js";
import { field, h, options, toast } from "../dom.js";
import { state } from "../state.js";

/** Use-case templates: a starting prompt each ({} marks what to replace). */
export const TEMPLATES = [
  ["poster", "Poster", 'Event poster for "{Event name}", bold headline, date and venue at the bottom, vibrant colours'],
  ["product_shot", "Product shot", "Studio product shot of {a matte black water bottle} on a seamless background, soft shadows"],
  ["infographic", "Infographic", 'Infographic titled "{Title}" with 4 labelled steps, icons, clean flat style'],
  ["ui_mockup", "UI mockup", "Mobile app screen mockup for {a habit tracker}, cards, tab bar, light theme"],
  ["portrait", "Portrait", "Portrait of {a smiling chef} in warm window light, shallow depth of field"],
  ["thumbnail", "Thumbnail", 'YouTube thumbnail "{Big title}" with a surprised face and high contrast'],
  ["concept_art", "Concept art", "Concept art of {a floating city at dusk}, wide establishing shot, painterly"],
];

let els = null;

function optimizerPanel(result) {
  const optimized = h("textarea", { rows: 6, "aria-label": "Optimized prompt" }, result.optimized);
  const chips = Object.entries(result.slots).map(([slot, value]) => slotChip(slot, value, optimized));
  const use = h("button", { type: "button", class: "primary small" }, "Use optimized");
  use.addEventListener("click", () => {
    els.prompt.value = optimized.value;
    state.prompt = optimized.value;
    els.optimizer.replaceChildren();
    els.prompt.focus();
    toast("Optimized prompt in place", "ok");
  });
  const close = h("button", { type: "button", class: "small" }, "Keep original");
  close.addEventListener("click", () => els.optimizer.replaceChildren());
  return h(
    "div",
    { class: "stack", id: "optimizer-result" },
    h(
      "div",
      { class: "compare-prompts" },
      h("div", null, h("h3", null, "Original"), h("pre", null, result.original)),
      h("div", null, h("h3", null, `Optimized · ${result.use_case.replace("_", " ")}`), optimized),
    ),
    h("div", { class: "chips", role: "list", "aria-label": "Prompt slots (click to edit)" },
      chips.map((chip) => h("span", { role: "listitem" }, chip))),
    result.warnings.length ? h("p", { class: "reason" }, result.warnings.join(" ")) : null,
    h("div", { class: "row" }, use, close),
  );
}

/** A slot chip; editing it replaces the slot's text inside the optimized prompt. */
function slotChip(slot, value, optimized) {
  const chip = h(
    "button",
    { type: "button", class: "chip", "aria-label": `Edit ${slot}: ${value}` },
    h("span", { class: "slot-key" }, slot),
    value,
  );
  chip.addEventListener("click", () => {
    const edit = h("input", { value, "aria-label": `New ${slot}`, class: "chip" });
    let done = false;
    const commit = () => {
      if (done) return;
      done = true;
      const next = edit.value.trim();
      if (next && next !== value) optimized.value = optimized.value.split(value).join(next);
      edit.replaceWith(slotChip(slot, next || value, optimized));
    };
    edit.addEventListener("keydown", (event) => {
      if (event.key === "Enter") commit();
      if (event.key === "Escape" && !done) {
        done = true;
        edit.replaceWith(chip);
      }
    });
    edit.addEventListener("blur", commit, { once: true });
    chip.replaceWith(edit);
    edit.focus();
    edit.select();
  });
  return chip;
}

function textFields() {
  const headline = h("input", { name: "headline", maxlength: 200 });
  const subtitle = h("input", { name: "subtitle", maxlength: 300 });
  const cta = h("input", { name: "cta", maxlength: 60 });
  const labels = h("input", { name: "labels", placeholder: "comma separated" });
  const position = h("select", { name: "position" });
  position.append(...options(["auto", "top", "bottom", "center", "left", "right"], "auto"));
  return {
    el: h(
      "details",
      { class: "card" },
      h("summary", null, "Text to render exactly"),
      h("p", { class: "muted" }, "Drawn on every output in any script, whatever the model."),
      h("div", { class: "grid2" }, field("Headline", headline), field("Subtitle", subtitle),
        field("Button text", cta), field("Position", position)),
      field("Labels", labels),
    ),
    value() {
      const overlay = {
        headline: headline.value.trim() || null, subtitle: subtitle.value.trim() || null,
        cta: cta.value.trim() || null,
        labels: labels.value.split(",").map((x) => x.trim()).filter(Boolean),
      };
      if (!overlay.headline && !overlay.subtitle && !overlay.cta && !overlay.labels.length) return null;
      return { ...overlay, position: position.value };
    },
  };
}

async function brandPicker() {
  const select = h("select", { name: "brand_kit" });
  select.append(h("option", { value: "" }, "None"));
  try {
    const kits = await get("/api/references?kind=brand_kit&limit=100");
    select.append(...kits.data.map((k) => h("option", { value: k.id }, k.name)));
  } catch {
    // No kits reachable: the picker stays at None.
  }
  return select;
}

export async function draftPanel() {
  const prompt = h("textarea", { rows: 5, name: "prompt", placeholder: "Describe the image…" });
  prompt.value = state.prompt;
  prompt.addEventListener("input", () => (state.prompt = prompt.value));
  const optimizer = h("div", { "aria-live": "polite" });
  const optimize = h("button", { type: "button" }, "Optimize prompt");
  let useCase = null;
  optimize.addEventListener("click", async () => {
    if (!prompt.value.trim()) {
      toast("Write a prompt first", "error");
      prompt.focus();
      return;
    }
    optimize.disabled = true;
    try {
      const result = await post("/api/prompts/optimize", {
        prompt: prompt.value, model: state.settings.model, use_case: useCase,
      });
      optimizer.replaceChildren(optimizerPanel(result));
    } catch (error) {
      toast(error.message, "error");
    } finally {
      optimize.disabled = false;
    }
  });
  const templates = TEMPLATES.map(([id, label, text]) => {
    const chip = h("button", { type: "button", class: "chip", "aria-pressed": "false" }, label);
    chip.addEventListener("click", () => {
      for (const other of chip.parentElement.children) other.setAttribute("aria-pressed", "false");
      chip.setAttribute("aria-pressed", "true");
      useCase = id;
      prompt.value = text;
      state.prompt = text;
      prompt.focus();
      const start = text.indexOf("{");
      if (start >= 0) prompt.setSelectionRange(start, text.indexOf("}") + 1);
    });
    return chip;
  });
  const text = textFields();
  const brand = await brandPicker();
  els = { prompt, optimizer, text, brand };
  return h(
    "section",
    { class: "card stack", "aria-label": "Draft" },
    h("h1", null, "Draft"),
    h("div", { class: "chips", role: "group", "aria-label": "Templates" }, templates),
    field("Prompt", prompt),
    h("div", { class: "row" }, optimize),
    optimizer,
    text.el,
    field("Brand kit", brand, "Applies its palette, fonts and logo"),
  );
}

/** The Draft-specific request fields, or throws with what is missing. */
export async function draftRequest() {
  const prompt = els.prompt.value.trim();
  if (!prompt) {
    els.prompt.focus();
    throw new Error("prompt: write what to make first");
  }
  const body = { prompt };
  const overlay = els.text.value();
  if (overlay) body.text_overlay = overlay;
  if (els.brand.value) body.reference_sets = [{ id: els.brand.value }];
  return body;
}
