"""A scene: layers of SVG drawing and placed raster images, and the SVG that describes it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html import escape


@dataclass(frozen=True, slots=True)
class ImageLayer:
    """A raster image drawn into a rounded rectangle, cropped to cover it around ``focus``."""

    data: bytes
    mime: str
    x: float
    y: float
    width: float
    height: float
    radius: float = 0.0
    focus: tuple[float, float] = (0.5, 0.5)
    contain: bool = False


@dataclass(slots=True)
class Scene:
    width: int
    height: int
    layers: list[str | ImageLayer] = field(default_factory=list)
    defs: list[str] = field(default_factory=list)
    title: str = ""

    def add(self, *parts: str) -> None:
        for part in parts:
            if part:
                if self.layers and isinstance(self.layers[-1], str):
                    self.layers[-1] += part
                else:
                    self.layers.append(part)

    def add_image(self, layer: ImageLayer) -> None:
        self.layers.append(layer)

    def vector_documents(self) -> list[str | ImageLayer]:
        """Layers in paint order, each vector run as a standalone SVG document."""
        out: list[str | ImageLayer] = []
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        for layer in self.layers:
            out.append(self._document(defs + layer) if isinstance(layer, str) else layer)
        return out

    def _document(self, body: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
            f' width="{self.width}" height="{self.height}"'
            f' viewBox="0 0 {self.width} {self.height}">{body}</svg>'
        )

    def to_svg(self) -> str:
        """One self-contained SVG of the whole scene (images inlined as data URIs)."""
        parts = [f"<title>{escape(self.title)}</title>"] if self.title else []
        if self.defs:
            parts.append(f"<defs>{''.join(self.defs)}</defs>")
        for i, layer in enumerate(self.layers):
            if isinstance(layer, str):
                parts.append(layer)
                continue
            href = f"data:{layer.mime};base64,{base64.b64encode(layer.data).decode()}"
            fx, fy = layer.focus
            align = f"x{_align(fx)}Y{_align(fy)} {'meet' if layer.contain else 'slice'}"
            clip = f"img-clip-{i}"
            parts.append(
                f'<clipPath id="{clip}"><rect x="{layer.x:.2f}" y="{layer.y:.2f}" '
                f'width="{layer.width:.2f}" height="{layer.height:.2f}" rx="{layer.radius:.2f}"/>'
                f'</clipPath><image clip-path="url(#{clip})" x="{layer.x:.2f}" y="{layer.y:.2f}" '
                f'width="{layer.width:.2f}" height="{layer.height:.2f}" '
                f'preserveAspectRatio="{align}" xlink:href="{href}"/>'
            )
        return self._document("".join(parts))


def _align(f: float) -> str:
    return "Min" if f < 0.34 else "Max" if f > 0.66 else "Mid"
