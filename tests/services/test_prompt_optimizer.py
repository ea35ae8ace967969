"""The rules optimizer: 20 rough prompts across the seven use cases, table-driven.

Each row gives the use case the rules must detect, the slots the prompt itself fills (with
the exact words), and the slots the template must add. Every row is then checked in all three
phrasings: quoted text (straight, curly, «», 「」) and constraints appear verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.parse import parse_prompt
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import InvalidRequestError, PermissionDeniedError
from pixelforge.services.optimizer import STYLES, PromptOptimizer, optimize, style_for_model
from testing_engines import ZeroWorkEngine


class _Row:
    def __init__(self, prompt: str, use_case: str, found: dict[str, str], filled: str,
                 quoted: Sequence[str] = (), constraints: Sequence[str] = ()) -> None:  # fmt: skip
        self.prompt, self.use_case, self.found = prompt, use_case, found
        self.filled = tuple(filled.split())
        self.quoted, self.constraints = tuple(quoted), tuple(constraints)


ROWS = [
    # posters
    _Row('poster for a jazz night "LIVE AT 9" keep the saxophone', "poster",
         {"subject": "a jazz night", "text": '"LIVE AT 9"', "constraints": "keep the saxophone"},
         "composition lighting style mood", ["LIVE AT 9"], ["keep the saxophone"]),
    _Row("minimal flyer for a bakery grand opening, headline “FRESH BREAD”, subtitle "
         "“Saturday 8 AM”, warm palette", "poster",
         {"subject": "a bakery grand opening", "style": "minimal, warm palette",
          "text": "“FRESH BREAD”, “Saturday 8 AM”"},
         "composition lighting mood", ["FRESH BREAD", "Saturday 8 AM"]),
    _Row("album cover 「夜の街」 neon city at night, keep the same typography as the logo",
         "poster",
         {"subject": "city", "lighting": "at night", "style": "neon", "text": "「夜の街」",
          "constraints": "keep the same typography as the logo"},
         "composition mood", ["夜の街"], ["keep the same typography as the logo"]),
    # product shots
    _Row("product shot of a perfume bottle on marble", "product_shot",
         {"subject": "a perfume bottle", "environment": "on marble"},
         "composition lighting style mood"),
    _Row("product photo of wireless earbuds on a white background, top-down, don't change "
         "the logo", "product_shot",
         {"subject": "wireless earbuds", "environment": "on a white background",
          "composition": "top-down", "constraints": "don't change the logo"},
         "lighting style mood", [], ["don't change the logo"]),
    _Row("a bottle of olive oil with a rustic label, golden hour, without any text on the "
         "bottle", "product_shot",
         {"subject": "a bottle of olive oil with a rustic label", "lighting": "golden hour",
          "constraints": "without any text on the bottle"},
         "environment composition style mood", [], ["without any text on the bottle"]),
    # portraits
    _Row("portrait of an old fisherman, keep the face", "portrait",
         {"subject": "an old fisherman", "constraints": "keep the face"},
         "action environment composition lighting style mood", [], ["keep the face"]),
    _Row("headshot of a CEO in a glass office, natural window light, same pose as the "
         "reference", "portrait",
         {"subject": "a CEO", "environment": "in a glass office",
          "lighting": "natural window light", "constraints": "same pose as the reference"},
         "action composition style mood", [], ["same pose as the reference"]),
    _Row("selfie of a woman laughing in the rain, close-up, 85mm, caption «SANS FILTRE»",
         "portrait",
         {"subject": "a woman", "action": "laughing", "environment": "in the rain",
          "composition": "close-up, 85mm", "text": "«SANS FILTRE»"},
         "lighting style mood", ["SANS FILTRE"]),
    # infographics
    _Row("infographic: coffee consumption by country", "infographic",
         {"subject": "coffee consumption by country"}, "composition style mood"),
    _Row("infographic «Café en Europe» Finland 12kg, Norway 9.9kg, Iceland 9kg, without icons",
         "infographic",
         {"subject": "Finland 12kg, Norway 9.9kg, Iceland 9kg", "text": "«Café en Europe»",
          "constraints": "without icons"},
         "composition style mood", ["Café en Europe"], ["without icons"]),
    _Row("timeline of the company history 2015 founded, 2018 first office, 2023 IPO, "
         "corporate blue, keep the logo colours", "infographic",
         {"subject": "the company history 2015 founded, 2018 first office, 2023 IPO",
          "style": "corporate blue", "constraints": "keep the logo colours"},
         "composition mood", [], ["keep the logo colours"]),
    # UI mockups
    _Row("ui mockup for a banking app login screen", "ui_mockup",
         {"subject": "a banking app login screen"}, "composition style mood"),
    _Row("dashboard ui for a fitness tracker, dark mode, keep the layout", "ui_mockup",
         {"subject": "a fitness tracker", "style": "dark mode", "constraints": "keep the layout"},
         "composition mood", [], ["keep the layout"]),
    _Row('landing page for a coffee subscription, button "Start free trial", pastel, same '
         "header as the current site", "ui_mockup",
         {"subject": "a coffee subscription", "style": "pastel", "text": '"Start free trial"',
          "constraints": "same header as the current site"},
         "composition mood", ["Start free trial"], ["same header as the current site"]),
    # thumbnails
    _Row('youtube thumbnail "I QUIT MY JOB" shocked face', "thumbnail",
         {"action": "shocked face", "text": '"I QUIT MY JOB"'},
         "subject environment composition lighting style mood", ["I QUIT MY JOB"]),
    _Row('thumbnail for a cooking video, chef holding a giant burger, "BEST BURGER EVER?"',
         "thumbnail",
         {"subject": "a cooking video, chef", "action": "holding a giant burger",
          "text": '"BEST BURGER EVER?"'},
         "environment composition lighting style mood", ["BEST BURGER EVER?"]),
    _Row('video thumbnail, surprised expression, bright yellow background, text "99% FAIL", '
         "keep my face", "thumbnail",
         {"action": "surprised expression", "environment": "bright yellow background",
          "text": '"99% FAIL"', "constraints": "keep my face"},
         "subject composition lighting style mood", ["99% FAIL"], ["keep my face"]),
    # concept art
    _Row("concept art of a floating city at dusk", "concept_art",
         {"subject": "a floating city", "lighting": "at dusk"},
         "environment composition style mood"),
    _Row("concept art, dragon sleeping on gold in a cave, cinematic lighting, no text",
         "concept_art",
         {"subject": "dragon", "action": "sleeping", "environment": "on gold in a cave",
          "lighting": "cinematic lighting", "constraints": "no text"},
         "composition style mood", [], ["no text"]),
]  # fmt: skip
IDS = [f"{i:02d}-{row.use_case}" for i, row in enumerate(ROWS)]
#: compose kind each use case's brief must produce
COMPOSE_KIND = {"poster": "poster", "product_shot": "product_card", "portrait": "poster",
                "infographic": "infographic", "ui_mockup": "ui_mockup",
                "thumbnail": "thumbnail", "concept_art": "poster"}  # fmt: skip


@pytest.fixture(scope="module")
def icons() -> IconSet:
    return IconSet()


def test_table_covers_every_use_case_when_counted() -> None:
    assert len(ROWS) == 20
    assert {row.use_case for row in ROWS} == set(COMPOSE_KIND)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_optimize_detects_use_case_and_found_slots_when_rough_prompt_given(row: _Row) -> None:
    result = optimize(row.prompt, style="sentences")

    assert result.use_case == row.use_case
    assert result.use_case_detected
    assert {slot: result.slots[slot] for slot in result.found} == row.found


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_optimize_fills_template_slots_when_prompt_leaves_them_empty(row: _Row) -> None:
    result = optimize(row.prompt, style="sentences")

    assert result.filled == row.filled
    assert set(result.slots) == set(row.found) | set(row.filled)
    for slot in result.filled:
        assert result.slots[slot] in result.optimized


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_optimize_keeps_quotes_and_constraints_verbatim_when_any_style(
    row: _Row, style: str
) -> None:
    result = optimize(row.prompt, style=style)

    assert [q.text for q in result.quoted] == list(row.quoted)
    assert result.constraints == row.constraints
    for q in result.quoted:
        assert q.token in row.prompt
        assert q.token in result.optimized
    for constraint in result.constraints:
        assert constraint in row.prompt
        assert constraint in result.optimized
    assert result.original == row.prompt


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_brief_style_gives_compose_the_same_texts_when_parsed(row: _Row, icons: IconSet) -> None:
    brief = optimize(row.prompt, style="brief").optimized

    parsed, original = parse_prompt(brief, icons), parse_prompt(row.prompt, icons)

    assert parsed.kind == COMPOSE_KIND[row.use_case]
    assert set(row.quoted) <= set(parsed.texts())
    assert parsed.headline == original.headline
    assert parsed.chart == original.chart


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_optimize_returns_same_result_when_run_twice(row: _Row) -> None:
    assert optimize(row.prompt, "gpt-image-1") == optimize(row.prompt, "gpt-image-1")


def test_keywords_style_puts_use_case_and_subject_first_when_sd_model() -> None:
    result = optimize("product shot of a perfume bottle on marble", style="keywords")

    assert result.optimized.startswith("product photography, perfume bottle, on marble, ")
    assert ". " not in result.optimized


def test_sentences_style_writes_labelled_sentences_when_hosted_model() -> None:
    result = optimize("portrait of an old fisherman, keep the face", "gemini-2.5-flash-image")

    assert result.style == "sentences"
    assert result.optimized.startswith("A portrait of an old fisherman looking at the camera")
    assert "Lighting: soft window light from the side." in result.optimized
    assert result.optimized.endswith("Constraints: keep the face.")


def test_brief_style_cues_each_quoted_role_when_compose() -> None:
    result = optimize('banner "Big" "Small" "Tiny" "Tinier"', "compose")

    assert result.style == "brief"
    assert 'headline "Big", subtitle "Small", labels "Tiny", "Tinier"' in result.optimized


def test_brief_style_leaves_out_camera_numbers_when_compose_would_print_them() -> None:
    result = optimize("portrait of a chef, 85mm, f/1.8, 16:9", style="brief")

    assert "85mm" not in result.optimized
    assert "f/1.8" not in result.optimized
    assert "16:9" in result.optimized
    assert result.slots["composition"] == "85mm, f/1.8, 16:9"


def test_quote_inside_constraint_appears_once_when_rendered() -> None:
    result = optimize('poster, keep the headline "SALE" and the logo', style="sentences")

    assert result.constraints == ('keep the headline "SALE" and the logo',)
    assert result.optimized.count('"SALE"') == 1


def test_optimize_uses_given_use_case_when_caller_chooses() -> None:
    result = optimize("a perfume bottle on marble", use_case="poster", style="keywords")

    assert result.use_case == "poster"
    assert not result.use_case_detected
    assert result.filled == ("composition", "lighting", "style", "mood")


def test_optimize_falls_back_to_general_when_nothing_names_a_use_case() -> None:
    result = optimize("a cat sitting on a sofa", style="sentences")

    assert result.use_case == "general"
    assert result.found == ("subject", "action", "environment")
    assert result.optimized.startswith("A cat sitting on a sofa.")


@pytest.mark.parametrize(
    ("model", "style"),
    [("compose", "brief"), ("gpt-image-1", "sentences"), ("gpt-image-2", "sentences"),
     ("gemini-3-pro-image-preview", "sentences"), ("sdxl-base-1.0", "keywords"),
     ("flux-schnell", "keywords")],
)  # fmt: skip
def test_style_for_model_follows_family_when_not_served(model: str, style: str) -> None:
    assert style_for_model(model) == style


def test_style_for_model_follows_engine_when_served() -> None:
    class LocalLike(ZeroWorkEngine):
        name = "diffusers"

    registry = ModelRegistry([LocalLike("my-finetune")])

    assert style_for_model("my-finetune", registry) == "keywords"


def test_style_for_model_rejects_unknown_model_when_family_unknown() -> None:
    registry = ModelRegistry([ZeroWorkEngine()])

    with pytest.raises(InvalidRequestError) as caught:
        style_for_model("mystery-model", registry)

    assert caught.value.param == "model"
    assert "zero" in caught.value.message


def test_style_overrides_model_when_both_given() -> None:
    assert optimize("a poster", "gpt-image-1", style="keywords").style == "keywords"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"text": "   "}, "prompt"), ({"text": "x" * 4_001}, "prompt"),
     ({"use_case": "meme"}, "use_case"), ({"style": "haiku"}, "style"),
     ({"model": "nope"}, "model")],
)  # fmt: skip
def test_optimize_names_the_field_when_input_is_bad(kwargs: dict[str, str], param: str) -> None:
    args = {"text": "a poster"} | kwargs

    with pytest.raises(InvalidRequestError) as caught:
        optimize(**args)  # type: ignore[arg-type]

    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")


def test_optimizer_refuses_llm_rewrite_when_no_prompt_model_configured() -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        PromptOptimizer(None).optimize("a poster", rewrite="llm")

    assert caught.value.param == "rewrite"
    assert caught.value.code == "feature_disabled"


def test_optimizer_rejects_unknown_rewrite_when_given() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        PromptOptimizer(None).optimize("a poster", rewrite="magic")

    assert caught.value.param == "rewrite"
