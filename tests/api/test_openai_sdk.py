"""The official ``openai`` SDK talks to Pixelforge's OpenAI-compatible images API."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Literal

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from image_checks import assert_same_image_but_watermark
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine

FileTuple = tuple[str, bytes, str]


def png_file(width: int = 256, height: int = 256, name: str = "in.png") -> FileTuple:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, "PNG")
    return (name, buf.getvalue(), "image/png")


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


@pytest.fixture
def client(server: LiveServer) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0) as sdk:
        yield sdk


def test_generate_returns_n_images_when_n_is_two(client: OpenAI) -> None:
    result = client.images.generate(model="compose", prompt="a red fox", n=2, size="256x256")
    assert len(result.data or []) == 2


def test_generate_returns_requested_size_when_size_given(client: OpenAI) -> None:
    result = client.images.generate(model="compose", prompt="a red fox", size="512x512")
    assert decode((result.data or [])[0].b64_json).size == (512, 512)


@pytest.mark.parametrize(
    ("output_format", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]
)
def test_generate_encodes_output_format_when_format_requested(
    client: OpenAI, output_format: Literal["png", "jpeg", "webp"], pil_format: str
) -> None:
    result = client.images.generate(
        model="compose",
        prompt="a lighthouse",
        size="256x256",
        output_format=output_format,
    )
    assert decode((result.data or [])[0].b64_json).format == pil_format


def test_generate_reports_usage_when_done(client: OpenAI) -> None:
    result = client.images.generate(model="compose", prompt="a boat", size="256x256")
    assert result.usage is not None


def test_edit_returns_requested_size_when_single_image(client: OpenAI) -> None:
    result = client.images.edit(
        model="compose", prompt="make it warmer", image=png_file(), size="512x512"
    )
    assert decode((result.data or [])[0].b64_json).size == (512, 512)


def test_edit_returns_requested_size_when_image_list_of_one(client: OpenAI) -> None:
    result = client.images.edit(
        model="compose", prompt="make it warmer", image=[png_file()], size="256x256"
    )
    assert decode((result.data or [])[0].b64_json).size == (256, 256)


def test_edit_returns_requested_size_when_image_list_of_two(make_server: StartServer) -> None:
    live = make_server(engines=[ZeroWorkEngine()])
    with OpenAI(base_url=f"{live.base_url}/v1", api_key="unused", max_retries=0) as sdk:
        result = sdk.images.edit(
            model="zero",
            prompt="combine them",
            image=[png_file(name="a.png"), png_file(128, 128, name="b.png")],
            size="256x256",
        )
    assert decode((result.data or [])[0].b64_json).size == (256, 256)


def test_edit_raises_bad_request_when_compose_gets_two_images(client: OpenAI) -> None:
    # compose takes at most one reference image; the limit surfaces as an OpenAI 400.
    with pytest.raises(openai.BadRequestError):
        client.images.edit(
            model="compose", prompt="combine", image=[png_file(), png_file()], size="256x256"
        )


def test_create_variation_returns_requested_size_when_image_given(client: OpenAI) -> None:
    # The SDK marks create_variation deprecated (dall-e-2 only upstream); it still works here.
    with pytest.warns(DeprecationWarning, match="deprecated"):
        result = client.images.create_variation(model="compose", image=png_file(), size="256x256")
    assert decode((result.data or [])[0].b64_json).size == (256, 256)


def test_generate_url_downloads_png_when_response_format_url(client: OpenAI) -> None:
    result = client.images.generate(
        model="compose", prompt="a kite", size="256x256", response_format="url"
    )
    url = (result.data or [])[0].url
    assert url is not None
    download = httpx.get(url)
    assert download.headers["content-type"] == "image/png"


def test_generate_url_sends_nosniff_when_downloaded(client: OpenAI) -> None:
    result = client.images.generate(
        model="compose", prompt="a kite", size="256x256", response_format="url"
    )
    url = (result.data or [])[0].url
    assert url is not None
    assert httpx.get(url).headers["x-content-type-options"] == "nosniff"


def test_generate_url_points_at_decodable_image_when_downloaded(client: OpenAI) -> None:
    result = client.images.generate(
        model="compose", prompt="a kite", size="256x256", response_format="url"
    )
    url = (result.data or [])[0].url
    assert url is not None
    with Image.open(io.BytesIO(httpx.get(url).content)) as image:
        assert image.size == (256, 256)


def test_generate_streams_completed_events_when_stream_true(client: OpenAI) -> None:
    stream = client.images.generate(model="compose", prompt="a comet", size="256x256", stream=True)
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.completed"]


def test_generate_stream_event_decodes_to_image_when_completed(client: OpenAI) -> None:
    stream = client.images.generate(model="compose", prompt="a comet", size="256x256", stream=True)
    completed = [e for e in stream if e.type == "image_generation.completed"]
    assert decode(completed[0].b64_json).size == (256, 256)


def test_models_list_contains_compose_when_default_engines(client: OpenAI) -> None:
    assert "compose" in [m.id for m in client.models.list()]


def test_generate_uses_aspect_ratio_and_resolution_when_size_auto(client: OpenAI) -> None:
    result = client.images.generate(
        model="compose",
        prompt="a wide valley",
        size="auto",
        extra_body={"aspect_ratio": "16:9", "resolution": "512", "seed": 3},
    )
    assert decode((result.data or [])[0].b64_json).size == (512, 288)


def test_generate_returns_the_same_image_when_same_seed(client: OpenAI) -> None:
    def once() -> bytes:
        result = client.images.generate(
            model="compose",
            prompt="a wide valley",
            size="auto",
            extra_body={"aspect_ratio": "16:9", "resolution": "512", "seed": 3},
        )
        return base64.b64decode((result.data or [])[0].b64_json or "")

    assert_same_image_but_watermark(once(), once())


def test_generate_raises_bad_request_when_model_unknown(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="no-such-model", prompt="x", size="256x256")
