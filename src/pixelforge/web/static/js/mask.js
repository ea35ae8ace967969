// The mask painter: paint over the image where the edit should happen (brush), take paint
// away (eraser). The canvas has the image's own pixel size; the mask sent is a PNG of that
// size, transparent where painted and opaque elsewhere (the API's mask convention).

import { field, h } from "./dom.js";

export function maskEditor(src, width, height) {
  const image = h("img", { src, alt: "Image to edit", width, height, draggable: "false" });
  const canvas = h("canvas", { width, height, "aria-label": "Mask: paint where to edit", role: "img" });
  const ctx = canvas.getContext("2d");
  let mode = "brush";
  let painting = false;
  let painted = false;
  let last = null;
  const size = h("input", { type: "range", min: 4, max: 200, value: Math.round(Math.max(width, height) / 16) });
  const brush = h("button", { type: "button", class: "chip", "aria-pressed": "true" }, "Brush");
  const eraser = h("button", { type: "button", class: "chip", "aria-pressed": "false" }, "Eraser");
  const clearButton = h("button", { type: "button", class: "small" }, "Clear mask");
  const setMode = (next) => {
    mode = next;
    brush.setAttribute("aria-pressed", String(next === "brush"));
    eraser.setAttribute("aria-pressed", String(next === "eraser"));
  };
  brush.addEventListener("click", () => setMode("brush"));
  eraser.addEventListener("click", () => setMode("eraser"));
  clearButton.addEventListener("click", () => {
    ctx.clearRect(0, 0, width, height);
    painted = false;
  });

  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) / box.width) * width,
      y: ((event.clientY - box.top) / box.height) * height,
    };
  };
  const stroke = (from, to) => {
    ctx.globalCompositeOperation = mode === "brush" ? "source-over" : "destination-out";
    ctx.strokeStyle = "rgba(239, 68, 68, 0.55)";
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = Number(size.value);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x + 0.01, to.y);
    ctx.stroke();
    if (mode === "brush") painted = true;
  };
  canvas.addEventListener("pointerdown", (event) => {
    painting = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!painting) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  const stop = () => {
    painting = false;
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  const el = h(
    "div",
    { class: "stack mask-editor" },
    h("div", { class: "row", role: "toolbar", "aria-label": "Mask tools" }, brush, eraser, clearButton),
    field("Brush size", size),
    h("div", { class: "mask-stage" }, image, canvas),
  );

  return {
    el,
    /** True when some area is painted. */
    get painted() {
      if (!painted) return false;
      const data = ctx.getImageData(0, 0, width, height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
      return false;
    },
    /** The mask as base64 PNG: transparent where painted, opaque black elsewhere. */
    toBase64() {
      const out = h("canvas", { width, height });
      const octx = out.getContext("2d");
      octx.fillStyle = "#000";
      octx.fillRect(0, 0, width, height);
      octx.globalCompositeOperation = "destination-out";
      octx.drawImage(canvas, 0, 0);
      // Painted pixels are half-transparent red: make every touched pixel fully clear.
      const pixels = octx.getImageData(0, 0, width, height);
      for (let i = 3; i < pixels.data.length; i += 4) pixels.data[i] = pixels.data[i] < 255 ? 0 : 255;
      octx.putImageData(pixels, 0, 0);
      return out.toDataURL("image/png").split(",", 2)[1];
    },
  };
}
