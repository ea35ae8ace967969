// The studio's entry point: sign-in check, header, theme, and the hash router.

import { ApiError, get, post, setCsrf } from "./api.js";
import { toast, usd } from "./dom.js";
import { loadModels, on, refreshMe, state } from "./state.js";

const THEME_KEY = "pixelforge.theme";

/** route name -> module path; each module exports render(root, params) -> cleanup? */
const ROUTES = {
  signin: "./views/signin.js",
  draft: "./views/studio.js",
  explore: "./views/studio.js",
  history: "./views/history.js",
  threads: "./views/threads.js",
  compare: "./views/compare.js",
  batch: "./views/batch.js",
  keys: "./views/keys.js",
  admin: "./views/admin.js",
  asset: "./views/asset.js",
};

let cleanup = null;
let ready = false;

function parseHash() {
  // A "?a=b" query after the route (filters, e.g. #/history?q=cat) is the view's to read.
  const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean);
  const name = parts[0] && ROUTES[parts[0]] ? parts[0] : "draft";
  return { name, args: parts.slice(1).map(decodeURIComponent) };
}

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

async function route() {
  const { name, args } = parseHash();
  if (!ready && name !== "signin") return;
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  for (const link of document.querySelectorAll("[data-route]")) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const root = document.getElementById("view");
  root.dataset.view = name;
  try {
    const module = await import(ROUTES[name]);
    root.replaceChildren();
    cleanup = await module.render(root, { name, args });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    root.replaceChildren();
    toast(error.message, "error");
    throw error;
  }
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme-toggle");
  button.textContent = theme === "dark" ? "Light theme" : "Dark theme";
}

function initialTheme() {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === "dark" || saved === "light") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function renderHeader(me) {
  document.getElementById("topbar").hidden = false;
  document.getElementById("account-name").textContent = me.id ? me.email : "Local user";
  document.getElementById("nav-admin").hidden = me.role !== "admin";
  document.getElementById("sign-out").hidden = !me.accounts;
  const credits = document.getElementById("credits");
  credits.textContent = me.balance === null ? "Local · free" : `${usd(me.balance)} credits`;
}

async function start() {
  applyTheme(initialTheme());
  document.getElementById("theme-toggle").addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await post("/auth/logout").catch(() => null);
    setCsrf(null);
    location.hash = "#/signin";
    location.reload();
  });
  const menu = document.getElementById("account-menu");
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  on("me", renderHeader);
  window.addEventListener("pf:signed-out", () => {
    if (parseHash().name !== "signin") {
      ready = false;
      document.getElementById("topbar").hidden = true;
      location.hash = "#/signin";
    }
  });
  window.addEventListener("hashchange", route);
  try {
    const me = await refreshMe();
    setCsrf(me.csrf_token);
    await loadModels();
    ready = true;
    if (parseHash().name === "signin") location.hash = "#/draft";
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    location.hash = "#/signin";
  }
  await route();
}

/** After sign-in: load the user and the models, then go to the studio. */
export async function signedIn(csrf) {
  setCsrf(csrf);
  await refreshMe();
  await loadModels();
  ready = true;
  navigate("/draft");
}

/** Keep the header's balance current after anything that spends. */
export function refreshCredits() {
  if (state.me && state.me.balance !== null) refreshMe().catch(() => null);
}

export { get };
start();
