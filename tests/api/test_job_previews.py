"""Step previews reach the job's events stream while it runs, and go when it ends."""

from __future__ import annotations

import base64
import io
import json

import httpx
from PIL import Image

from server_support import StartServer
from testing_engines import BlockingEngine


def test_running_job_streams_its_latest_preview_as_a_jpeg(make_server: StartServer) -> None:
    engine = BlockingEngine(preview=Image.new("RGB", (640, 480), (220, 30, 30)))
    server = make_server(engines=[engine])
    events: list[tuple[str, dict[str, object]]] = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        job_id = client.post("/api/jobs", json={"prompt": "x", "model": "blocking"}).json()["id"]
        assert engine.started.wait(10)
        name = "message"
        with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, json.loads(line.removeprefix("data: "))))
                    if "preview" in events[-1][1]:
                        engine.release()
    with_preview = [data for _, data in events if "preview" in data]
    assert len(with_preview) == 1  # sent once, not with every event
    url = str(with_preview[0]["preview"])
    assert url.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.format == "JPEG"
    assert image.size == (256, 192)  # thumbnail: long edge 256
    r, g, b = image.convert("RGB").getpixel((128, 96))
    assert r > 180
    assert max(g, b) < 80
    assert events[-1][0] == "done"
    assert "preview" not in events[-1][1]
