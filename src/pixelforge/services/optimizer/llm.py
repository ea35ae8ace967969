"""The optional rewrite by an OpenAI-compatible chat-completions endpoint.

The model gets the rules' draft and a system prompt that demands the slots and forbids
touching quoted text or constraints; its answer is a JSON object ``{"prompt", "slots"}``. The
caller checks the answer (see :func:`missing_verbatim`) and keeps the rules' result when it
dropped anything. One client per call, closed after it: the endpoint is used rarely and a
stale connection pool is worse than a new one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai

from pixelforge.errors import UpstreamError, UpstreamTimeoutError
from pixelforge.services.optimizer.records import SLOTS, OptimizedPrompt, PromptStyle, Slot

_PHRASING: Mapping[PromptStyle, str] = {
    "keywords": "comma-separated keywords and short phrases (Stable Diffusion style), "
    "the subject first",
    "sentences": "clear descriptive sentences (for GPT Image or Gemini)",
    "brief": "a short design brief for a layout engine: the kind of design, the subject, each "
    'quoted text behind its role word (headline "...", subtitle "..."), one style word',
}
SYSTEM_PROMPT = """You improve rough prompts for an image generator.
Rewrite the user's prompt into a structured prompt that fills these slots: subject, action or
pose, environment, composition and camera, lighting, style, mood, text to render, constraints.
Rules you must follow:
1. Copy every string listed under "must_keep" into the prompt exactly as written, character
   for character, including its quote marks. Never translate, shorten or re-case them.
2. Add no text to render beyond the quoted strings.
3. Keep the user's subject; add only what the use case needs.
4. Phrase the prompt as {phrasing}.
Answer with one JSON object and nothing else:
{{"prompt": "<the rewritten prompt>", "slots": {{"subject": "...", "action": "...",
"environment": "...", "composition": "...", "lighting": "...", "style": "...", "mood": "...",
"text": "...", "constraints": "..."}}}}
Leave a slot out when it does not apply."""


@dataclass(frozen=True, slots=True)
class Rewritten:
    prompt: str
    slots: dict[Slot, str] | None
    """None when the answer's slots were missing or not a mapping of slot names to text."""


@dataclass(frozen=True, slots=True)
class ChatRewriter:
    """Calls ``POST {base_url}/chat/completions`` with ``model``; no retries past one."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0

    def rewrite(self, draft: OptimizedPrompt) -> Rewritten:
        """The model's rewrite of ``draft``; :class:`UpstreamError` when it fails or answers
        something that is not the JSON asked for."""
        must_keep = [q.token for q in draft.quoted] + list(draft.constraints)
        user = json.dumps(
            {
                "prompt": draft.original,
                "use_case": draft.use_case,
                "must_keep": must_keep,
                "draft": {"prompt": draft.optimized, "slots": dict(draft.slots)},
            },
            ensure_ascii=False,
        )
        system = SYSTEM_PROMPT.format(phrasing=_PHRASING[draft.style])
        try:
            with openai.OpenAI(
                api_key=self.api_key or "unused", base_url=self.base_url,
                timeout=self.timeout, max_retries=1,
            ) as client:  # fmt: skip
                answer = client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                    temperature=0.2,
                )
        except openai.APITimeoutError:
            raise UpstreamTimeoutError(
                f"the prompt model timed out after {self.timeout:g} s"
            ) from None
        except openai.APIStatusError as exc:
            raise UpstreamError(f"the prompt model answered HTTP {exc.status_code}") from None
        except openai.OpenAIError as exc:
            raise UpstreamError(f"the prompt model could not be reached ({exc})") from None
        content = answer.choices[0].message.content if answer.choices else None
        return parse_answer(content or "")


def parse_answer(content: str) -> Rewritten:
    """The ``{"prompt", "slots"}`` object in a chat answer (a ```json fence is allowed)."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content)
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        raise UpstreamError("the prompt model did not answer with the JSON asked for") from None
    prompt = data.get("prompt") if isinstance(data, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise UpstreamError('the prompt model\'s answer has no "prompt" text')
    raw = data.get("slots")
    slots: dict[Slot, str] | None = None
    if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
        known = {s: s for s in SLOTS}
        if set(raw) <= set(known):
            slots = {known[k]: v.strip() for k, v in raw.items() if v.strip()}
    return Rewritten(prompt.strip(), slots)


def missing_verbatim(draft: OptimizedPrompt, rewritten: str) -> list[str]:
    """Quoted tokens (with their marks) and constraints the rewrite does not contain as is."""
    needed = [q.token for q in draft.quoted] + list(draft.constraints)
    return [n for n in needed if n not in rewritten]
