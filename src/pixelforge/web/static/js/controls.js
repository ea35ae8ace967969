// Generation controls shared by Draft and Explore: the model picker (speed class and the
// price of the current settings, from POST /api/quote), aspect-ratio chips with shape
// previews, resolution tier, n, seed, quality, format, background, negative prompt.
// Controls the chosen model cannot honour are disabled, and the hint under them says why.

import { post } from "./api.js";
import { debounce, field, h, nextId, options, s, usd } from "./dom.js";
import { currentModel, emit, on, saveSettings, state } from "./state.js";

const RATIOS = ["1:1", "4:5", "5:4", "3:4", "4:3", "2:3", "3:2", "9:16", "16:9", "21:9"];
const TIER_ORDER = ["512", "1K", "2K", "4K"];

/** The last quote per model id: {ok, price, per_image, error}. */
export const quotes = new Map();

function shape(ratio) {
  const [w, h2] = ratio.split(":").map(Number);
  const scale = 18 / Math.max(w, h2);
  return s(
    "svg",
    { width: 20, height: 20, viewBox: "0 0 20 20", "aria-hidden": "true", focusable: "false" },
    s("rect", {
      x: (20 - w * scale) / 2, y: (20 - h2 * scale) / 2, width: w * scale, height: h2 * scale,
      rx: 1.5, fill: "none", stroke: "currentColor", "stroke-width": 1.6,
    }),
  );
}

function radioChip(name, value, label, checked, extra) {
  const input = h("input", { type: "radio", class: "sr-only", name, value, checked });
  return h("label", { class: "chip", dataset: { value } }, input, extra, label);
}

/** Settings as request fields (only what the model honours). */
export function requestFields() {
  const st = state.settings;
  const caps = currentModel()?.capabilities;
  const fields = {
    model: st.model, aspect_ratio: st.aspect_ratio, resolution: st.resolution,
    n: Number(st.n) || 1, quality: st.quality, output_format: st.output_format,
    background: st.background,
  };
  if (st.seed !== "" && caps?.seed) fields.seed = Number(st.seed);
  if (st.negative_prompt && caps?.negative_prompt) fields.negative_prompt = st.negative_prompt;
  return fields;
}

/** Move settings the model cannot honour to ones it can. */
function fitToModel() {
  const caps = currentModel()?.capabilities;
  if (!caps) return;
  const patch = {};
  if (!caps.aspect_ratios.includes(state.settings.aspect_ratio)) {
    patch.aspect_ratio = caps.aspect_ratios.includes("1:1") ? "1:1" : caps.aspect_ratios[0];
  }
  if (!caps.resolutions.includes(state.settings.resolution)) {
    patch.resolution = caps.resolutions.includes("1K") ? "1K" : caps.resolutions[0];
  }
  if (Number(state.settings.n) > caps.n_max) patch.n = caps.n_max;
  if (!caps.formats.includes(state.settings.output_format)) patch.output_format = caps.formats[0];
  if (state.settings.background === "transparent" && !caps.transparent_background) patch.background = "auto";
  if (Object.keys(patch).length) saveSettings(patch);
}

function modelPicker() {
  const list = h("div", { class: "models", role: "radiogroup", "aria-label": "Model" });
  const draw = () => {
    list.replaceChildren(
      ...state.models.map((m) => {
        const quote = quotes.get(m.id);
        const speed = m.capabilities.speed_class;
        const input = h("input", { type: "radio", name: "model", value: m.id, checked: m.id === state.settings.model });
        input.addEventListener("change", () => {
          state.settings.model = m.id;
          fitToModel();
          saveSettings({ model: m.id });
        });
        const price = quote ? (quote.ok ? usd(quote.price) : "–") : "…";
        const why = quote && !quote.ok ? quote.error?.message : null;
        return h(
          "label",
          { class: "model", dataset: { model: m.id }, title: m.description || m.id },
          input,
          h("span", null, m.id, " ", h("span", { class: `badge ${speed}` }, speed)),
          h("span", { class: "price", "aria-label": `price ${price}` }, price),
          why ? h("small", { class: "why" }, why) : null,
        );
      }),
    );
  };
  draw();
  return { el: h("fieldset", null, h("legend", null, "Model"), list), draw };
}

function chipGroup(legend, name, values, supported, current, reason) {
  const hint = h("small", { class: "hint reason", id: nextId("hint") });
  const chips = values.map((v) => {
    const ok = supported.includes(v);
    const chip = radioChip(name, v, v, v === current, name === "aspect_ratio" ? shape(v) : null);
    const input = chip.querySelector("input");
    input.disabled = !ok;
    input.setAttribute("aria-describedby", hint.id);
    if (!ok) chip.title = reason;
    input.addEventListener("change", () => saveSettings({ [name]: v }));
    return chip;
  });
  if (values.some((v) => !supported.includes(v))) hint.textContent = reason;
  return h(
    "fieldset",
    null,
    h("legend", null, legend),
    h("div", { class: "chips", role: "radiogroup", "aria-label": legend }, chips),
    hint,
  );
}

function input(name, props, onValue) {
  const el = h(props.tag || "input", { ...props, tag: undefined, name });
  el.addEventListener("change", () => saveSettings({ [name]: onValue ? onValue(el.value) : el.value }));
  return el;
}

function settingsFields() {
  const m = currentModel();
  const caps = m?.capabilities;
  const st = state.settings;
  const box = h("div", { class: "stack" });
  if (!caps) return box;
  const id = m.id;
  const ratios = [...new Set([...RATIOS, ...caps.aspect_ratios])];
  const tiers = TIER_ORDER.filter((t) => state.models.some((x) => x.capabilities.resolutions.includes(t)));
  box.append(
    chipGroup("Aspect ratio", "aspect_ratio", ratios, caps.aspect_ratios, st.aspect_ratio,
      `${id} supports ${caps.aspect_ratios.join(", ")}`),
    chipGroup("Resolution", "resolution", tiers, caps.resolutions, st.resolution,
      `${id} renders ${caps.resolutions.join(", ")}`),
  );
  const n = input("n", { type: "number", min: 1, max: caps.n_max, value: st.n }, (v) =>
    Math.max(1, Math.min(caps.n_max, Number(v) || 1)));
  const seed = input("seed", { type: "number", min: 0, value: st.seed, placeholder: "random", disabled: !caps.seed });
  const quality = input("quality", { tag: "select" });
  quality.append(...options([["auto", "Auto"], ["low", "Low"], ["medium", "Medium"], ["high", "High"]], st.quality));
  const format = input("output_format", { tag: "select" });
  format.append(...options(["png", "jpeg", "webp"], st.output_format));
  for (const opt of format.options) opt.disabled = !caps.formats.includes(opt.value);
  const background = input("background", { tag: "select" });
  background.append(...options([["auto", "Auto"], ["opaque", "Opaque"], ["transparent", "Transparent"]], st.background));
  background.options[2].disabled = !caps.transparent_background;
  const negative = input("negative_prompt", {
    tag: "textarea", rows: 2, value: st.negative_prompt, disabled: !caps.negative_prompt,
    placeholder: "What to leave out",
  });
  box.append(
    h(
      "div",
      { class: "grid2" },
      field("Images (n)", n, `up to ${caps.n_max} per request`),
      field("Seed", seed, caps.seed ? "empty: random" : `${id} does not take a seed`),
      field("Quality", quality),
      field("Format", format, caps.formats.length < 3 ? `${id} writes ${caps.formats.join(", ")}` : ""),
    ),
    field("Background", background, caps.transparent_background ? "" : `${id} cannot make transparent backgrounds`),
    field("Negative prompt", negative, caps.negative_prompt ? "" : `${id} takes no negative prompt`),
  );
  return box;
}

const refreshQuotes = debounce(async () => {
  const fields = requestFields();
  delete fields.model;
  try {
    const answer = await post("/api/quote", fields);
    for (const q of answer.data) quotes.set(q.model, q);
    emit("quotes", quotes);
  } catch {
    // Prices are a hint; a failed quote leaves the last ones.
  }
}, 120);

/** The controls panel; it redraws itself when settings or quotes change. */
export function controls() {
  const root = h("section", { class: "card stack", "aria-label": "Settings" });
  const picker = modelPicker();
  let fields = settingsFields();
  root.append(picker.el, fields);
  let lastModel = state.settings.model;
  const offSettings = on("settings", () => {
    refreshQuotes();
    if (state.settings.model !== lastModel) {
      lastModel = state.settings.model;
      const next = settingsFields();
      fields.replaceWith(next);
      fields = next;
    }
  });
  const offQuotes = on("quotes", picker.draw);
  refreshQuotes();
  root.cleanup = () => {
    offSettings();
    offQuotes();
  };
  return root;
}
