"""Other tools' generation metadata, parsed into one record (see ``services.metadata``).

Each parser takes the text it is given (a PNG text chunk, an EXIF comment) and returns a
:class:`Found` with what it could read; a field it cannot read stays None and a warning says
why. Nothing here raises on bad input: metadata comes from anyone's files.

* AUTOMATIC1111 (and Forge, SD.Next, Fooocus's a1111 mode): the ``parameters`` infotext.
* ComfyUI: the ``prompt`` chunk (the API graph: ``{node_id: {class_type, inputs}}``), else the
  ``workflow`` chunk (the editor graph, read for the common node types).
* InvokeAI: ``invokeai_metadata`` (3.x/4.x/5.x), or the older ``sd-metadata`` (2.x).
* NovelAI: the ``Comment`` JSON (with ``Source`` naming the model).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: A1111 ``Key: value`` pairs: a key of words, then a JSON-quoted value or one up to a comma.
_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^\s*(\d{1,6})\s*[x×]\s*(\d{1,6})\s*$")


@dataclass
class Found:
    """What one tool's metadata says (fields it does not carry stay None)."""

    source: str
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    scheduler: str | None = None
    """The noise schedule when the tool names it apart from the sampler (``karras``)."""
    size: str | None = None
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,24}\s*", value):
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def as_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def size_of(width: Any, height: Any) -> str | None:
    w, h = as_int(width), as_int(height)
    return f"{w}x{h}" if w and h and w > 0 and h > 0 else None


def load_json(text: str, where: str, found: Found) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        found.warnings.append(f"{where}: not valid JSON ({exc}); its settings are not read")
        return None


# -- AUTOMATIC1111 ------------------------------------------------------------------------


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value
        return loaded if isinstance(loaded, str) else value
    return value


def parse_a1111(text: str) -> Found:
    """The infotext: prompt lines, ``Negative prompt:`` lines, then the pairs line (the last
    line, when it holds at least three pairs, as AUTOMATIC1111 decides)."""
    found = Found("a1111")
    *lines, last = text.strip().split("\n")
    if len(_PAIR.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        if line.strip().startswith("Negative prompt:"):
            negative.append(line.strip()[len("Negative prompt:") :].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    found.prompt = as_text("\n".join(prompt).strip())
    found.negative_prompt = as_text("\n".join(negative).strip())
    pairs = {k.strip(): _unquote(v.strip()) for k, v in _PAIR.findall(last)}
    if not last:
        found.warnings.append("parameters: no line of settings (Steps, Seed, Size...) was found")
    found.extra = pairs
    found.steps = as_int(pairs.get("Steps"))
    found.guidance = as_float(pairs.get("CFG scale"))
    found.seed = as_int(pairs.get("Seed"))
    found.sampler = as_text(pairs.get("Sampler"))
    found.scheduler = as_text(pairs.get("Schedule type"))
    match = _SIZE.match(pairs.get("Size", ""))
    found.size = f"{match.group(1)}x{match.group(2)}" if match else None
    found.model = as_text(pairs.get("Model")) or as_text(pairs.get("Model hash"))
    for key, value in (("Steps", found.steps), ("CFG scale", found.guidance),
                       ("Seed", found.seed), ("Size", found.size)):  # fmt: skip
        if key in pairs and value is None:
            found.warnings.append(f"parameters: {key} {pairs[key]!r} is not readable")
    return found


# -- ComfyUI ------------------------------------------------------------------------------

#: Editor-graph widget order of the node types read from a ``workflow`` chunk.
_WIDGETS = {
    "KSampler": ("seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler",
                 "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", "control_after_generate", "steps", "cfg",
                         "sampler_name", "scheduler", "start_at_step", "end_at_step",
                         "return_with_leftover_noise"),
    "CLIPTextEncode": ("text",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "RandomNoise": ("noise_seed", "control_after_generate"),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "KSamplerSelect": ("sampler_name",),
    "CFGGuider": ("cfg",),
}  # fmt: skip
_TEXT_KEYS = ("text", "text_g", "text_l", "prompt", "string", "value")
_MODEL_KEYS = ("ckpt_name", "unet_name", "model_name")
_MAX_HOPS = 64

Graph = dict[str, dict[str, Any]]


def _link(value: Any) -> str | None:
    """The node id an input is wired to (``[node_id, output_index]``), if it is wired."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
        return str(value[0])
    return None


def _inputs(graph: Graph, node_id: str) -> dict[str, Any]:
    node = graph.get(node_id)
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _value(graph: Graph, value: Any, keys: Iterable[str]) -> Any:
    """A literal input, or the literal a wired input comes from (a primitive node)."""
    for _ in range(8):
        target = _link(value)
        if target is None:
            return value
        inputs = _inputs(graph, target)
        value = next((inputs[k] for k in (*keys, *_TEXT_KEYS, "seed", "int") if k in inputs),
                     None)  # fmt: skip
    return None


def _search(graph: Graph, start: str | None, keys: tuple[str, ...], edges: tuple[str, ...] = ()
            ) -> Any:  # fmt: skip
    """Walk back from ``start`` (first along ``edges`` when given) to the nearest node that
    has one of ``keys``; its value (followed to a literal)."""
    if start is None:
        return None
    queue, seen = deque([start]), {start}
    while queue and len(seen) < _MAX_HOPS * 4:
        node_id = queue.popleft()
        inputs = _inputs(graph, node_id)
        for key in keys:
            if key in inputs:
                value = _value(graph, inputs[key], (key,))
                if value is not None and not isinstance(value, list | dict):
                    return value
        names = [n for n in edges if n in inputs] or list(inputs)
        for name in names:
            target = _link(inputs[name])
            if target is not None and target not in seen:
                seen.add(target)
                queue.append(target)
    return None


def _is_sampler(inputs: Mapping[str, Any]) -> bool:
    return ("seed" in inputs or "noise_seed" in inputs or "noise" in inputs) and (
        "steps" in inputs or "sigmas" in inputs
    )


def _sampler(graph: Graph) -> str | None:
    """The sampler that made the saved image: walked back from a save node, else the first."""
    for node_id, node in sorted(graph.items(), key=lambda kv: _order(kv[0])):
        kind = str(node.get("class_type", "")) if isinstance(node, dict) else ""
        if "Save" in kind or "Preview" in kind:
            queue, seen = deque([node_id]), {node_id}
            while queue and len(seen) < _MAX_HOPS * 4:
                current = queue.popleft()
                if _is_sampler(_inputs(graph, current)):
                    return current
                for value in _inputs(graph, current).values():
                    target = _link(value)
                    if target is not None and target not in seen:
                        seen.add(target)
                        queue.append(target)
    return next((k for k, _ in sorted(graph.items(), key=lambda kv: _order(kv[0]))
                 if _is_sampler(_inputs(graph, k))), None)  # fmt: skip


def _order(node_id: str) -> tuple[int, str]:
    digits = re.match(r"\d+", node_id)
    return (int(digits.group()) if digits else 1 << 62, node_id)


def _prompt_text(graph: Graph, sampler: str, which: str) -> str | None:
    inputs = _inputs(graph, sampler)
    start = _link(inputs.get(which))
    if start is None and (guider := _link(inputs.get("guider"))) is not None:
        guide = _inputs(graph, guider)
        start = _link(guide.get(which)) or (
            _link(guide.get("conditioning")) if which == "positive" else None
        )
    text = _search(graph, start, _TEXT_KEYS, ("conditioning", "conditioning_1", which))
    return text if isinstance(text, str) else None


def read_comfy_graph(graph: Graph, found: Found) -> Found:
    sampler = _sampler(graph)
    if sampler is None:
        found.warnings.append("prompt: the graph has no sampler node (KSampler...)")
        model = _search_any(graph, _MODEL_KEYS)
        found.model = as_text(model)
        return found
    found.extra = {"sampler_node": sampler,
                   "sampler_type": graph[sampler].get("class_type")}  # fmt: skip
    found.seed = as_int(_search(graph, sampler, ("seed", "noise_seed"), ("noise",)))
    found.steps = as_int(_search(graph, sampler, ("steps",), ("sigmas",)))
    found.guidance = as_float(_search(graph, sampler, ("cfg",), ("guider",)))
    found.sampler = as_text(_search(graph, sampler, ("sampler_name",), ("sampler",)))
    found.scheduler = as_text(_search(graph, sampler, ("scheduler",), ("sigmas",)))
    found.prompt = as_text(_prompt_text(graph, sampler, "positive"))
    found.negative_prompt = as_text(_prompt_text(graph, sampler, "negative"))
    latent = _link(_inputs(graph, sampler).get("latent_image"))
    width = _search(graph, latent, ("width",), ("samples", "latent_image", "pixels", "image"))
    height = _search(graph, latent, ("height",), ("samples", "latent_image", "pixels", "image"))
    found.size = size_of(width, height)
    model = _search(graph, _link(_inputs(graph, sampler).get("model")) or sampler, _MODEL_KEYS,
                    ("model",))  # fmt: skip
    found.model = as_text(model) or as_text(_search_any(graph, _MODEL_KEYS))
    return found


def _search_any(graph: Graph, keys: tuple[str, ...]) -> Any:
    for node_id in sorted(graph, key=_order):
        inputs = _inputs(graph, node_id)
        for key in keys:
            if isinstance(inputs.get(key), str):
                return inputs[key]
    return None


def parse_comfy_prompt(text: str) -> Found:
    found = Found("comfyui")
    graph = load_json(text, "prompt", found)
    if not isinstance(graph, dict) or not all(isinstance(v, dict) for v in graph.values()):
        if graph is not None:
            found.warnings.append("prompt: not a ComfyUI graph ({node_id: {class_type, inputs}})")
        return found
    return read_comfy_graph({str(k): v for k, v in graph.items()}, found)


def is_comfy_graph(text: str) -> bool:
    try:
        graph = json.loads(text)
    except ValueError:
        return text.lstrip().startswith("{") and "class_type" in text
    return isinstance(graph, dict) and any(
        isinstance(v, dict) and "class_type" in v for v in graph.values()
    )


def parse_comfy_workflow(text: str) -> Found:
    """The editor graph (``workflow``): nodes with ``widgets_values`` and numbered links,
    turned into the API graph's shape for the node types in :data:`_WIDGETS`."""
    found = Found("comfyui")
    raw = load_json(text, "workflow", found)
    nodes = raw.get("nodes") if isinstance(raw, dict) else None
    if not isinstance(nodes, list):
        if raw is not None:
            found.warnings.append("workflow: not a ComfyUI workflow (no nodes)")
        return found
    links: dict[int, str] = {}
    for link in raw.get("links") or []:
        if isinstance(link, list) and len(link) >= 3 and isinstance(link[0], int):
            links[link[0]] = str(link[1])
    graph: Graph = {}
    for node in nodes:
        if not isinstance(node, dict) or "id" not in node:
            continue
        kind = str(node.get("type", ""))
        widgets = node.get("widgets_values")
        inputs: dict[str, Any] = {}
        if isinstance(widgets, list):
            inputs.update(zip(_WIDGETS.get(kind, ()), widgets, strict=False))
        for slot in node.get("inputs") or []:
            if isinstance(slot, dict) and isinstance(slot.get("link"), int):
                source = links.get(slot["link"])
                if source is not None:
                    inputs[str(slot.get("name"))] = [source, 0]
        graph[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    found.warnings.append("prompt: no API graph; settings read from the editor workflow")
    return read_comfy_graph(graph, found)


# -- InvokeAI -----------------------------------------------------------------------------


def parse_invokeai(text: str, chunk: str = "invokeai_metadata") -> Found:
    found = Found("invokeai")
    meta = load_json(text, chunk, found)
    if not isinstance(meta, dict):
        if meta is not None:
            found.warnings.append(f"{chunk}: not a JSON object")
        return found
    if chunk == "sd-metadata":  # InvokeAI 2.x
        got = meta.get("image")
        image: dict[str, Any] = got if isinstance(got, dict) else {}
        prompt = image.get("prompt")
        if isinstance(prompt, list):
            prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
        found.prompt = as_text(prompt)
        meta = {**image, "model": meta.get("model_weights"), "scheduler": image.get("sampler")}
    else:
        found.prompt = as_text(meta.get("positive_prompt"))
        found.negative_prompt = as_text(meta.get("negative_prompt"))
    found.seed = as_int(meta.get("seed"))
    found.steps = as_int(meta.get("steps"))
    found.guidance = as_float(meta.get("cfg_scale"))
    found.sampler = as_text(meta.get("scheduler"))
    found.size = size_of(meta.get("width"), meta.get("height"))
    model = meta.get("model")
    if isinstance(model, dict):
        model = model.get("model_name") or model.get("name")
    found.model = as_text(model)
    found.extra = {k: meta[k] for k in ("generation_mode", "app_version") if k in meta}
    return found


# -- NovelAI ------------------------------------------------------------------------------


def parse_novelai(text: str, source: str | None, description: str | None) -> Found:
    found = Found("novelai")
    meta = load_json(text, "Comment", found)
    if not isinstance(meta, dict):
        if meta is not None:
            found.warnings.append("Comment: not a JSON object")
        found.prompt = as_text(description)
        found.model = as_text(source)
        return found
    prompt = meta.get("prompt")
    v4 = meta.get("v4_prompt")
    if not as_text(prompt) and isinstance(v4, dict) and isinstance(v4.get("caption"), dict):
        prompt = v4["caption"].get("base_caption")
    found.prompt = as_text(prompt) or as_text(description)
    found.negative_prompt = as_text(meta.get("uc"))
    found.seed = as_int(meta.get("seed"))
    found.steps = as_int(meta.get("steps"))
    found.guidance = as_float(meta.get("scale"))
    found.sampler = as_text(meta.get("sampler"))
    found.scheduler = as_text(meta.get("noise_schedule"))
    found.size = size_of(meta.get("width"), meta.get("height"))
    found.model = as_text(source)
    return found


def is_novelai(fields: Mapping[str, str]) -> bool:
    comment = fields.get("Comment", "")
    return fields.get("Software", "").startswith("NovelAI") or (
        comment.lstrip().startswith("{") and '"uc"' in comment and '"scale"' in comment
    )


# -- scheduler names ----------------------------------------------------------------------

#: Other tools' sampler names (lower case, ``_``/``+``/spaces folded) -> Pixelforge's.
_SCHEDULERS = {
    "euler": "euler", "k_euler": "euler", "euler_a": "euler_a", "eulera": "euler_a",
    "euler_ancestral": "euler_a", "k_euler_ancestral": "euler_a", "dpmpp_2m": "dpmpp_2m",
    "dpm_2m": "dpmpp_2m", "k_dpmpp_2m": "dpmpp_2m", "dpmpp_2m_k": "dpmpp_2m_karras",
    "dpmpp_2m_karras": "dpmpp_2m_karras", "ddim": "ddim", "plms": "pndm", "pndm": "pndm",
    "heun": "heun", "k_heun": "heun", "unipc": "unipc", "uni_pc": "unipc", "lcm": "lcm",
}  # fmt: skip


def pixelforge_scheduler(sampler: str | None, schedule: str | None) -> str | None:
    """The Pixelforge scheduler for a tool's sampler (and schedule) name, or None."""
    if not sampler:
        return None
    key = re.sub(r"[\s\-]+", "_", sampler.strip().lower()).replace("++", "pp").replace("+", "p")
    if schedule and schedule.strip().lower() == "karras" and not key.endswith("karras"):
        key += "_karras"
    return _SCHEDULERS.get(key)
