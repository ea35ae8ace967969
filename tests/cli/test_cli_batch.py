"""``pixelforge batch run``, in-process: images and an output line per request, a rerun that
resumes after an interruption or a failure with exactly one line per request, bad input."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pixelforge.domain.request import GenerationRequest
from pixelforge.engines.base import CancelToken, Engine, GenerationResult, ProgressSink
from pixelforge.errors import EngineError
from testing_engines import ZeroWorkEngine

GEN, EDIT = "/v1/images/generations", "/v1/images/edits"


def line(custom_id: str, url: str = GEN, **body: Any) -> dict[str, Any]:
    fields = {"prompt": f'Poster "{custom_id}"', "size": "256x256", **body}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": fields}


def write(path: Path, items: list[dict[str, Any] | str]) -> Path:
    rows = [item if isinstance(item, str) else json.dumps(item) for item in items]
    path.write_text("\n".join(rows) + "\n")
    return path


def output(folder: Path, name: str = "output.jsonl") -> list[dict[str, Any]]:
    return [json.loads(row) for row in (folder / name).read_text().splitlines()]


class ScriptedEngine(ZeroWorkEngine):
    """``zero`` that, while told to, stops the run (Ctrl-C) or fails on chosen requests."""

    def __init__(self) -> None:
        super().__init__("scripted")
        self.interrupt_after: int | None = None
        self.failing: set[str] = set()
        self.runs = 0

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        self.runs += 1
        if self.interrupt_after is not None and self.runs > self.interrupt_after:
            raise KeyboardInterrupt
        if request.prompt in self.failing:
            raise EngineError("the scripted engine failed")
        return super().run(request, progress, cancel)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedEngine:
    """The CLI's engines are this one engine (the CLI builds its engines itself)."""
    engine = ScriptedEngine()
    engines: list[Engine] = [engine]
    monkeypatch.setattr("pixelforge.bootstrap.default_engines", lambda settings=None: engines)
    return engine


def test_batch_run_writes_images_and_one_output_line_per_request(run_cli, tmp_path):
    requests = write(tmp_path / "req.jsonl", [line(f"p{i}") for i in range(3)])

    result = run_cli("batch", "run", str(requests))

    folder = tmp_path / "req-output"
    rows = output(folder)
    assert result.rc == 0
    assert result.out_lines == [str(folder / "output.jsonl")]
    assert [r["custom_id"] for r in rows] == ["p0", "p1", "p2"]
    for row in rows:
        (item,) = row["response"]["body"]["data"]
        with Image.open(folder / item["file"]) as image:
            assert image.size == (256, 256)


def test_batch_run_again_skips_the_requests_already_done(run_cli, tmp_path):
    requests = write(tmp_path / "req.jsonl", [line(f"p{i}") for i in range(2)])
    run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))

    again = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))

    assert again.rc == 0
    assert "0 done, 2 already done" in again.err
    assert [r["custom_id"] for r in output(tmp_path / "out")] == ["p0", "p1"]


def test_batch_run_resumes_after_an_interruption_without_duplicates(
    run_cli, tmp_path, scripted: ScriptedEngine
):
    requests = write(tmp_path / "req.jsonl", [line(f"r{i}", model="scripted") for i in range(6)])
    scripted.interrupt_after = 2

    stopped = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))
    kept = [r["custom_id"] for r in output(tmp_path / "out")]
    scripted.interrupt_after = None
    resumed = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))

    assert (stopped.rc, kept) == (130, ["r0", "r1"])
    assert "run the same command again to resume" in stopped.err
    assert resumed.rc == 0
    assert "4 done, 2 already done" in resumed.err
    assert [r["custom_id"] for r in output(tmp_path / "out")] == [f"r{i}" for i in range(6)]
    assert scripted.runs == 3 + 4  # the interrupted request ran again, nothing else did


def test_batch_run_records_failures_and_retries_them_on_the_next_run(
    run_cli, tmp_path, scripted: ScriptedEngine
):
    items = [line(f"r{i}", model="scripted", prompt=f"p{i}") for i in range(3)]
    requests = write(tmp_path / "req.jsonl", items)
    scripted.failing = {"p1"}

    failed = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))
    (error,) = output(tmp_path / "out", "errors.jsonl")
    scripted.failing = set()
    retried = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))

    assert failed.rc == 1
    assert "1 of 3 requests failed" in failed.err
    assert (error["custom_id"], error["response"]["status_code"]) == ("r1", 500)
    assert error["response"]["body"]["error"]["code"] == "engine_error"
    assert retried.rc == 0
    assert [r["custom_id"] for r in output(tmp_path / "out")] == ["r0", "r2", "r1"]
    assert not (tmp_path / "out" / "errors.jsonl").exists()


def test_batch_run_cuts_a_torn_last_line_and_runs_that_request_again(
    run_cli, tmp_path, scripted: ScriptedEngine
):
    requests = write(tmp_path / "req.jsonl", [line(f"r{i}", model="scripted") for i in range(3)])
    run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))
    log = tmp_path / "out" / "output.jsonl"
    text = log.read_text()
    log.write_text(text[: len(text) - 40])  # the last write stopped half-way

    result = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))

    assert result.rc == 0
    assert [r["custom_id"] for r in output(tmp_path / "out")] == ["r0", "r1", "r2"]


def test_batch_run_edits_an_image_given_as_a_data_url(run_cli, tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 30, 30)).save(buf, "PNG")
    image = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    requests = write(tmp_path / "req.jsonl", [line("e", EDIT, image=image, prompt="warmer")])

    result = run_cli("batch", "run", str(requests), "-o", str(tmp_path / "out"))

    (row,) = output(tmp_path / "out")
    assert result.rc == 0
    assert row["response"]["body"]["size"] == "256x256"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([line("a"), "{oops"], "req.jsonl line 2: not valid JSON"),
        ([line("a"), {"method": "POST", "url": GEN, "body": {}}], "req.jsonl line 2: custom_id: "),
        ([line("a"), line("a")], "req.jsonl line 2: custom_id: 'a' is already used on line 1"),
        ([line("a", url="/v1/chat/completions")], "req.jsonl line 1: url: "),
        ([line("a", size="13x13")], "req.jsonl line 1: body.size: '13x13' is not allowed"),
        ([line("a", model="nope")], "req.jsonl line 1: body.model: 'nope' is not a known model"),
        ([line("a", EDIT)], "req.jsonl line 1: body.image: at least one image is required"),
        ([line("a", EDIT, image="img_123")], "req.jsonl line 1: body.image[0]: 'img_123' is an "
                                             "asset id"),
        (["   "], "req.jsonl: the file has no request lines"),
    ],
)  # fmt: skip
def test_batch_run_refuses_bad_input_naming_the_line_and_field(run_cli, tmp_path, items, expected):
    requests = write(tmp_path / "req.jsonl", items)

    result = run_cli("batch", "run", str(requests))

    assert result.rc == 2
    assert result.err.startswith(f"error: {expected}")
    assert not (tmp_path / "req-output").exists()


def test_batch_run_counts_the_other_bad_lines(run_cli, tmp_path):
    requests = write(tmp_path / "req.jsonl", ["{", "[1]", line("ok"), line("x", size="1x1")])

    result = run_cli("batch", "run", str(requests))

    assert result.rc == 2
    assert "req.jsonl line 1: not valid JSON" in result.err
    assert result.err.rstrip().endswith("(and 2 more)")


def test_batch_run_refuses_a_missing_file(run_cli, tmp_path):
    result = run_cli("batch", "run", str(tmp_path / "nope.jsonl"))

    assert result.rc == 2
    assert "REQUESTS: cannot read" in result.err
