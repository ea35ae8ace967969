"""The tiny checkpoints the local engine is tested against are real, loadable, deterministic
pipelines: folders load with ``from_pretrained`` and generate; single-file LDM checkpoints load
with ``from_single_file`` to exactly the same tensors (and are recognised as SD 1.x / SDXL from
their key names); the LoRA changes the output at weight 1 and not at weight 0."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from diffusers import (  # noqa: E402
    AutoencoderKL,
    AutoencoderTiny,
    FluxPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.loaders.single_file_utils import (  # noqa: E402
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
    infer_diffusers_model_type,
)
from safetensors.torch import load_file  # noqa: E402
from tiny_pipelines import (  # noqa: E402
    build_lora,
    build_sd15,
    clip_tokenizer,
    t5_tokenizer,
    write_single_file,
)
from transformers import CLIPTokenizer, T5Tokenizer  # noqa: E402

PROMPT = "a photo of an astronaut riding a horse"

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest


def _load(cls: Any, path: Path) -> Any:
    pipe = cls.from_pretrained(path, local_files_only=True, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generate(
    pipe: Any, *, size: tuple[int, int] = (64, 64), steps: int = 1, seed: int = 0, **kwargs: Any
) -> Any:
    width, height = size
    result = pipe(
        PROMPT,
        width=width,
        height=height,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )
    return np.asarray(result.images[0])


@pytest.fixture(scope="module")
def sd15_pipe(tiny_sd15_dir: Path) -> StableDiffusionPipeline:
    return _load(StableDiffusionPipeline, tiny_sd15_dir)


@pytest.fixture(scope="module")
def sdxl_pipe(tiny_sdxl_dir: Path) -> StableDiffusionXLPipeline:
    return _load(StableDiffusionXLPipeline, tiny_sdxl_dir)


# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------


def test_clip_tokenizer_loads_and_pads_any_prompt_to_77(tmp_path: Path) -> None:
    tok = CLIPTokenizer.from_pretrained(clip_tokenizer(tmp_path))
    assert tok.model_max_length == 77
    assert tok.bos_token == "<|startoftext|>"
    assert tok.eos_token == "<|endoftext|>"
    prompts = [PROMPT, "Ünïcödé 日本語 🎨, (masterpiece:1.2)", "", "word " * 200]
    batch = tok(prompts, padding="max_length", max_length=77, truncation=True)
    for ids in batch.input_ids:
        assert len(ids) == 77
        assert ids[0] == tok.bos_token_id
        assert tok.eos_token_id in ids[1:]
        assert max(ids) < len(tok)
    assert batch.input_ids[-1][-1] == tok.eos_token_id  # truncated, still ends the sequence
    assert tok.decode(batch.input_ids[0], skip_special_tokens=True) == PROMPT
    assert "日本語" in tok.decode(batch.input_ids[1], skip_special_tokens=True)
    # learnt merges: common prompt words are single tokens, as with the real vocabulary
    assert tok.tokenize("in the light of") == ["in</w>", "the</w>", "light</w>", "of</w>"]
    # the classic vocab.json + merges.txt pair alone loads to the same tokenizer
    classic = tmp_path / "classic"
    classic.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(tmp_path / name, classic / name)
    assert CLIPTokenizer.from_pretrained(classic)(prompts).input_ids == tok(prompts).input_ids


# ----------------------------------------------------------------------------------------------
# Folder pipelines
# ----------------------------------------------------------------------------------------------


def test_sd15_keeps_the_real_structure(sd15_pipe: StableDiffusionPipeline) -> None:
    unet, vae = sd15_pipe.unet.config, sd15_pipe.vae.config
    assert list(unet.down_block_types) == ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    assert list(unet.up_block_types) == ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3
    assert unet.layers_per_block == 2
    assert unet.in_channels == unet.out_channels == vae.latent_channels == 4
    assert unet.cross_attention_dim == sd15_pipe.text_encoder.config.hidden_size
    assert sd15_pipe.vae_scale_factor == 8
    assert sd15_pipe.tokenizer.model_max_length == 77
    assert sd15_pipe.safety_checker is None


@pytest.mark.parametrize(("size", "steps"), [((64, 64), 1), ((128, 96), 2)])
def test_sd15_generates_the_requested_size(
    sd15_pipe: StableDiffusionPipeline, size: tuple[int, int], steps: int
) -> None:
    pixels = _generate(sd15_pipe, size=size, steps=steps)
    assert pixels.shape == (size[1], size[0], 3)
    assert pixels.std() > 1  # an image, not a flat fill


def test_same_seed_same_pixels(sd15_pipe: StableDiffusionPipeline) -> None:
    first = _generate(sd15_pipe, steps=2, seed=7)
    assert np.array_equal(first, _generate(sd15_pipe, steps=2, seed=7))
    assert not np.array_equal(first, _generate(sd15_pipe, steps=2, seed=8))


def test_builds_are_deterministic(tiny_sd15_dir: Path, tmp_path: Path) -> None:
    again = build_sd15(tmp_path / "again")
    other = build_sd15(tmp_path / "other", seed=1)
    for component in ("unet", "vae", "text_encoder"):
        (reference,) = (tiny_sd15_dir / component).glob("*.safetensors")
        expected = load_file(reference)
        same = load_file(again / component / reference.name)
        assert all(torch.equal(same[k], v) for k, v in expected.items()), component
        different = load_file(other / component / reference.name)
        assert not all(torch.equal(different[k], v) for k, v in expected.items()), component
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (again / "tokenizer" / name).read_bytes() == (
            tiny_sd15_dir / "tokenizer" / name
        ).read_bytes()


def test_sdxl_keeps_the_real_structure(sdxl_pipe: StableDiffusionXLPipeline) -> None:
    unet = sdxl_pipe.unet.config
    assert list(unet.down_block_types) == ["DownBlock2D"] + ["CrossAttnDownBlock2D"] * 2
    assert unet.addition_embed_type == "text_time"
    assert unet.cross_attention_dim == (
        sdxl_pipe.text_encoder.config.hidden_size + sdxl_pipe.text_encoder_2.config.hidden_size
    )
    assert sdxl_pipe.vae_scale_factor == 8
    assert type(sdxl_pipe.text_encoder_2).__name__ == "CLIPTextModelWithProjection"
    assert sdxl_pipe.text_encoder_2.config.num_hidden_layers >= 10  # "resblocks.9" marks SDXL


@pytest.mark.parametrize(("size", "steps"), [((128, 128), 1), ((64, 96), 2)])
def test_sdxl_generates_the_requested_size(
    sdxl_pipe: StableDiffusionXLPipeline, size: tuple[int, int], steps: int
) -> None:
    pixels = _generate(sdxl_pipe, size=size, steps=steps)
    assert pixels.shape == (size[1], size[0], 3)
    assert pixels.std() > 1
    assert np.array_equal(pixels, _generate(sdxl_pipe, size=size, steps=steps))


def test_taesd_replaces_the_sd15_vae(
    sd15_pipe: StableDiffusionPipeline, tiny_taesd_dir: Path
) -> None:
    taesd = AutoencoderTiny.from_pretrained(
        tiny_taesd_dir, local_files_only=True, use_safetensors=True
    )
    assert taesd.config.latent_channels == sd15_pipe.vae.config.latent_channels
    latents = taesd.encode(torch.zeros(1, 3, 64, 64)).latents
    assert latents.shape == (1, 4, 8, 8)  # scale factor 8, as the KL VAE's
    fast = StableDiffusionPipeline(**{**sd15_pipe.components, "vae": taesd})
    fast.set_progress_bar_config(disable=True)
    assert fast.vae_scale_factor == sd15_pipe.vae_scale_factor
    pixels = _generate(fast, size=(96, 64))
    assert pixels.shape == (64, 96, 3)
    assert not np.array_equal(pixels, _generate(sd15_pipe, size=(96, 64)))


def test_t5_tokenizer_loads_and_pads(tmp_path: Path) -> None:
    tok = T5Tokenizer.from_pretrained(t5_tokenizer(tmp_path))
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    ids = tok(PROMPT, padding="max_length", max_length=512, truncation=True).input_ids
    assert len(ids) == 512
    assert tok.unk_token_id not in ids
    assert ids[ids.index(tok.eos_token_id) + 1 :] == [tok.pad_token_id] * (511 - ids.index(1))
    assert tok.decode(ids, skip_special_tokens=True) == PROMPT


@pytest.mark.parametrize(("size", "steps"), [((64, 64), 1), ((128, 96), 2)])
def test_flux_generates_the_requested_size(
    tiny_flux_dir: Path, size: tuple[int, int], steps: int
) -> None:
    pipe = _load(FluxPipeline, tiny_flux_dir)
    assert pipe.transformer.config.guidance_embeds
    assert pipe.vae.config.latent_channels == 16
    pixels = _generate(pipe, size=size, steps=steps, guidance_scale=3.5, max_sequence_length=64)
    assert pixels.shape == (size[1], size[0], 3)
    assert pixels.std() > 1
    again = _generate(pipe, size=size, steps=steps, guidance_scale=3.5, max_sequence_length=64)
    assert np.array_equal(pixels, again)


# ----------------------------------------------------------------------------------------------
# LoRA
# ----------------------------------------------------------------------------------------------


def test_lora_is_one_unet_file_with_nonzero_up_weights(tiny_lora_file: Path) -> None:
    state = load_file(tiny_lora_file)
    assert tiny_lora_file.suffix == ".safetensors"
    assert state
    assert all(k.startswith("unet.") for k in state)
    targets = {k.rsplit(".lora_", 1)[0].rsplit(".", 1)[-1] for k in state}
    assert targets == {"to_q", "to_k", "to_v", "0"}  # to_out.0
    assert all(v.abs().sum() > 0 for k, v in state.items() if ".lora_B." in k)


def test_lora_changes_the_output_at_weight_1_and_not_at_0(
    tiny_sd15_dir: Path, tiny_lora_file: Path
) -> None:
    pipe = _load(StableDiffusionPipeline, tiny_sd15_dir)
    base = _generate(pipe, steps=2)
    pipe.load_lora_weights(str(tiny_lora_file), adapter_name="tiny")
    pipe.set_adapters(["tiny"], adapter_weights=[1.0])
    on = _generate(pipe, steps=2)
    assert np.abs(on.astype(int) - base).mean() > 1
    pipe.set_adapters(["tiny"], adapter_weights=[0.0])
    assert np.array_equal(_generate(pipe, steps=2), base)
    pipe.set_adapters(["tiny"], adapter_weights=[1.0])
    assert np.array_equal(_generate(pipe, steps=2), on)


def test_kohya_lora_loads_to_the_same_result(
    tiny_sd15_dir: Path, tiny_lora_file: Path, tmp_path: Path
) -> None:
    kohya = build_lora(tiny_sd15_dir, tmp_path / "kohya.safetensors", fmt="kohya")
    assert all(k.startswith("lora_unet_") for k in load_file(kohya))
    pipe = _load(StableDiffusionPipeline, tiny_sd15_dir)
    pipe.load_lora_weights(str(tiny_lora_file), adapter_name="diffusers")
    expected = _generate(pipe)
    pipe.unload_lora_weights()
    pipe.load_lora_weights(str(kohya), adapter_name="kohya")
    assert np.array_equal(_generate(pipe), expected)


def test_lora_scale_weights_zero_is_a_no_op(tiny_sd15_dir: Path, tmp_path: Path) -> None:
    null = build_lora(tiny_sd15_dir, tmp_path / "null.safetensors", scale_weights=0.0)
    pipe = _load(StableDiffusionPipeline, tiny_sd15_dir)
    base = _generate(pipe)
    pipe.load_lora_weights(str(null), adapter_name="null")
    assert np.array_equal(_generate(pipe), base)


# ----------------------------------------------------------------------------------------------
# Single-file (LDM layout) checkpoints
# ----------------------------------------------------------------------------------------------

SD15_KEYS = (  # as in the real v1-5-pruned checkpoint
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    "model.diffusion_model.input_blocks.3.0.op.weight",
    "model.diffusion_model.middle_block.1.proj_in.weight",
    "model.diffusion_model.output_blocks.2.1.conv.weight",
    "model.diffusion_model.output_blocks.11.0.skip_connection.weight",
    "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight",
    "first_stage_model.decoder.up.3.upsample.conv.weight",
    "first_stage_model.decoder.mid.attn_1.proj_out.weight",
    "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight",
)
SDXL_KEYS = (  # as in the real sd_xl_base_1.0 checkpoint
    "model.diffusion_model.label_emb.0.0.weight",
    "model.diffusion_model.input_blocks.7.1.transformer_blocks.1.attn2.to_k.weight",
    "model.diffusion_model.output_blocks.2.2.conv.weight",
    "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
    "conditioner.embedders.1.model.transformer.resblocks.9.attn.in_proj_weight",
    "conditioner.embedders.1.model.text_projection",
    "conditioner.embedders.1.model.positional_embedding",
)


def _part(checkpoint: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k: v for k, v in checkpoint.items() if k.startswith(prefix)}


def _assert_converts_exactly(
    checkpoint: dict[str, Any], pipe: Any, text_prefixes: dict[str, str]
) -> None:
    """diffusers' own converters turn each part of ``checkpoint`` into exactly the keys of the
    folder pipeline's component (nothing missing, nothing unexpected) and leave no key of the
    checkpoint unused."""
    unet = convert_ldm_unet_checkpoint(checkpoint, dict(pipe.unet.config))
    assert set(unet) == set(pipe.unet.state_dict())
    assert len(unet) == len(_part(checkpoint, "model.diffusion_model."))
    vae = convert_ldm_vae_checkpoint(checkpoint, dict(pipe.vae.config))
    assert set(vae) == set(pipe.vae.state_dict())
    assert len(vae) == len(_part(checkpoint, "first_stage_model."))
    used = len(unet) + len(vae)
    for name, prefix in text_prefixes.items():
        encoder = getattr(pipe, name)
        part = _part(checkpoint, prefix)
        if prefix.endswith(".model."):  # OpenCLIP: fused q/k/v
            converted = convert_open_clip_checkpoint(encoder, checkpoint, prefix=prefix)
            assert len(converted) == len(part) + 4 * encoder.config.num_hidden_layers
        else:
            converted = {
                k.removeprefix("text_model.") if not hasattr(encoder, "text_model") else k: v
                for k, v in convert_ldm_clip_checkpoint(part).items()
            }
            assert len(converted) == len(part)
        assert set(converted) == set(encoder.state_dict()), name
        used += len(part)
    assert used == len(checkpoint)


def _assert_same_tensors(loaded: Any, folder: Any) -> None:
    for name, component in folder.components.items():
        if isinstance(component, torch.nn.Module):
            expected = component.state_dict()
            actual = getattr(loaded, name).state_dict()
            assert actual.keys() == expected.keys(), name
            unequal = [k for k, v in expected.items() if not torch.equal(actual[k], v)]
            assert not unequal, (name, unequal[:5])
        else:
            assert type(getattr(loaded, name)) is type(component), name


def _assert_same_image(loaded: Any, folder: Any, **kwargs: Any) -> None:
    """Same tensors, same image -- up to float rounding: two model instances with bit-identical
    weights can still differ by ~1e-6 on CPU (kernel paths depend on where tensors sit in
    memory), which may flip a uint8 pixel by one, so compare the float output."""
    actual = _generate(loaded, output_type="np", **kwargs)
    expected = _generate(folder, output_type="np", **kwargs)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4)


def test_sd15_single_file_round_trips_exactly(
    tiny_sd15_single_file: Path, tiny_sd15_dir: Path, sd15_pipe: StableDiffusionPipeline
) -> None:
    checkpoint = load_file(tiny_sd15_single_file)
    assert infer_diffusers_model_type(checkpoint) == "v1"
    assert all(k in checkpoint for k in SD15_KEYS)
    assert checkpoint["first_stage_model.encoder.mid.attn_1.q.weight"].ndim == 4  # 1x1 conv
    _assert_converts_exactly(
        checkpoint, sd15_pipe, {"text_encoder": "cond_stage_model.transformer."}
    )
    loaded = StableDiffusionPipeline.from_single_file(
        str(tiny_sd15_single_file), config=str(tiny_sd15_dir), local_files_only=True
    )
    loaded.set_progress_bar_config(disable=True)
    _assert_same_tensors(loaded, sd15_pipe)
    _assert_same_image(loaded, sd15_pipe, steps=2)


def test_sdxl_single_file_round_trips_exactly(
    tiny_sdxl_single_file: Path, tiny_sdxl_dir: Path, sdxl_pipe: StableDiffusionXLPipeline
) -> None:
    checkpoint = load_file(tiny_sdxl_single_file)
    assert infer_diffusers_model_type(checkpoint) == "xl_base"
    assert all(k in checkpoint for k in SDXL_KEYS)
    _assert_converts_exactly(
        checkpoint,
        sdxl_pipe,
        {
            "text_encoder": "conditioner.embedders.0.transformer.",
            "text_encoder_2": "conditioner.embedders.1.model.",
        },
    )
    loaded = StableDiffusionXLPipeline.from_single_file(
        str(tiny_sdxl_single_file), config=str(tiny_sdxl_dir), local_files_only=True
    )
    loaded.set_progress_bar_config(disable=True)
    _assert_same_tensors(loaded, sdxl_pipe)
    _assert_same_image(loaded, sdxl_pipe)


def test_single_file_can_be_half_precision(tiny_sd15_dir: Path, tmp_path: Path) -> None:
    half = load_file(
        write_single_file(tiny_sd15_dir, tmp_path / "half.safetensors", "sd15", dtype=torch.float16)
    )
    assert {v.dtype for v in half.values()} == {torch.float16}
    vae = AutoencoderKL.from_single_file(
        str(tmp_path / "half.safetensors"),
        config=str(tiny_sd15_dir),
        subfolder="vae",
        local_files_only=True,
        torch_dtype=torch.float16,
    )
    expected = load_file(tiny_sd15_dir / "vae" / "diffusion_pytorch_model.safetensors")
    actual = vae.state_dict()
    assert all(torch.equal(actual[k], v.half()) for k, v in expected.items())


def test_write_single_file_rejects_unknown_families(tiny_sd15_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        write_single_file(tiny_sd15_dir, tmp_path / "x.safetensors", "sd3")
