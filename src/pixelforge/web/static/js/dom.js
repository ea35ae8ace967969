// Small DOM helpers. Every element is built with h(): text goes in as text nodes, never as
// HTML, so nothing a user typed (prompts, names) can become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key in el && !key.includes("-") && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h("button", {class: "x", onclick: f}, "text", child, [more]) -> the element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** The same for SVG elements (charts, aspect-ratio shapes). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let uid = 0;
/** A fresh id for label/aria pairs. */
export function nextId(prefix = "pf") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: label, control, optional hint/reason (aria-describedby). */
export function field(label, control, hint) {
  control.id ||= nextId("f");
  const hintEl = h("small", { class: "hint", id: `${control.id}-hint` }, hint || "");
  control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

/** Options for a <select>: [[value, label], ...] or [value, ...]. */
export function options(items, selected) {
  return items.map((item) => {
    const [value, label] = Array.isArray(item) ? item : [item, item];
    return h("option", { value, selected: String(value) === String(selected) }, label);
  });
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : null }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

export function usd(value) {
  if (value === null || value === undefined) return "–";
  const n = Number(value);
  if (n === 0) return "$0";
  if (n < 0.01) return `$${n.toFixed(4).replace(/0+$/, "")}`;
  if (n < 1) return `$${n.toFixed(3).replace(/0$/, "")}`;
  return `$${n.toFixed(2)}`;
}

export function when(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleString();
}

/** Run fn at most once per `ms`, with the last arguments. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A file (or Blob) as base64 without the data: prefix. */
export function toBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Let `zone` take dropped items: highlighted while dragged over; onDrop(dataTransfer). */
export function dropTarget(zone, onDrop) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    onDrop(event.dataTransfer);
  });
}
