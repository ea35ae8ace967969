"""Tiny random-weight pipelines of the real diffusers/transformers classes, saved to disk.

The local engine's end-to-end tests need real checkpoints to load, but nothing may be downloaded
and CPU time is scarce, so these builders do what diffusers' own test suite does: instantiate the
real model classes (``UNet2DConditionModel``, ``AutoencoderKL``, ``CLIPTextModel``, ...) from tiny
configs, seeded, and save them with ``save_pretrained``. The configs keep the real model's
*structure* (block types, number of blocks, attention layout, cross-attention, 4 latent channels,
VAE scale factor 8, 10+ OpenCLIP layers for SDXL), so every tensor key name matches the real
checkpoint's and code that recognises a model family from key names (diffusers'
``infer_diffusers_model_type`` included) treats these as SD 1.5 / SDXL; only widths are tiny.
``build_flux`` does the same for FLUX.1 (folder layout only).

Nothing here downloads: the CLIP tokenizer is a byte-level BPE whose merges are learnt from a
short embedded corpus (:func:`clip_tokenizer`).

``write_single_file`` is the inverse of diffusers' single-file conversion: it writes a folder
pipeline as ONE original-layout (LDM / "CompVis") ``.safetensors`` checkpoint, the format
A1111 / ComfyUI / Civitai models ship in, and ``from_single_file`` loads it back exactly.

Every builder seeds torch before each component (inside ``torch.random.fork_rng``, so the global
RNG of the calling test is left untouched): the same seed gives byte-identical weights.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

__all__ = [
    "SD15_SAMPLE_SIZE",
    "SDXL_SAMPLE_SIZE",
    "build_flux",
    "build_lora",
    "build_sd15",
    "build_sdxl",
    "build_taesd",
    "clip_to_ldm",
    "clip_tokenizer",
    "open_clip_to_ldm",
    "sd15_to_ldm",
    "sdxl_to_ldm",
    "t5_tokenizer",
    "unet_to_ldm",
    "vae_to_ldm",
    "write_single_file",
]

# The UNets' ``sample_size`` (latent side): the pipelines' default image is 8x this (64 and 128
# px) so a call without height/width stays cheap. Real SD 1.5 says 64 (512 px), SDXL 128.
SD15_SAMPLE_SIZE = 8
SDXL_SAMPLE_SIZE = 16

# ----------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 77  # CLIP's context length; the text encoders' max_position_embeddings

# Merges are learnt from this text, so ordinary prompt words become a few tokens, as with the
# real CLIP vocabulary (any other text still tokenizes: every byte is in the vocabulary).
_CORPUS = """
a photo of a cat sitting on a red chair in the sun, highly detailed, sharp focus, 4k
an astronaut riding a horse on the moon, digital art, trending on artstation
portrait of a woman with long hair, studio lighting, soft light, bokeh, 85mm
a watercolor painting of a mountain landscape at sunset with a lake and trees
the city street at night in the rain, neon lights, cinematic, dramatic lighting
a cute dog playing in the green grass of a garden, photograph, natural light
oil painting of a ship on the stormy sea, masterpiece, best quality, intricate
low quality, blurry, ugly, deformed, bad anatomy, watermark, text, signature
a bowl of fresh fruit on a wooden table, still life, beautiful colors
an old house in the forest with snow, winter morning, fog, illustration
"""
_NUM_MERGES = 300


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map (byte-level BPE's alphabet)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def _learn_merges(words: list[str], num_merges: int) -> list[tuple[str, str]]:
    """Plain BPE over byte-level words (CLIP style: the last symbol of a word ends in ``</w>``);
    ties break on the pair itself, so the result is deterministic."""
    counts: dict[tuple[str, ...], int] = {}
    for word in words:
        symbols = (*word[:-1], word[-1] + "</w>")
        counts[symbols] = counts.get(symbols, 0) + 1
    merges: list[tuple[str, str]] = []
    seen: set[str] = set()
    banned: set[tuple[str, str]] = set()
    while len(merges) < num_merges:
        pairs: dict[tuple[str, str], int] = {}
        for symbols, n in counts.items():
            for pair in itertools.pairwise(symbols):
                if pair not in banned:
                    pairs[pair] = pairs.get(pair, 0) + n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        merged = best[0] + best[1]
        if merged in seen:  # the same string reachable by two merges: keep the first only
            banned.add(best)
            continue
        seen.add(merged)
        merges.append(best)
        new_counts: dict[tuple[str, ...], int] = {}
        for symbols, n in counts.items():
            out: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            key = tuple(out)
            new_counts[key] = new_counts.get(key, 0) + n
        counts = new_counts
    return merges


def _new_clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    byte_chars = list(_bytes_to_unicode().values())
    base = [*byte_chars, *(c + "</w>" for c in byte_chars)]
    # Pre-tokenize the corpus exactly as the tokenizer will (normalizer + pre-tokenizer).
    plain = CLIPTokenizer(vocab={t: i for i, t in enumerate([*base, BOS, EOS])}, merges=[])
    backend = plain.backend_tokenizer
    assert backend.normalizer is not None
    assert backend.pre_tokenizer is not None
    text = backend.normalizer.normalize_str(_CORPUS)
    words = [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(text)]
    merges = _learn_merges(words, _NUM_MERGES)
    tokens = [*base, *(a + b for a, b in merges), BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_LENGTH)


def _save_clip_tokenizer(tokenizer: Any, out: Path) -> None:
    """``save_pretrained`` (``tokenizer.json``) plus the classic ``vocab.json`` / ``merges.txt``
    pair that the real SD tokenizer folders ship (and that load on their own too)."""
    tokenizer.save_pretrained(out)
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    (out / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False) + "\n")
    merges = "".join(f"{a} {b}\n" for a, b in model["merges"])
    (out / "merges.txt").write_text("#version: 0.2\n" + merges)


def clip_tokenizer(out_dir: str | Path) -> Path:
    """Save a working ``CLIPTokenizer`` (byte-level BPE, CLIP's special tokens, padding to 77) in
    ``out_dir`` and return it. Vocabulary layout as CLIP's: 256 byte symbols, the same with
    ``</w>``, one entry per merge, then ``<|startoftext|>`` and ``<|endoftext|>``."""
    out = Path(out_dir)
    _save_clip_tokenizer(_new_clip_tokenizer(), out)
    return out


def _text_ids(tokenizer: Any) -> dict[str, int]:
    """The special-token ids and vocabulary size a CLIP text config must agree with."""
    return {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


# ----------------------------------------------------------------------------------------------
# Pipelines
# ----------------------------------------------------------------------------------------------


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch for one component without disturbing the caller's RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _vae_kl(scaling_factor: float, *, force_upcast: bool) -> Any:
    """SD's KL VAE: 4 encoder/decoder blocks (scale factor 8), 2 resnets a block, mid attention,
    4 latent channels; widths 16-32 instead of 128-512. ``sample_size`` 64 instead of 512: VAE
    tiling, if an engine enables it, then tiles at 64 px, so it is exercised on small images."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(16, 32, 32, 32),
        layers_per_block=2,
        act_fn="silu",
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
        scaling_factor=scaling_factor,
        force_upcast=force_upcast,
    )


def _clip_config(ids: dict[str, int], *, hidden: int, layers: int, heads: int, **extra: Any) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=MAX_LENGTH,
        layer_norm_eps=1e-5,
        **ids,
        **extra,
    )


def build_sd15(out_dir: str | Path, *, seed: int = 0) -> Path:
    """A tiny ``StableDiffusionPipeline`` with SD 1.5's structure, saved as safetensors.

    UNet: 4 down blocks (3 cross-attention + 1 plain), 2 layers each, conv ``proj_in`` (no linear
    projection), mid block with attention, 8 heads, cross-attention on the CLIP text width;
    widths 32-64 instead of 320-1280. Text encoder: CLIP-L's layout with 4 layers of width 32.
    Scheduler: PNDM with SD 1.5's shipped config.
    """
    from diffusers import PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    out = Path(out_dir)
    tokenizer = _new_clip_tokenizer()
    ids = _text_ids(tokenizer)
    with _seeded(seed):
        unet = UNet2DConditionModel(
            sample_size=SD15_SAMPLE_SIZE,
            in_channels=4,
            out_channels=4,
            down_block_types=(
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ),
            up_block_types=(
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ),
            block_out_channels=(32, 64, 64, 64),
            layers_per_block=2,
            attention_head_dim=8,
            cross_attention_dim=32,
            norm_num_groups=8,
            act_fn="silu",
        )
    with _seeded(seed + 1):
        vae = _vae_kl(0.18215, force_upcast=True)
    with _seeded(seed + 2):
        text_encoder = CLIPTextModel(
            _clip_config(ids, hidden=32, layers=4, heads=4, hidden_act="quick_gelu")
        )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
        prediction_type="epsilon",
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    _save_clip_tokenizer(tokenizer, out / "tokenizer")
    return out


def build_sdxl(out_dir: str | Path, *, seed: int = 0) -> Path:
    """A tiny ``StableDiffusionXLPipeline`` with SDXL base's structure, saved as safetensors.

    UNet: 3 down blocks (plain, then 2 cross-attention with 1 and 2 transformer layers), linear
    ``proj_in``, ``text_time`` added conditioning; widths 32-64. Text encoders: a CLIP-L
    (width 32) and an OpenCLIP-bigG-shaped ``CLIPTextModelWithProjection`` (width 64, 10 layers:
    key ``resblocks.9`` is how SDXL is recognised). Both text encoders must have different widths,
    as in the real model: diffusers' single-file loader tells them apart by width.
    """
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    out = Path(out_dir)
    tokenizer = _new_clip_tokenizer()
    ids = _text_ids(tokenizer)
    te1_width, te2_width, time_dim = 32, 64, 8
    with _seeded(seed):
        unet = UNet2DConditionModel(
            sample_size=SDXL_SAMPLE_SIZE,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(32, 64, 64),
            layers_per_block=2,
            transformer_layers_per_block=(1, 1, 2),
            attention_head_dim=(2, 4, 4),
            cross_attention_dim=te1_width + te2_width,
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=time_dim,
            projection_class_embeddings_input_dim=6 * time_dim + te2_width,
            norm_num_groups=8,
            act_fn="silu",
        )
    with _seeded(seed + 1):
        vae = _vae_kl(0.13025, force_upcast=True)
    with _seeded(seed + 2):
        text_encoder = CLIPTextModel(
            _clip_config(ids, hidden=te1_width, layers=4, heads=4, hidden_act="quick_gelu")
        )
    with _seeded(seed + 3):
        text_encoder_2 = CLIPTextModelWithProjection(
            _clip_config(
                ids,
                hidden=te2_width,
                layers=10,
                heads=4,
                hidden_act="gelu",
                projection_dim=te2_width,
            )
        )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
        interpolation_type="linear",
        prediction_type="epsilon",
        use_karras_sigmas=False,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):
        _save_clip_tokenizer(tokenizer, out / name)
    return out


def build_taesd(out_dir: str | Path, *, seed: int = 0) -> Path:
    """A tiny ``AutoencoderTiny`` (TAESD layout: 4 stages of 1/3/3/3 blocks, scale factor 8,
    4 latent channels, 16 instead of 64 channels) that can replace the SD 1.x tiny pipeline's
    ``vae`` for decoding."""
    from diffusers import AutoencoderTiny

    out = Path(out_dir)
    with _seeded(seed):
        taesd = AutoencoderTiny(
            in_channels=3,
            out_channels=3,
            encoder_block_out_channels=(16, 16, 16, 16),
            decoder_block_out_channels=(16, 16, 16, 16),
            num_encoder_blocks=(1, 3, 3, 3),
            num_decoder_blocks=(3, 3, 3, 1),
            act_fn="relu",
            latent_channels=4,
            upsampling_scaling_factor=2,
            latent_magnitude=3,
            latent_shift=0.5,
            scaling_factor=1.0,
        )
    taesd.save_pretrained(out, safe_serialization=True)
    # AutoencoderTiny.__init__ registers an alias ``block_out_channels`` that its own signature
    # does not take, so loading the saved config logs "config attributes {'block_out_channels':
    # ...} were passed to AutoencoderTiny, but are not expected". __init__ re-registers it on
    # load, so dropping it from the file changes nothing but the noise.
    config_file = out / "config.json"
    config = json.loads(config_file.read_text())
    config.pop("block_out_channels", None)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return out


LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


def build_lora(
    pipe_dir: str | Path,
    out_file: str | Path,
    *,
    rank: int = 4,
    seed: int = 1,
    scale_weights: float = 1.0,
    fmt: str = "diffusers",
) -> Path:
    """A LoRA for the tiny SD 1.5 UNet's attention projections (``to_q``/``to_k``/``to_v``/
    ``to_out.0``, self- and cross-attention), as ONE ``.safetensors`` file in diffusers' LoRA
    format (``unet.``-prefixed peft keys), loadable with ``pipe.load_lora_weights(path)``.

    Both A and B are random (peft's ``init_lora_weights=False``; a trained LoRA's B is non-zero
    too), so the LoRA visibly changes the output; ``scale_weights`` multiplies every B matrix
    (0 gives a LoRA that loads but does nothing). ``lora_alpha == rank``: scale 1.

    ``fmt="kohya"`` writes the same weights in kohya-ss / A1111 layout instead (what most
    downloadable SD 1.5 LoRAs use): ``lora_unet_<module path with _>.lora_down.weight`` /
    ``.lora_up.weight`` / ``.alpha``; diffusers converts it on load, to the same result.
    """
    if fmt not in ("diffusers", "kohya"):
        raise ValueError(f"unknown LoRA format {fmt!r}; expected 'diffusers' or 'kohya'")
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    out = Path(out_file)
    unet = UNet2DConditionModel.from_pretrained(
        pipe_dir, subfolder="unet", local_files_only=True, use_safetensors=True
    )
    config = LoraConfig(
        r=rank,
        lora_alpha=rank,
        target_modules=list(LORA_TARGETS),
        init_lora_weights=False,
    )
    with _seeded(seed):
        unet.add_adapter(config)
    state = get_peft_model_state_dict(unet)
    layers = {
        key: (value * scale_weights if ".lora_B." in key else value).detach().clone().contiguous()
        for key, value in state.items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "kohya":
        save_file(_kohya_lora(layers, rank), out, metadata={"ss_network_dim": str(rank)})
        return out
    StableDiffusionPipeline.save_lora_weights(
        out.parent, unet_lora_layers=layers, weight_name=out.name, safe_serialization=True
    )
    return out


def _kohya_lora(layers: dict[str, torch.Tensor], rank: int) -> dict[str, torch.Tensor]:
    """peft UNet LoRA keys (``<module>.lora_A.weight``) -> kohya-ss keys for an SD 1.x UNet
    (``lora_unet_<module with dots as underscores>.lora_down.weight``, plus ``.alpha``)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in layers.items():
        module, _, rest = key.partition(".lora_")
        name = "lora_unet_" + module.replace(".", "_")
        kind = {"A.weight": "lora_down.weight", "B.weight": "lora_up.weight"}[rest]
        out[f"{name}.{kind}"] = value
        out[f"{name}.alpha"] = torch.tensor(float(rank))
    return out


T5_MAX_LENGTH = 512  # T5's model_max_length; FluxPipeline's default max_sequence_length


def _new_t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    seen = {p for p, _ in pieces}
    for char in map(chr, range(33, 127)):
        for piece in (char, "▁" + char):
            if piece not in seen:
                seen.add(piece)
                pieces.append((piece, -10.0))
    for word in sorted(set(_CORPUS.replace(",", " ").split())):
        piece = "▁" + word
        if piece not in seen:
            seen.add(piece)
            pieces.append((piece, -5.0))
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=T5_MAX_LENGTH)


def t5_tokenizer(out_dir: str | Path) -> Path:
    """Save a working T5 tokenizer (SentencePiece-style Unigram: ``<pad>``=0, ``</s>``=1,
    ``<unk>``=2, ``▁``-prefixed pieces) in ``out_dir`` and return it. Pieces: every printable
    ASCII character, alone and after ``▁``, plus each word of the embedded corpus, scored so
    whole words win; other characters become ``<unk>``, as with T5's own vocabulary. Saved as
    ``tokenizer.json`` only (no ``spiece.model``: that needs sentencepiece to write)."""
    out = Path(out_dir)
    _new_t5_tokenizer().save_pretrained(out)
    return out


def build_flux(out_dir: str | Path, *, seed: int = 0, guidance: bool = True) -> Path:
    """A tiny ``FluxPipeline`` with FLUX.1's structure, saved as safetensors.

    Transformer: ``FluxTransformer2DModel`` with 1 double-stream and 2 single-stream blocks,
    2 heads of 16 (RoPE axes 4+6+6), 64 input channels (16 latent channels packed 2x2), guidance
    embedding as in FLUX.1-dev (``guidance=False``: schnell). VAE: 16-channel KL VAE without
    quant convs, FLUX's shift/scale, scale factor 8 (images: multiples of 16). Text encoders:
    CLIP-L-shaped (width 32, pooled projection) and a T5 v1.1-shaped ``T5EncoderModel`` (gated
    GELU, width 32). Scheduler: flow-matching Euler with FLUX.1-dev's dynamic shifting.
    """
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    out = Path(out_dir)
    tokenizer = _new_clip_tokenizer()
    ids = _text_ids(tokenizer)
    t5 = _new_t5_tokenizer()
    clip_width, t5_width = 32, 32
    with _seeded(seed):
        transformer = FluxTransformer2DModel(
            patch_size=1,
            in_channels=64,
            num_layers=1,
            num_single_layers=2,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=t5_width,
            pooled_projection_dim=clip_width,
            guidance_embeds=guidance,
            axes_dims_rope=(4, 6, 6),
        )
    with _seeded(seed + 1):
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(16, 32, 32, 32),
            layers_per_block=2,
            act_fn="silu",
            latent_channels=16,
            norm_num_groups=8,
            sample_size=64,
            scaling_factor=0.3611,
            shift_factor=0.1159,
            use_quant_conv=False,
            use_post_quant_conv=False,
        )
    with _seeded(seed + 2):
        text_encoder = CLIPTextModel(
            _clip_config(ids, hidden=clip_width, layers=4, heads=4, hidden_act="quick_gelu")
        )
    with _seeded(seed + 3):
        text_encoder_2 = T5EncoderModel(
            T5Config(
                vocab_size=len(t5),
                d_model=t5_width,
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                relative_attention_max_distance=16,
                feed_forward_proj="gated-gelu",
                is_encoder_decoder=False,
                pad_token_id=t5.pad_token_id,
                eos_token_id=t5.eos_token_id,
                decoder_start_token_id=t5.pad_token_id,
            )
        )
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=t5,
        transformer=transformer,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    _save_clip_tokenizer(tokenizer, out / "tokenizer")
    return out


# ----------------------------------------------------------------------------------------------
# Original-layout (LDM) single-file checkpoints: the inverse of diffusers' conversion
# ----------------------------------------------------------------------------------------------

_RESNET_TO_LDM = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_UNET_TOP_TO_LDM = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}


def _split(key: str, n: int) -> tuple[list[str], str]:
    parts = key.split(".")
    return parts[:n], ".".join(parts[n:])


def _resnet_to_ldm(rest: str) -> str:
    name, _, tail = rest.partition(".")
    for diffusers_name, ldm_name in _RESNET_TO_LDM:
        if name == diffusers_name:
            return f"{ldm_name}.{tail}"
    raise KeyError(rest)


def unet_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """diffusers ``UNet2DConditionModel`` state dict -> LDM ``openaimodel.UNetModel`` keys
    (without the ``model.diffusion_model.`` prefix)."""
    per_block = config["layers_per_block"]
    up_has_attention = ["CrossAttn" in t for t in config["up_block_types"]]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        if module in _UNET_TOP_TO_LDM:
            out[f"{_UNET_TOP_TO_LDM[module]}.{param}"] = value
            continue
        head, rest = _split(key, 1)
        if head == ["down_blocks"]:
            (block, kind, index), rest = _split(rest, 3)
            b, i = int(block), int(index)
            first = 1 + b * (per_block + 1)
            if kind == "resnets":
                out[f"input_blocks.{first + i}.0.{_resnet_to_ldm(rest)}"] = value
            elif kind == "attentions":
                out[f"input_blocks.{first + i}.1.{rest}"] = value
            elif kind == "downsamplers":  # downsamplers.0.conv.*
                out[f"input_blocks.{first + per_block}.0.op.{rest.removeprefix('conv.')}"] = value
            else:
                raise KeyError(key)
        elif head == ["mid_block"]:
            (kind, index), rest = _split(rest, 2)
            if kind == "resnets":
                out[f"middle_block.{2 * int(index)}.{_resnet_to_ldm(rest)}"] = value
            elif kind == "attentions":
                out[f"middle_block.1.{rest}"] = value
            else:
                raise KeyError(key)
        elif head == ["up_blocks"]:
            (block, kind, index), rest = _split(rest, 3)
            b, i = int(block), int(index)
            first = b * (per_block + 1)
            if kind == "resnets":
                out[f"output_blocks.{first + i}.0.{_resnet_to_ldm(rest)}"] = value
            elif kind == "attentions":
                out[f"output_blocks.{first + i}.1.{rest}"] = value
            elif kind == "upsamplers":  # upsamplers.0.conv.*: after the attention, if any
                slot = 2 if up_has_attention[b] else 1
                out[f"output_blocks.{first + per_block}.{slot}.{rest}"] = value
            else:
                raise KeyError(key)
        else:
            raise KeyError(key)
    return out


_VAE_TOP_TO_LDM = {
    "encoder.conv_norm_out": "encoder.norm_out",
    "decoder.conv_norm_out": "decoder.norm_out",
}
_VAE_ATTENTION_TO_LDM = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def vae_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """diffusers ``AutoencoderKL`` state dict -> LDM ``AutoencoderKL`` keys (without the
    ``first_stage_model.`` prefix). Mid-block attention projections become 1x1 convolutions."""
    num_up = len(config["up_block_types"])
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        if module in _VAE_TOP_TO_LDM:
            out[f"{_VAE_TOP_TO_LDM[module]}.{param}"] = value
            continue
        (coder, *_), rest = _split(key, 1)
        parts = rest.split(".")
        if parts[0] in ("conv_in", "conv_out") or coder in ("quant_conv", "post_quant_conv"):
            out[key] = value
        elif parts[0] == "down_blocks":  # encoder.down_blocks.{i}.resnets.{j} / downsamplers.0
            i, kind, j, tail = parts[1], parts[2], parts[3], ".".join(parts[4:])
            if kind == "resnets":
                tail = tail.replace("conv_shortcut", "nin_shortcut")
                out[f"{coder}.down.{i}.block.{j}.{tail}"] = value
            else:
                out[f"{coder}.down.{i}.downsample.{tail}"] = value
        elif parts[0] == "up_blocks":  # decoder.up_blocks.{i}: LDM numbers them bottom-up
            i = num_up - 1 - int(parts[1])
            kind, j, tail = parts[2], parts[3], ".".join(parts[4:])
            if kind == "resnets":
                tail = tail.replace("conv_shortcut", "nin_shortcut")
                out[f"{coder}.up.{i}.block.{j}.{tail}"] = value
            else:
                out[f"{coder}.up.{i}.upsample.{tail}"] = value
        elif parts[0] == "mid_block":
            kind, j, tail = parts[1], int(parts[2]), ".".join(parts[3:])
            if kind == "resnets":
                tail = tail.replace("conv_shortcut", "nin_shortcut")
                out[f"{coder}.mid.block_{j + 1}.{tail}"] = value
            else:
                name, _, param = tail.rpartition(".")
                ldm_value = value
                if name != "group_norm" and value.ndim == 2:
                    ldm_value = value[:, :, None, None]  # linear -> 1x1 conv
                out[f"{coder}.mid.attn_1.{_VAE_ATTENTION_TO_LDM[name]}.{param}"] = ldm_value
        else:
            raise KeyError(key)
    return out


def clip_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers ``CLIPTextModel`` state dict -> the HF CLIP keys LDM checkpoints embed
    (``text_model.*``; transformers >= 5.6 flattened ``CLIPTextModel`` and dropped the prefix)."""
    return {k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in state.items()}


_OPEN_CLIP_LAYER = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}


def open_clip_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers ``CLIPTextModelWithProjection`` state dict -> OpenCLIP text-tower keys
    (without the ``conditioner.embedders.1.model.`` prefix): fused ``in_proj`` attention weights
    (q, k, v stacked), ``text_projection`` as a ``width x dim`` matrix (the transpose of the
    linear weight)."""
    s = {k.removeprefix("text_model."): v for k, v in state.items()}
    out: dict[str, torch.Tensor] = {
        "token_embedding.weight": s.pop("embeddings.token_embedding.weight"),
        "positional_embedding": s.pop("embeddings.position_embedding.weight"),
        "ln_final.weight": s.pop("final_layer_norm.weight"),
        "ln_final.bias": s.pop("final_layer_norm.bias"),
        "text_projection": s.pop("text_projection.weight").T.contiguous(),
    }
    layers = sorted({int(k.split(".")[2]) for k in s if k.startswith("encoder.layers.")})
    for n in layers:
        src, dst = f"encoder.layers.{n}.", f"transformer.resblocks.{n}."
        for param in ("weight", "bias"):
            out[f"{dst}attn.in_proj_{param}"] = torch.cat(
                [s.pop(f"{src}self_attn.{p}_proj.{param}") for p in ("q", "k", "v")]
            )
        for hf, oc in _OPEN_CLIP_LAYER.items():
            for param in ("weight", "bias"):
                out[f"{dst}{oc}.{param}"] = s.pop(f"{src}{hf}.{param}")
    if s:
        raise KeyError(f"unmapped text encoder keys: {sorted(s)}")
    return out


def _component(pipe_dir: Path, name: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    folder = pipe_dir / name
    weights = sorted(folder.glob("*.safetensors"))
    if len(weights) != 1:
        raise FileNotFoundError(f"expected one safetensors file in {folder}, found {weights}")
    config = json.loads((folder / "config.json").read_text())
    return load_file(weights[0]), config


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in state.items()}


def sd15_to_ldm(pipe_dir: str | Path) -> dict[str, torch.Tensor]:
    """The SD 1.x folder pipeline at ``pipe_dir`` as one LDM-layout state dict."""
    d = Path(pipe_dir)
    unet, unet_config = _component(d, "unet")
    vae, vae_config = _component(d, "vae")
    text, _ = _component(d, "text_encoder")
    return {
        **_prefixed("model.diffusion_model.", unet_to_ldm(unet, unet_config)),
        **_prefixed("first_stage_model.", vae_to_ldm(vae, vae_config)),
        **_prefixed("cond_stage_model.transformer.", clip_to_ldm(text)),
    }


def sdxl_to_ldm(pipe_dir: str | Path) -> dict[str, torch.Tensor]:
    """The SDXL folder pipeline at ``pipe_dir`` as one SGM-layout (SDXL's original) state dict."""
    d = Path(pipe_dir)
    unet, unet_config = _component(d, "unet")
    vae, vae_config = _component(d, "vae")
    text, _ = _component(d, "text_encoder")
    text_2, _ = _component(d, "text_encoder_2")
    return {
        **_prefixed("model.diffusion_model.", unet_to_ldm(unet, unet_config)),
        **_prefixed("first_stage_model.", vae_to_ldm(vae, vae_config)),
        **_prefixed("conditioner.embedders.0.transformer.", clip_to_ldm(text)),
        **_prefixed("conditioner.embedders.1.model.", open_clip_to_ldm(text_2)),
    }


_TO_LDM: dict[str, Callable[[str | Path], dict[str, torch.Tensor]]] = {
    "sd15": sd15_to_ldm,
    "sdxl": sdxl_to_ldm,
}


def write_single_file(
    pipe_dir: str | Path,
    out_file: str | Path,
    family: str,
    *,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write the folder pipeline at ``pipe_dir`` (``family``: ``"sd15"`` or ``"sdxl"``) as ONE
    original-layout ``.safetensors`` checkpoint, optionally cast to ``dtype`` (real single-file
    checkpoints are often fp16). Load it back with ``from_single_file(out_file,
    config=str(pipe_dir), local_files_only=True)``."""
    if family not in _TO_LDM:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(_TO_LDM)}")
    state = _TO_LDM[family](pipe_dir)
    if dtype is not None:
        state = {k: v.to(dtype) for k, v in state.items()}
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, out, metadata={"format": "pt"})
    return out
