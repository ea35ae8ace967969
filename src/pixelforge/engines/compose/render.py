"""Rasterize a scene with Skia: SVG layers through SVGDOM, images drawn directly.

Skia's SVGDOM does not load ``<image>`` data, so raster layers are drawn with the canvas API
between the vector layers, in paint order. The result is exactly ``width x height``.
"""

from __future__ import annotations

import numpy as np
import skia
from PIL import Image

from pixelforge.engines.compose.scene import ImageLayer, Scene
from pixelforge.errors import EngineError


def rasterize_svg(svg: str, width: int, height: int, canvas: skia.Canvas) -> None:
    """Draw one SVG document onto ``canvas`` (the raw rasterizer call)."""
    dom = skia.SVGDOM.MakeFromStream(skia.MemoryStream(svg.encode("utf-8"), True))
    if dom is None:
        raise EngineError("compose produced SVG that the rasterizer could not parse")
    dom.setContainerSize(skia.Size(width, height))
    dom.render(canvas)


def _draw_image(canvas: skia.Canvas, layer: ImageLayer) -> None:
    image = skia.Image.MakeFromEncoded(skia.Data.MakeWithCopy(layer.data))
    if image is None:
        raise EngineError("an input image could not be decoded for compositing")
    iw, ih = image.width(), image.height()
    scale = (min if layer.contain else max)(layer.width / iw, layer.height / ih)
    sw, sh = layer.width / scale, layer.height / scale
    fx, fy = layer.focus
    sx = min(max(fx * iw - sw / 2, 0.0), max(iw - sw, 0.0))
    sy = min(max(fy * ih - sh / 2, 0.0), max(ih - sh, 0.0))
    src = skia.Rect.MakeXYWH(sx, sy, min(sw, iw), min(sh, ih))
    if layer.contain:
        dw, dh = iw * scale, ih * scale
        dst = skia.Rect.MakeXYWH(
            layer.x + (layer.width - dw) / 2, layer.y + (layer.height - dh) / 2, dw, dh
        )
    else:
        dst = skia.Rect.MakeXYWH(layer.x, layer.y, layer.width, layer.height)
    canvas.save()
    rect = skia.Rect.MakeXYWH(layer.x, layer.y, layer.width, layer.height)
    canvas.clipRRect(skia.RRect.MakeRectXY(rect, layer.radius, layer.radius), doAntiAlias=True)
    sampling = skia.SamplingOptions(skia.CubicResampler.Mitchell())
    canvas.drawImageRect(image, src, dst, sampling)
    canvas.restore()


def render_scene(scene: Scene, transparent: bool = False) -> Image.Image:
    """Pixels of ``scene``: RGBA when ``transparent``, else RGB."""
    w, h = scene.width, scene.height
    pixels = np.zeros((h, w, 4), np.uint8)
    surface = skia.Surface(
        pixels, colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kUnpremul_AlphaType
    )
    with surface as canvas:
        for layer in scene.vector_documents():
            if isinstance(layer, str):
                rasterize_svg(layer, w, h, canvas)
            else:
                _draw_image(canvas, layer)
    surface.flushAndSubmit()
    if transparent:
        return Image.fromarray(pixels, "RGBA")
    # Unpacking RGBX straight into RGB is twice as fast as converting an RGBA image.
    return Image.frombytes("RGB", (w, h), pixels, "raw", "RGBX")
