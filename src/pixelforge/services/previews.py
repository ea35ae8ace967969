"""Step previews of running jobs, held in memory for the job's events stream.

Engines attach a small picture to some progress events (a tiny-autoencoder decode of the
latents, a provider's partial image). The worker posts the latest one here; the events stream
sends it as a JPEG data URL when a newer one arrives. Previews live in the process that runs
the job (the server's embedded workers), only while the job runs, and at most ``capacity``
jobs' worth at once.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

#: Long edge of a stored preview, and its JPEG quality: small enough for every event.
PREVIEW_EDGE = 256
PREVIEW_QUALITY = 70


@dataclass(frozen=True, slots=True)
class Preview:
    seq: int
    jpeg: bytes

    @property
    def data_url(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode()


class PreviewBoard:
    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._latest: OrderedDict[str, Preview] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, job_id: str, image: Image.Image) -> Preview:
        small = image.convert("RGB")
        small.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=PREVIEW_QUALITY)
        with self._lock:
            previous = self._latest.pop(job_id, None)
            preview = Preview((previous.seq if previous else 0) + 1, buf.getvalue())
            self._latest[job_id] = preview
            while len(self._latest) > self.capacity:
                self._latest.popitem(last=False)
            return preview

    def latest(self, job_id: str) -> Preview | None:
        with self._lock:
            return self._latest.get(job_id)

    def drop(self, job_id: str) -> None:
        with self._lock:
            self._latest.pop(job_id, None)
