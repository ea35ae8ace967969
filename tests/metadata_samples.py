"""Images carrying other tools' generation metadata, written with Pillow in each tool's
documented format (what the tool itself writes: chunk names, JSON shapes, EXIF encoding)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

from PIL import Image, PngImagePlugin

A1111_PROMPT = "masterpiece, a castle on a hill, (sunset:1.2)\nsecond line of the prompt"
A1111_NEGATIVE = "blurry, lowres"
A1111_PARAMETERS = (
    f"{A1111_PROMPT}\nNegative prompt: {A1111_NEGATIVE}\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    "Size: 832x1216, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, "
    'Lora hashes: "detail: 0123456789ab, style: abcdef012345", Version: v1.10.1'
)

COMFY_POSITIVE = "beautiful scenery nature glass bottle landscape, purple galaxy bottle"
COMFY_NEGATIVE = "text, watermark"
#: ComfyUI's default text-to-image graph, as its SaveImage node writes it (``prompt`` chunk).
COMFY_PROMPT: dict[str, Any] = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler",
        "scheduler": "normal", "denoise": 1, "model": ["10", 0], "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple",
          "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "5": {"class_type": "EmptyLatentImage",
          "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": COMFY_POSITIVE, "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": COMFY_NEGATIVE, "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "LoraLoader", "inputs": {
        "lora_name": "detail.safetensors", "strength_model": 0.8, "strength_clip": 0.8,
        "model": ["4", 0], "clip": ["4", 1]}},
}  # fmt: skip

#: A FLUX graph: custom sampler, noise/guider/sigmas nodes, UNET loader, SD3 latent.
COMFY_FLUX_PROMPT: dict[str, Any] = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox in the snow", "clip": ["11", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "flux", "images": ["8", 0]}},
    "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors",
                                                  "weight_dtype": "default"}},
    "13": {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0],
        "latent_image": ["27", 0]}},
    "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
    "17": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 25,
                                                      "denoise": 1, "model": ["12", 0]}},
    "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["26", 0]}},
    "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 987654321}},
    "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
    "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768,
                                                          "batch_size": 1}},
}  # fmt: skip

#: The editor graph of the default workflow (``workflow`` chunk), nodes and numbered links.
COMFY_WORKFLOW: dict[str, Any] = {
    "last_node_id": 9, "last_link_id": 9,
    "nodes": [
        {"id": 3, "type": "KSampler", "inputs": [
            {"name": "model", "type": "MODEL", "link": 1},
            {"name": "positive", "type": "CONDITIONING", "link": 4},
            {"name": "negative", "type": "CONDITIONING", "link": 6},
            {"name": "latent_image", "type": "LATENT", "link": 2}],
         "widgets_values": [42, "fixed", 30, 7, "dpmpp_2m", "karras", 1]},
        {"id": 4, "type": "CheckpointLoaderSimple", "inputs": [],
         "widgets_values": ["dreamshaper_8.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "inputs": [], "widgets_values": [640, 832, 1]},
        {"id": 6, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "link": 3}],
         "widgets_values": ["a lighthouse at dusk"]},
        {"id": 7, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "link": 5}],
         "widgets_values": ["fog"]},
        {"id": 8, "type": "VAEDecode", "inputs": [{"name": "samples", "link": 7},
                                                  {"name": "vae", "link": 8}]},
        {"id": 9, "type": "SaveImage", "inputs": [{"name": "images", "link": 9}],
         "widgets_values": ["ComfyUI"]},
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"],
              [4, 6, 0, 3, 1, "CONDITIONING"], [5, 4, 1, 7, 0, "CLIP"],
              [6, 7, 0, 3, 2, "CONDITIONING"], [7, 3, 0, 8, 0, "LATENT"], [8, 4, 2, 8, 1, "VAE"],
              [9, 8, 0, 9, 0, "IMAGE"]],
    "version": 0.4,
}  # fmt: skip

#: InvokeAI 4.x/5.x ``invokeai_metadata``.
INVOKEAI_METADATA: dict[str, Any] = {
    "generation_mode": "sdxl_txt2img", "positive_prompt": "portrait of a knight, oil painting",
    "negative_prompt": "cartoon", "width": 1024, "height": 1024, "seed": 42,
    "rand_device": "cpu", "cfg_scale": 7.5, "cfg_rescale_multiplier": 0, "steps": 30,
    "scheduler": "dpmpp_2m_k",
    "model": {"key": "3ac1f6b0", "hash": "blake3:12ab", "name": "Juggernaut XL v9",
              "base": "sdxl", "type": "main"},
    "app_version": "5.3.0",
}  # fmt: skip

#: NovelAI's ``Comment`` JSON (V4.5), with ``Source`` naming the model.
NOVELAI_COMMENT: dict[str, Any] = {
    "prompt": "1girl, cherry blossoms, masterpiece", "steps": 28, "height": 1216, "width": 832,
    "scale": 5.0, "uncond_scale": 0.0, "cfg_rescale": 0.0, "seed": 2023491, "n_samples": 1,
    "hide_debug_overlay": False, "noise_schedule": "karras", "legacy_v3_extend": False,
    "sampler": "k_euler_ancestral", "controlnet_strength": 1.0, "controlnet_model": None,
    "dynamic_thresholding": False, "sm": False, "sm_dyn": False, "version": 1,
    "uc": "lowres, bad anatomy", "request_type": "PromptGenerateRequest",
    "signed_hash": "c2lnbmVk",
}  # fmt: skip
NOVELAI_SOURCE = "NovelAI Diffusion V4.5 4BDE2A90"


def png_with(texts: dict[str, str], size: tuple[int, int] = (64, 48), *, itxt: bool = False
             ) -> bytes:  # fmt: skip
    """A PNG with ``texts`` as text chunks (tEXt, or iTXt where latin-1 cannot hold it)."""
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        if itxt:
            info.add_itxt(key, value)
        else:
            info.add_text(key, value)  # Pillow writes iTXt itself for non-latin-1 text
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def user_comment_exif(text: str) -> bytes:
    """EXIF with UserComment as AUTOMATIC1111 writes it (piexif ``unicode``: UTF-16BE)."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
    return exif.tobytes()


def a1111_png() -> bytes:
    return png_with({"parameters": A1111_PARAMETERS})


def a1111_lossy(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 90, 40)).save(
        buf, fmt, quality=90, exif=user_comment_exif(A1111_PARAMETERS)
    )
    return buf.getvalue()


def comfy_png(prompt: dict[str, Any] | None = COMFY_PROMPT, workflow: bool = True) -> bytes:
    texts = {}
    if prompt is not None:
        texts["prompt"] = json.dumps(prompt)
    if workflow:
        texts["workflow"] = json.dumps(COMFY_WORKFLOW)
    return png_with(texts)


def invokeai_png() -> bytes:
    return png_with({"invokeai_metadata": json.dumps(INVOKEAI_METADATA),
                     "invokeai_graph": json.dumps({"id": "graph", "nodes": {}})})  # fmt: skip


def novelai_png() -> bytes:
    return png_with({
        "Title": "NovelAI generated image", "Description": NOVELAI_COMMENT["prompt"],
        "Software": "NovelAI", "Source": NOVELAI_SOURCE, "Generation time": "4.3",
        "Comment": json.dumps(NOVELAI_COMMENT),
    })  # fmt: skip


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def raw_png(width: int, height: int, chunks: list[bytes], idat: bytes = b"not deflate") -> bytes:
    """A PNG put together chunk by chunk: IHDR of any size, ``chunks``, one IDAT, IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunks)
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))  # fmt: skip
