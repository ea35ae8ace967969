"""Reading generation settings back from images: Pixelforge's own, AUTOMATIC1111 (PNG text,
JPEG/WebP EXIF UserComment), ComfyUI (API graph, editor workflow), InvokeAI, NovelAI; a
request to run them again; malformed metadata as a partial record; no pixels decoded."""

from __future__ import annotations

import io
import json
import zlib

import pytest
from PIL import Image

from metadata_samples import (
    A1111_NEGATIVE,
    A1111_PROMPT,
    COMFY_FLUX_PROMPT,
    COMFY_NEGATIVE,
    COMFY_POSITIVE,
    COMFY_PROMPT,
    INVOKEAI_METADATA,
    NOVELAI_COMMENT,
    NOVELAI_SOURCE,
    a1111_lossy,
    a1111_png,
    chunk,
    comfy_png,
    invokeai_png,
    novelai_png,
    png_with,
    raw_png,
)
from pixelforge.domain import OutputFormat
from pixelforge.engines.local.options import LocalOptions
from pixelforge.errors import ImageTooLargeError, InvalidRequestError, UnsupportedImageError
from pixelforge.postprocess.encode import encode
from pixelforge.services.metadata import inspect

LOCAL = {"sd_xl_base_1.0": LocalOptions, "compose": None}


def test_a1111_png_reads_every_field() -> None:
    found = inspect(a1111_png(), LOCAL)

    assert (found.source, found.format, found.width, found.height) == ("a1111", "png", 64, 48)
    assert found.prompt == A1111_PROMPT
    assert found.negative_prompt == A1111_NEGATIVE
    assert (found.seed, found.steps, found.guidance) == (1234567890, 28, 6.5)
    assert (found.sampler, found.size, found.model) == ("DPM++ 2M Karras", "832x1216",
                                                        "sd_xl_base_1.0")  # fmt: skip
    assert found.warnings == ()


def test_a1111_quoted_value_keeps_its_commas() -> None:
    found = inspect(a1111_png())

    assert 'Lora hashes: "detail: 0123456789ab, style: abcdef012345"' in found.raw["parameters"]
    assert found.model == "sd_xl_base_1.0"  # the pair after the quoted one is still read


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_a1111_exif_user_comment_is_read_from_jpeg_and_webp(fmt: str) -> None:
    found = inspect(a1111_lossy(fmt))

    assert found.source == "a1111"
    assert found.format == fmt.lower()
    assert (found.prompt, found.seed, found.size) == (A1111_PROMPT, 1234567890, "832x1216")


def test_a1111_request_runs_again_on_a_served_model_with_its_options() -> None:
    found = inspect(a1111_png(), LOCAL)

    assert found.request == {
        "prompt": A1111_PROMPT, "negative_prompt": A1111_NEGATIVE, "seed": 1234567890,
        "size": "832x1216", "model": "sd_xl_base_1.0", "output_format": "png",
        "options": {"steps": 28, "guidance": 6.5, "scheduler": "dpmpp_2m_karras"},
    }  # fmt: skip


def test_request_leaves_out_a_model_this_server_does_not_serve() -> None:
    found = inspect(a1111_png(), {"compose": None})

    assert "model" not in found.request
    assert "options" not in found.request
    assert any("'sd_xl_base_1.0' is not served" in w for w in found.warnings)


def test_comfyui_api_graph_reads_sampler_prompts_checkpoint_and_latent_size() -> None:
    found = inspect(comfy_png())

    assert found.source == "comfyui"
    assert (found.prompt, found.negative_prompt) == (COMFY_POSITIVE, COMFY_NEGATIVE)
    assert (found.seed, found.steps, found.guidance) == (156680208700286, 20, 8.0)
    assert found.sampler == "euler"  # scheduler "normal" is ComfyUI's default: not shown
    assert (found.size, found.model) == ("512x768", "v1-5-pruned-emaonly.safetensors")


def test_comfyui_checkpoint_file_name_maps_to_the_served_model_of_that_name() -> None:
    found = inspect(comfy_png(), {"v1-5-pruned-emaonly": LocalOptions})

    assert found.request["model"] == "v1-5-pruned-emaonly"
    assert found.request["options"] == {"steps": 20, "guidance": 8.0, "scheduler": "euler"}


def test_comfyui_flux_graph_follows_noise_guider_and_sigmas_nodes() -> None:
    found = inspect(comfy_png(COMFY_FLUX_PROMPT, workflow=False))

    assert (found.prompt, found.negative_prompt) == ("a fox in the snow", None)
    assert (found.seed, found.steps, found.sampler) == (987654321, 25, "euler simple")
    assert (found.size, found.model) == ("1024x768", "flux1-dev.safetensors")


def test_comfyui_editor_workflow_is_read_when_there_is_no_api_graph() -> None:
    found = inspect(comfy_png(prompt=None))

    assert found.source == "comfyui"
    assert (found.prompt, found.negative_prompt) == ("a lighthouse at dusk", "fog")
    assert (found.seed, found.steps, found.guidance) == (42, 30, 7.0)
    assert (found.sampler, found.size) == ("dpmpp_2m karras", "640x832")
    assert found.model == "dreamshaper_8.safetensors"


def test_invokeai_metadata_is_read() -> None:
    found = inspect(invokeai_png(), {"Juggernaut XL v9": LocalOptions})

    assert found.source == "invokeai"
    assert found.prompt == INVOKEAI_METADATA["positive_prompt"]
    assert found.negative_prompt == "cartoon"
    assert (found.seed, found.steps, found.guidance, found.size) == (42, 30, 7.5, "1024x1024")
    assert found.model == "Juggernaut XL v9"
    assert found.request["options"]["scheduler"] == "dpmpp_2m_karras"


def test_novelai_comment_is_read_with_its_source_model() -> None:
    found = inspect(novelai_png())

    assert found.source == "novelai"
    assert found.prompt == NOVELAI_COMMENT["prompt"]
    assert found.negative_prompt == "lowres, bad anatomy"
    assert (found.seed, found.steps, found.guidance) == (2023491, 28, 5.0)
    assert (found.sampler, found.size, found.model) == ("k_euler_ancestral karras", "832x1216",
                                                        NOVELAI_SOURCE)  # fmt: skip


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_pixelforge_own_metadata_round_trips_in_every_format(fmt: OutputFormat) -> None:
    meta = {"prompt": "a red kite", "negative prompt": "fog", "model": "sd_xl_base_1.0",
            "seed": "77", "size": "512x512", "steps": "4", "guidance": "0",
            "scheduler": "euler_a"}  # fmt: skip
    data = encode(Image.new("RGB", (32, 32)), fmt, meta)

    found = inspect(data, LOCAL)

    assert found.source == "pixelforge"
    assert (found.prompt, found.negative_prompt, found.seed) == ("a red kite", "fog", 77)
    assert found.request["options"] == {"steps": 4, "guidance": 0.0, "scheduler": "euler_a"}
    assert found.request["size"] == "512x512"


def test_file_with_no_metadata_gives_source_none() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")

    found = inspect(buf.getvalue())

    assert (found.source, found.prompt, found.raw) == ("none", None, {})
    assert found.request == {"output_format": "png"}


# -- malformed metadata: a partial record, never an error -----------------------------------


def test_truncated_comfyui_graph_gives_partial_record_naming_the_chunk() -> None:
    text = json.dumps(COMFY_PROMPT)[:120]
    found = inspect(png_with({"prompt": text}))

    assert found.source == "comfyui"
    assert found.seed is None
    assert any(w.startswith("prompt: not valid JSON") for w in found.warnings)
    assert found.raw["prompt"] == text


def test_a1111_unreadable_values_are_left_out_with_a_warning() -> None:
    text = "a cat\nSteps: twenty, Seed: 12, Size: big, Model: m"
    found = inspect(png_with({"parameters": text}))

    assert (found.prompt, found.seed, found.steps, found.size) == ("a cat", 12, None, None)
    assert "parameters: Steps 'twenty' is not readable" in found.warnings


def test_invokeai_metadata_that_is_not_an_object_warns() -> None:
    found = inspect(png_with({"invokeai_metadata": "[1, 2]"}))

    assert found.source == "invokeai"
    assert "invokeai_metadata: not a JSON object" in found.warnings


def test_corrupt_exif_in_jpeg_warns_and_reads_the_rest() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG", comment=b"a dog\nSteps: 5, Seed: 9, Size: 16x16")
    data = buf.getvalue()
    bad_app1 = b"\xff\xe1" + (4 + 8).to_bytes(2, "big") + b"Exif\x00\x00MM\x00*\xff\xff"
    data = data[:2] + bad_app1 + data[2:]

    found = inspect(data)

    assert (found.source, found.prompt, found.seed) == ("a1111", "a dog", 9)


def test_text_chunk_inflating_past_the_limit_is_skipped_and_others_read() -> None:
    bomb = b"parameters\x00\x00" + zlib.compress(b"a" * (3 * 1024 * 1024), 9)
    data = raw_png(64, 64, [chunk(b"zTXt", bomb), chunk(b"tEXt", b"Software\x00NovelAI")])

    found = inspect(data)

    assert "parameters" not in found.raw
    assert found.raw["Software"] == "NovelAI"
    assert any("inflates past" in w for w in found.warnings)


def test_png_cut_short_gives_what_came_before() -> None:
    whole = a1111_png()
    cut = whole[: whole.index(b"IDAT") + 10]

    found = inspect(cut)

    assert found.seed == 1234567890
    assert any("the file ends inside" in w for w in found.warnings)


def test_pixels_are_never_decoded() -> None:
    """A 100000x100000 header (a decompression bomb) with garbage pixel data: its settings
    are read all the same, since only the chunks are walked."""
    data = raw_png(100_000, 100_000, [chunk(b"tEXt", b"parameters\x00a moon\nSteps: 3, "
                                                     b"Seed: 4, Size: 64x64")])  # fmt: skip

    found = inspect(data)

    assert (found.width, found.height, found.prompt, found.seed) == (100_000, 100_000, "a moon", 4)


# -- refused files ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"GIF89a....", b"%PDF-1.7 not an image"])
def test_non_image_is_refused_with_415_naming_image(data: bytes) -> None:
    with pytest.raises(UnsupportedImageError) as caught:
        inspect(data)
    assert caught.value.param == "image"
    assert caught.value.status == 415


def test_file_over_the_limit_is_refused_with_413() -> None:
    with pytest.raises(ImageTooLargeError) as caught:
        inspect(a1111_png(), max_bytes=100)
    assert (caught.value.status, caught.value.param) == (413, "image")


def test_jpeg_with_a_broken_header_is_a_400_naming_image() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        inspect(b"\xff\xd8\xff\xe0garbage")
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, "image",
                                                                            "invalid_image")  # fmt: skip


def test_thousands_of_text_chunks_are_read_up_to_the_limit() -> None:
    many = [chunk(b"tEXt", f"k{i}\x00{'v' * 2000}".encode()) for i in range(2000)]

    found = inspect(raw_png(16, 16, many))

    assert len(found.raw) == 256
    assert sum(len(v) for v in found.raw.values()) <= 2 * 1024 * 1024
    assert "the file has too many chunks; the rest is not read" in found.warnings


def test_option_out_of_the_models_range_is_left_out_with_a_warning() -> None:
    text = "a cat\nSteps: 500, CFG scale: 7, Sampler: Euler a, Seed: 1, Model: sd_xl_base_1.0"

    found = inspect(png_with({"parameters": text}), LOCAL)

    assert found.request["options"] == {"guidance": 7.0, "scheduler": "euler_a"}
    assert any(w.startswith("options.steps 500: ") for w in found.warnings)
