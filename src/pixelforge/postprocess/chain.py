"""The one postprocess chain every output passes: watermark -> encode (+ metadata) -> C2PA.

``OutputChain.finish`` takes an engine's image and returns the bytes that leave Pixelforge:

1. an invisible watermark with a fresh 32-bit id (``watermark``), which ``/api/verify`` maps
   back to the asset;
2. encoding in the requested format with the request's metadata (``encode``), or without the
   prompt when prompt metadata is turned off;
3. a signed C2PA manifest (``provenance``): model, AI-generated, and the inputs of an edit as
   ingredients (an input that has its own manifest keeps it inside ours).

Each step can be turned off in settings; a chain with everything off is the bare encode.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from pixelforge.domain import OutputFormat
from pixelforge.postprocess import watermark
from pixelforge.postprocess.encode import encode
from pixelforge.postprocess.provenance import ContentCredentials, Ingredient


def is_prompt_key(key: str) -> bool:
    """Metadata keys that carry prompt text (``prompt``, ``negative prompt``, a provider's
    ``revised_prompt``, ...): dropped when prompt metadata is off."""
    return "prompt" in key.lower()


@dataclass(frozen=True, slots=True)
class Finished:
    data: bytes
    watermark_id: int | None
    signed: bool


def new_watermark_id() -> int:
    return secrets.randbelow(2**watermark.ID_BITS - 1) + 1


@dataclass(frozen=True, slots=True)
class OutputChain:
    credentials: ContentCredentials | None = None
    watermark: bool = True
    prompt_metadata: bool = True

    def finish(
        self, image: Image.Image, fmt: OutputFormat, meta: Mapping[str, str],
        compression: int | None = None, *, model: str, title: str,
        ingredients: Sequence[Ingredient] = (),
    ) -> Finished:  # fmt: skip
        mark_id = new_watermark_id() if self.watermark else None
        if mark_id is not None:
            image = watermark.embed(image, mark_id)
        fields = dict(meta)
        if not self.prompt_metadata:
            fields = {k: v for k, v in fields.items() if not is_prompt_key(k)}
        data = encode(image, fmt, fields, compression)
        if self.credentials is None:
            return Finished(data, mark_id, False)
        generation: dict[str, object] = {"watermark_id": mark_id} if mark_id else {}
        if fields.get("seed"):
            generation["seed"] = fields["seed"]
        signed = self.credentials.sign(data, fmt.value, model=model, title=title,
                                       ingredients=ingredients, generation=generation)  # fmt: skip
        return Finished(signed, mark_id, True)


#: The chain used where none is configured (tests, library use): the bare encode.
BARE = OutputChain(credentials=None, watermark=False)
