"""The diffusers engine end to end on tiny random-weight pipelines of the real classes."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference, Tier
from pixelforge.domain.sizes import Size
from pixelforge.engines.base import Engine, ProgressEvent
from pixelforge.errors import CapabilityError

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from contract import EngineContract  # noqa: E402

from pixelforge.engines.local import runtime  # noqa: E402
from pixelforge.engines.local.engine import DiffusersEngine, generation_size  # noqa: E402
from pixelforge.engines.local.options import LocalOptions, LoraWeight  # noqa: E402

PROMPT = "a lighthouse on a cliff at dusk, oil painting"


def png(image: Image.Image) -> ImageInput:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return ImageInput(buf.getvalue(), image.width, image.height)


def gradient(size: int = 96, tint: int = 0) -> Image.Image:
    image = Image.new("RGB", (size, size))
    image.putdata([((x * 2 + tint) % 256, (y * 2) % 256, (x + y + tint) % 256)
                   for y in range(size) for x in range(size)])  # fmt: skip
    return image


def close(a: bytes, b: bytes) -> bool:
    """Equal up to one level of rounding: the same weights loaded by two paths sit at
    different memory alignments, and CPU kernels may then differ in the last float bit."""
    return bool(np.abs(np.frombuffer(a, np.uint8).astype(int)
                       - np.frombuffer(b, np.uint8).astype(int)).max() <= 1)  # fmt: skip


def pixels(engine: Engine, **kwargs: Any) -> bytes:
    kwargs.setdefault("prompt", PROMPT)
    kwargs.setdefault("seed", 11)
    kwargs.setdefault("size", Size(128, 128))
    result = engine.generate(GenerationRequest(**kwargs))
    return result.images[0].image.tobytes()


class TestDiffusersContract(EngineContract):
    model_id = "tiny-sd"
    sample_prompt = PROMPT
    extra_request_kwargs: ClassVar[Mapping[str, Any]] = {"options": LocalOptions(steps=2)}

    @pytest.fixture
    def engine(self, local_engine: DiffusersEngine) -> Engine:
        return local_engine


def test_scan_finds_every_layout_and_kind(local_engine: DiffusersEngine) -> None:
    catalog = local_engine.catalog
    kinds = {e.name: (e.kind, e.layout, e.family) for e in catalog.entries}
    assert kinds == {
        "tiny-sd": ("pipeline", "folder", "sd1"),
        "tiny-sd-file": ("pipeline", "file", "sd1"),
        "tiny-sdxl": ("pipeline", "folder", "sdxl"),
        "tiny-sdxl-file": ("pipeline", "file", "sdxl"),
        "taesd": ("tiny_vae", "folder", "sd"),
        "tiny-flux": ("pipeline", "folder", "flux"),
        "tiny-lora": ("lora", "file", "sd"),
    }
    assert catalog.rejected == ()
    assert {m.id for m in local_engine.models()} == {"tiny-sd", "tiny-sd-file", "tiny-sdxl",
                                                    "tiny-sdxl-file", "tiny-flux"}  # fmt: skip


def test_single_file_checkpoint_generates_the_folder_models_pixels(
    local_engine: DiffusersEngine,
) -> None:
    # Same weights in two layouts: the same request gives the same pixels.
    folder = pixels(local_engine, model="tiny-sd", options=LocalOptions(steps=2))
    single = pixels(local_engine, model="tiny-sd-file", options=LocalOptions(steps=2))
    assert close(folder, single)


def test_sdxl_in_both_layouts_generates_the_requested_size(local_engine: DiffusersEngine) -> None:
    for model in ("tiny-sdxl", "tiny-sdxl-file"):
        request = GenerationRequest(PROMPT, model=model, aspect_ratio="16:9",
                                    tier=Tier.T512, seed=1,
                                    options=LocalOptions(steps=2))  # fmt: skip
        result = local_engine.generate(request)
        assert result.images[0].image.size == (request.output_size.width,
                                               request.output_size.height)  # fmt: skip
    a = pixels(local_engine, model="tiny-sdxl", options=LocalOptions(steps=2))
    b = pixels(local_engine, model="tiny-sdxl-file", options=LocalOptions(steps=2))
    assert close(a, b)


def test_generation_runs_at_native_area_in_the_requested_aspect(
    local_engine: DiffusersEngine,
) -> None:
    entry = local_engine.catalog.get("tiny-sd")
    assert entry is not None
    wide = generation_size(Size(1920, 1080), entry, "native")
    assert wide[0] > wide[1]
    assert wide[0] % 16 == wide[1] % 16 == 0
    assert generation_size(Size(1000, 600), entry, "requested") == (1008, 608)
    result = local_engine.generate(GenerationRequest(
        PROMPT, model="tiny-sd", size=Size(640, 368), seed=2, options=LocalOptions(steps=1),
    ))  # fmt: skip
    info = result.images[0].info
    assert result.images[0].image.size == (640, 368)
    assert info["generated_size"] == "{}x{}".format(*generation_size(Size(640, 368), entry,
                                                                     "native"))  # fmt: skip


def test_large_requested_size_decodes_with_vae_tiling(local_engine: DiffusersEngine) -> None:
    default = local_engine.tiling_pixels
    local_engine.tiling_pixels = 200 * 200  # what 2K-4K is to a real model, scaled down
    try:
        result = local_engine.generate(GenerationRequest(
            PROMPT, model="tiny-sd", size=Size(256, 240), seed=2,
            options=LocalOptions(steps=1, generate_at="requested", previews=False),
        ))  # fmt: skip
        small = local_engine.generate(GenerationRequest(
            PROMPT, model="tiny-sd", size=Size(128, 128), seed=2,
            options=LocalOptions(steps=1, generate_at="requested"),
        ))  # fmt: skip
    finally:
        local_engine.tiling_pixels = default
    assert result.images[0].info["generated_size"] == "256x240"
    assert result.images[0].info["vae_tiling"] == "on"
    assert result.images[0].image.size == (256, 240)
    assert "vae_tiling" not in small.images[0].info


def test_image_to_image_follows_the_input_and_strength(local_engine: DiffusersEngine) -> None:
    def variation(image: Image.Image, strength: float) -> bytes:
        return pixels(local_engine, model="tiny-sd", mode=Mode.VARIATION,
                      references=(Reference(png(image)),),
                      options=LocalOptions(steps=4, strength=strength))  # fmt: skip

    a, b = gradient(tint=0), gradient(tint=120)
    assert variation(a, 0.5) != variation(b, 0.5)
    assert variation(a, 0.5) == variation(a, 0.5)
    assert variation(a, 0.5) != variation(a, 1.0)


def test_inpainting_changes_only_the_masked_area(local_engine: DiffusersEngine) -> None:
    source = gradient(128)
    mask = Image.new("RGBA", (128, 128), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (32, 32, 96, 96))  # transparent = the area to edit
    result = local_engine.generate(GenerationRequest(
        PROMPT, model="tiny-sd", mode=Mode.EDIT, references=(Reference(png(source)),),
        mask=png(mask), size=Size(128, 128), seed=5, options=LocalOptions(steps=2),
    ))  # fmt: skip
    out = result.images[0].image
    outside = [(x, y) for x in range(0, 128, 7) for y in range(0, 128, 7)
               if not (24 <= x < 104 and 24 <= y < 104)]  # fmt: skip
    assert all(out.getpixel(p) == source.getpixel(p) for p in outside)
    inside = [(x, y) for x in range(40, 88, 4) for y in range(40, 88, 4)]
    changed = sum(out.getpixel(p) != source.getpixel(p) for p in inside)
    assert changed > len(inside) * 0.9


def test_lora_changes_pixels_by_weight_and_is_removed_after(local_engine: DiffusersEngine) -> None:
    base = pixels(local_engine, model="tiny-sd", options=LocalOptions(steps=2))
    with_lora = pixels(local_engine, model="tiny-sd", options=LocalOptions(
        steps=2, loras=(LoraWeight(name="tiny-lora", weight=1.0),)))  # fmt: skip
    zero = pixels(local_engine, model="tiny-sd", options=LocalOptions(
        steps=2, loras=(LoraWeight(name="tiny-lora", weight=0.0),)))  # fmt: skip
    after = pixels(local_engine, model="tiny-sd", options=LocalOptions(steps=2))
    assert with_lora != base
    assert zero == base
    assert after == base  # the adapter does not leak into the next request


def test_unknown_lora_and_wrong_family_lora_are_refused_by_name(
    local_engine: DiffusersEngine,
) -> None:
    with pytest.raises(CapabilityError, match=r"options.loras\[0\].name: 'nope' .*tiny-lora"):
        pixels(local_engine, model="tiny-sd",
               options=LocalOptions(loras=(LoraWeight(name="nope"),)))  # fmt: skip
    with pytest.raises(CapabilityError, match="is a sd LoRA; it does not fit a sdxl model"):
        pixels(local_engine, model="tiny-sdxl",
               options=LocalOptions(loras=(LoraWeight(name="tiny-lora"),)))  # fmt: skip


def test_scheduler_steps_guidance_and_negative_prompt_each_change_the_image(
    local_engine: DiffusersEngine,
) -> None:
    base = pixels(local_engine, model="tiny-sd", options=LocalOptions(steps=3))
    assert pixels(local_engine, model="tiny-sd",
                  options=LocalOptions(steps=3, scheduler="euler_a")) != base  # fmt: skip
    assert pixels(local_engine, model="tiny-sd", options=LocalOptions(steps=4)) != base
    assert pixels(local_engine, model="tiny-sd",
                  options=LocalOptions(steps=3, guidance=1.5)) != base  # fmt: skip
    assert pixels(local_engine, model="tiny-sd", negative_prompt="fog",
                  options=LocalOptions(steps=3)) != base  # fmt: skip
    # the scheduler swap is per request
    assert pixels(local_engine, model="tiny-sd", options=LocalOptions(steps=3)) == base


def test_unknown_scheduler_names_the_allowed_ones(local_engine: DiffusersEngine) -> None:
    with pytest.raises(CapabilityError, match=r"options.scheduler: 'k_lms' .*dpmpp_2m_karras"):
        pixels(local_engine, model="tiny-sd", options=LocalOptions(scheduler="k_lms"))


def test_strength_on_text_to_image_is_refused(local_engine: DiffusersEngine) -> None:
    with pytest.raises(CapabilityError, match=r"options\.strength"):
        pixels(local_engine, model="tiny-sd", options=LocalOptions(strength=0.5))


def test_fast_decode_uses_the_tiny_autoencoder(local_engine: DiffusersEngine) -> None:
    base = local_engine.generate(
        GenerationRequest(
            PROMPT, model="tiny-sd", seed=3, size=Size(128, 128), options=LocalOptions(steps=2)
        )
    )
    fast = local_engine.generate(GenerationRequest(
        PROMPT, model="tiny-sd", seed=3, size=Size(128, 128),
        options=LocalOptions(steps=2, fast_decode=True)))  # fmt: skip
    assert fast.images[0].info["decoder"] == "tiny"
    assert fast.images[0].image.tobytes() != base.images[0].image.tobytes()
    again = local_engine.generate(
        GenerationRequest(
            PROMPT, model="tiny-sd", seed=3, size=Size(128, 128), options=LocalOptions(steps=2)
        )
    )
    assert again.images[0].image.tobytes() == base.images[0].image.tobytes()


def test_fast_decode_without_a_tiny_autoencoder_is_refused(
    local_engine: DiffusersEngine,
) -> None:
    with pytest.raises(CapabilityError, match=r"options\.fast_decode: no tiny autoencoder"):
        pixels(local_engine, model="tiny-sdxl", options=LocalOptions(fast_decode=True))


def test_progress_carries_step_previews(local_engine: DiffusersEngine) -> None:
    events: list[ProgressEvent] = []
    local_engine.generate(GenerationRequest(PROMPT, model="tiny-sd", seed=1, size=Size(128, 128),
                                            options=LocalOptions(steps=8, scheduler="euler")),
                          events.append)  # fmt: skip
    steps = [e for e in events if e.stage == "denoise"]
    assert [e.message for e in steps] == [f"step {i}/8" for i in range(1, 9)]
    previews = [e.preview for e in steps if e.preview is not None]
    assert len(previews) == 7  # every step but the last, which the final image replaces
    assert all(isinstance(p, Image.Image) and p.width >= 8 for p in previews)
    quiet: list[ProgressEvent] = []
    local_engine.generate(GenerationRequest(PROMPT, model="tiny-sd", seed=1, size=Size(128, 128),
                                            options=LocalOptions(steps=3, previews=False)),
                          quiet.append)  # fmt: skip
    assert all(e.preview is None for e in quiet)


def test_sdxl_previews_use_the_latent_projection_without_a_tiny_vae(
    local_engine: DiffusersEngine,
) -> None:
    events: list[ProgressEvent] = []
    local_engine.generate(GenerationRequest(PROMPT, model="tiny-sdxl", seed=1,
                                            size=Size(128, 128), options=LocalOptions(steps=3)),
                          events.append)  # fmt: skip
    assert any(e.preview is not None for e in events)


def test_warm_models_are_evicted_least_recently_used_within_the_budget(
    local_models_dir: Path,
    tmp_path: Path,
) -> None:
    engine = DiffusersEngine(local_models_dir, cache_dir=tmp_path)
    sd = engine.catalog.get("tiny-sd")
    xl = engine.catalog.get("tiny-sdxl")
    assert sd is not None
    assert xl is not None
    budget = max(runtime.estimate_bytes(sd, engine.dtype), runtime.estimate_bytes(xl, engine.dtype))
    engine.cache.budget = budget + 1024  # room for one model at a time
    pixels(engine, model="tiny-sd", options=LocalOptions(steps=1))
    pixels(engine, model="tiny-sd", options=LocalOptions(steps=1))
    assert (engine.cache.names(), engine.cache.loads, engine.cache.evictions) == (["tiny-sd"], 1, 0)
    pixels(engine, model="tiny-sdxl", options=LocalOptions(steps=1))
    assert (engine.cache.names(), engine.cache.evictions) == (["tiny-sdxl"], 1)
    engine.cache.budget = 10 * budget  # now both fit: the LRU order is kept
    pixels(engine, model="tiny-sd", options=LocalOptions(steps=1))
    pixels(engine, model="tiny-sdxl", options=LocalOptions(steps=1))
    assert engine.cache.names() == ["tiny-sd", "tiny-sdxl"]
    assert engine.cache.loads == 3


def test_device_and_dtype_are_chosen_by_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)
    assert runtime.pick_dtype(cpu) == torch.float32
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: True)
    assert runtime.pick_dtype(cpu) == torch.bfloat16
    assert runtime.pick_dtype(cpu, "float16") == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert runtime.pick_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert runtime.pick_dtype(torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.pick_device().type in ("cpu", "mps")
    assert runtime.pick_device("cpu") == cpu


def test_engine_turns_hub_access_off(local_engine: DiffusersEngine) -> None:
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_flux_runs_with_its_own_capabilities(local_engine: DiffusersEngine) -> None:
    caps = local_engine.model("tiny-flux").capabilities
    assert caps.negative_prompt is False
    assert caps.mask is True
    assert Mode.VARIATION in caps.modes
    with pytest.raises(CapabilityError, match="negative_prompt"):
        pixels(local_engine, model="tiny-flux", negative_prompt="fog")
    with pytest.raises(CapabilityError, match=r"options\.scheduler: 'euler' .*allowed: default"):
        pixels(local_engine, model="tiny-flux", options=LocalOptions(scheduler="euler"))
    events: list[ProgressEvent] = []
    result = local_engine.generate(GenerationRequest(
        PROMPT, model="tiny-flux", seed=4, size=Size(128, 96), options=LocalOptions(steps=3)),
        events.append)  # fmt: skip
    assert result.images[0].image.size == (128, 96)
    assert [e.message for e in events if e.stage == "denoise"][-1] == "step 3/3"
    variation = pixels(local_engine, model="tiny-flux", mode=Mode.VARIATION,
                       references=(Reference(png(gradient())),),
                       options=LocalOptions(steps=4, strength=0.5))  # fmt: skip
    assert variation != result.images[0].image.tobytes()
