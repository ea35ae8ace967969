// What the whole studio shares: the signed-in user, the models, the generation settings
// (kept in localStorage), the Explore reference tray, and a tiny event bus.

import { get } from "./api.js";

const SETTINGS_KEY = "pixelforge.settings";

export const DEFAULTS = {
  model: "compose",
  aspect_ratio: "1:1",
  resolution: "1K",
  n: 1,
  seed: "",
  quality: "auto",
  output_format: "png",
  background: "auto",
  negative_prompt: "",
};

function loadSettings() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

export const state = {
  me: null,
  models: [],
  settings: loadSettings(),
  /** Explore's reference tray: {asset_id?, b64?, preview, role, name}. */
  tray: [],
  /** Draft's prompt (kept across workspace switches). */
  prompt: "",
};

const listeners = new Map();

export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event).delete(fn);
}

export function emit(event, detail) {
  for (const fn of listeners.get(event) || []) fn(detail);
}

export function saveSettings(patch) {
  Object.assign(state.settings, patch);
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(state.settings));
  emit("settings", state.settings);
}

export async function loadModels() {
  const list = await get("/v1/models");
  // Generation models only: upscalers and the text-overlay step are actions, not pickers.
  state.models = list.data.filter((m) => m.capabilities.modes.includes("generate"));
  if (!state.models.some((m) => m.id === state.settings.model) && state.models.length) {
    saveSettings({ model: state.models[0].id });
  }
  return state.models;
}

export function currentModel() {
  return state.models.find((m) => m.id === state.settings.model) || null;
}

export async function refreshMe() {
  state.me = await get("/auth/me");
  emit("me", state.me);
  return state.me;
}
