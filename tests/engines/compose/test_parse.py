"""Free-text prompt -> Brief, over the realistic design-brief prompts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixelforge.engines.compose.brief import Brief
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.palette import COLOR_PHRASES, COLOR_WORDS, MOOD_PALETTES
from pixelforge.engines.compose.parse import parse_prompt, suggest_aspect_ratio

BRIEFS_FILE = Path(__file__).with_name("design-briefs.txt")
DESIGN_BRIEFS = [
    line.strip()
    for line in BRIEFS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.fixture(scope="module")
def icons() -> IconSet:
    return IconSet()


def text_fields(brief: Brief) -> dict[str, object]:
    return {
        "headline": brief.headline,
        "subtitle": brief.subtitle,
        "cta": brief.cta,
        "labels": brief.labels,
        "attribution": brief.attribution,
    }


def texts(
    headline: str | None = None,
    subtitle: str | None = None,
    cta: str | None = None,
    labels: tuple[str, ...] = (),
    attribution: str | None = None,
) -> dict[str, object]:
    return {
        "headline": headline,
        "subtitle": subtitle,
        "cta": cta,
        "labels": list(labels),
        "attribution": attribution,
    }


TEXT_CASES = [
    pytest.param(
        'Minimal poster for a coffee shop, headline "OPEN LATE", warm palette',
        texts("OPEN LATE"),
        id="coffee",
    ),
    pytest.param(
        'Product banner for wireless earbuds, headline "Hear Everything", subtitle '
        '"40-hour battery", CTA "Shop now", dark neon style',
        texts("Hear Everything", "40-hour battery", "Shop now"),
        id="earbuds",
    ),
    pytest.param(
        'Instagram post for a yoga studio: "Breathe in. Let go." pastel, centered, with a lotus',
        texts("Breathe in. Let go."),
        id="yoga",
    ),
    pytest.param(
        'Event poster "Jazz Night" Friday 8 PM, "Blue Note Cafe", retro style with a saxophone',
        texts("Jazz Night", "Blue Note Cafe", labels=("Friday 8 PM",)),
        id="jazz",
    ),
    pytest.param(
        'UI mockup of a mobile banking app home screen: balance "$12,480.55", buttons "Send", '
        '"Request", "Cards"',
        texts("$12,480.55", labels=("Send", "Request", "Cards")),
        id="banking",
    ),
    pytest.param(
        'Landing page hero for a SaaS: headline "Ship faster with fewer meetings", subtitle '
        '"Async standups for remote teams", CTA "Start free trial"',
        texts(
            "Ship faster with fewer meetings", "Async standups for remote teams", "Start free trial"
        ),
        id="saas",
    ),
    pytest.param(
        'Quote card "The best way out is always through." - Robert Frost, elegant serif, '
        "cream background",
        texts("The best way out is always through.", attribution="Robert Frost"),
        id="quote",
    ),
    pytest.param(
        'Sale banner 16:9 "BLACK FRIDAY" "Up to 70% off" black and gold',
        texts("BLACK FRIDAY", "Up to 70% off"),
        id="black-friday",
    ),
    pytest.param(
        'Recipe card "Grandma\'s Apple Pie" ingredients: 6 apples, 2 cups flour, 1 cup sugar, '
        "200 g butter",
        texts(
            "Grandma's Apple Pie",
            labels=("6 apples", "2 cups flour", "1 cup sugar", "200 g butter"),
        ),
        id="recipe",
    ),
    pytest.param(
        'Korean ramen poster with the tagline "진짜 맛있는 라면" bold sans-serif, warm lighting mood',
        texts("진짜 맛있는 라면"),
        id="korean",
    ),
    pytest.param(
        'Japanese cafe menu board "本日のおすすめ" with "抹茶ラテ 550円" and "どら焼き 300円"',
        texts("本日のおすすめ", "抹茶ラテ 550円", labels=("どら焼き 300円",)),
        id="japanese",
    ),
    pytest.param(
        'Arabic Ramadan greeting "رمضان كريم" with a crescent moon and stars, deep blue',
        texts("رمضان كريم"),
        id="arabic",
    ),
    pytest.param(
        'Hebrew sign "ברוכים הבאים" welcome poster, minimal',
        texts("ברוכים הבאים"),
        id="hebrew",
    ),
    pytest.param(
        'Hindi Diwali wishes "शुभ दीपावली" with diyas, orange and purple',
        texts("शुभ दीपावली"),
        id="hindi",
    ),
    pytest.param(
        'Conference badge: name "Dr. Amara Okafor", role "Keynote Speaker", event "AI Summit 2026"',
        texts("Dr. Amara Okafor", "Keynote Speaker", labels=("AI Summit 2026",)),
        id="badge",
    ),
    pytest.param(
        'Real estate flyer "Just Listed" "3 bed · 2 bath · $549,000" "123 Maple Street", elegant',
        texts("Just Listed", "3 bed · 2 bath · $549,000", labels=("123 Maple Street",)),
        id="real-estate",
    ),
    pytest.param(
        'Certificate "Certificate of Completion" awarded to "Lena Fischer" for "Advanced Python", '
        "2026-11-23",
        texts(
            "Certificate of Completion", "Lena Fischer", labels=("Advanced Python", "2026-11-23")
        ),
        id="certificate",
    ),
    pytest.param(
        'Menu "Sushi Bar" with prices "Salmon nigiri 4.50", "Tuna roll 6.00", "Miso soup 2.50"',
        texts("Sushi Bar", labels=("Salmon nigiri 4.50", "Tuna roll 6.00", "Miso soup 2.50")),
        id="sushi",
    ),
]


@pytest.mark.parametrize(("prompt", "expected"), TEXT_CASES)
def test_parse_assigns_quoted_text_verbatim_when_prompt_quotes(
    icons: IconSet, prompt: str, expected: dict[str, object]
) -> None:
    assert text_fields(parse_prompt(prompt, icons)) == expected


@pytest.mark.parametrize("prompt", DESIGN_BRIEFS, ids=[f"brief{i:02d}" for i in range(40)])
def test_parse_keeps_every_quoted_string_when_design_brief_parsed(
    icons: IconSet, prompt: str
) -> None:
    quoted = re.findall(r'"([^"]+)"', prompt)
    rendered = parse_prompt(prompt, icons).texts()
    assert [q for q in quoted if q not in rendered] == []


CHART_CASES = [
    pytest.param(
        'Infographic "Top 5 economies by GDP (USD trillion)" United States 28.8, China 18.5, '
        "Germany 4.6, Japan 4.2, India 3.9",
        "bar",
        [
            ("United States", "28.8"),
            ("China", "18.5"),
            ("Germany", "4.6"),
            ("Japan", "4.2"),
            ("India", "3.9"),
        ],
        id="gdp-bar",
    ),
    pytest.param(
        'Line chart poster "Monthly active users" Jan 1200, Feb 1350, Mar 1600, Apr 2100, '
        "May 2500, Jun 3100, corporate blue",
        "line",
        [
            ("Jan", "1200"),
            ("Feb", "1350"),
            ("Mar", "1600"),
            ("Apr", "2100"),
            ("May", "2500"),
            ("Jun", "3100"),
        ],
        id="users-line",
    ),
    pytest.param(
        'Pie chart "Where our budget goes" Salaries 55%, Marketing 20%, Infrastructure 15%, '
        "Other 10%",
        "pie",
        [("Salaries", "55%"), ("Marketing", "20%"), ("Infrastructure", "15%"), ("Other", "10%")],
        id="budget-pie",
    ),
    pytest.param(
        'Bar chart "Customer satisfaction by region" North 82, South 76, East 91, West 68, '
        "include the values on the bars",
        "bar",
        [("North", "82"), ("South", "76"), ("East", "91"), ("West", "68")],
        id="satisfaction-bar",
    ),
    pytest.param(
        'Comparison table infographic "Plan comparison" Basic $9, Pro $29, Team $79',
        "table",
        [("Basic", "$9"), ("Pro", "$29"), ("Team", "$79")],
        id="plans-table",
    ),
    pytest.param(
        'Timeline infographic "Company history" 2015 founded, 2018 first office, 2021 Series A, '
        "2024 IPO",
        "timeline",
        [("founded", "2015"), ("first office", "2018"), ("Series A", "2021"), ("IPO", "2024")],
        id="history-timeline",
    ),
]


#: Each prompt above by its case id, for the tables below.
PROMPTS: dict[str, str] = {
    str(case.id): str(case.values[0]) for case in [*TEXT_CASES, *CHART_CASES]
}


@pytest.mark.parametrize(("prompt", "chart_kind", "points"), CHART_CASES)
def test_parse_prints_chart_values_as_written_when_prompt_lists_pairs(
    icons: IconSet, prompt: str, chart_kind: str, points: list[tuple[str, str]]
) -> None:
    chart = parse_prompt(prompt, icons).chart
    assert chart is not None
    assert [(p.label, p.text) for p in chart.points] == points


@pytest.mark.parametrize(("prompt", "chart_kind", "points"), CHART_CASES)
def test_parse_picks_chart_kind_when_prompt_names_it(
    icons: IconSet, prompt: str, chart_kind: str, points: list[tuple[str, str]]
) -> None:
    chart = parse_prompt(prompt, icons).chart
    assert chart is not None
    assert chart.kind == chart_kind


@pytest.mark.parametrize(("prompt", "chart_kind", "points"), CHART_CASES)
def test_parse_plots_numbers_of_displayed_values_when_chart_found(
    icons: IconSet, prompt: str, chart_kind: str, points: list[tuple[str, str]]
) -> None:
    chart = parse_prompt(prompt, icons).chart
    assert chart is not None
    assert [p.value for p in chart.points] == [
        float(re.sub(r"[^\d.]", "", shown)) for _, shown in points
    ]


@pytest.mark.parametrize(
    ("prompt", "unit"),
    [
        pytest.param(PROMPTS["budget-pie"], "%", id="percent"),
        pytest.param(PROMPTS["plans-table"], "$", id="dollar"),
        pytest.param(PROMPTS["gdp-bar"], None, id="plain"),
    ],
)
def test_parse_sets_unit_when_all_values_share_it(
    icons: IconSet, prompt: str, unit: str | None
) -> None:
    chart = parse_prompt(prompt, icons).chart
    assert chart is not None
    assert chart.unit == unit


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        pytest.param(PROMPTS["gdp-bar"], "infographic", id="infographic"),
        pytest.param(PROMPTS["budget-pie"], "infographic", id="pie-chart"),
        pytest.param(PROMPTS["banking"], "ui_mockup", id="ui-mockup"),
        pytest.param(PROMPTS["quote"], "quote_card", id="quote-card"),
        pytest.param(
            'YouTube thumbnail, bold red and yellow, text "I tried 30 days of cold showers"',
            "thumbnail",
            id="thumbnail",
        ),
        pytest.param(PROMPTS["earbuds"], "banner", id="banner"),
        pytest.param(PROMPTS["black-friday"], "banner", id="sale-banner"),
        pytest.param(PROMPTS["yoga"], "social", id="instagram"),
        pytest.param(PROMPTS["coffee"], "poster", id="poster"),
        pytest.param(
            'LinkedIn banner 4:1 "Data engineering for humans" with a laptop and charts, corporate',
            "banner",
            id="charts-word-without-data",
        ),
    ],
)
def test_parse_detects_kind_when_prompt_names_use_case(
    icons: IconSet, prompt: str, kind: str
) -> None:
    assert parse_prompt(prompt, icons).kind == kind


def test_parse_leaves_chart_empty_when_no_data_pairs(icons: IconSet) -> None:
    prompt = 'LinkedIn banner 4:1 "Data engineering for humans" with a laptop and charts'
    assert parse_prompt(prompt, icons).chart is None


@pytest.mark.parametrize(
    ("prompt", "palette"),
    [
        pytest.param(
            'YouTube thumbnail, bold red and yellow, text "I tried 30 days of cold showers"',
            [COLOR_WORDS["red"], COLOR_WORDS["yellow"]],
            id="red-yellow",
        ),
        pytest.param(
            PROMPTS["black-friday"], [COLOR_WORDS["black"], COLOR_WORDS["gold"]], id="black-gold"
        ),
        pytest.param(PROMPTS["arabic"], [COLOR_PHRASES["deep blue"]], id="deep-blue"),
        pytest.param(
            PROMPTS["hindi"],
            [COLOR_WORDS["orange"], COLOR_WORDS["purple"]],
            id="orange-purple",
        ),
        pytest.param(
            'Bilingual store sign "Open / Abierto" bright green, playful',
            [COLOR_PHRASES["bright green"]],
            id="bright-green",
        ),
        pytest.param(PROMPTS["quote"], [COLOR_WORDS["cream"]], id="cream"),
        pytest.param(
            PROMPTS["coffee"],
            [
                MOOD_PALETTES["warm"].background,
                MOOD_PALETTES["warm"].accent,
                MOOD_PALETTES["warm"].accent2,
            ],
            id="warm-mood",
        ),
        pytest.param(PROMPTS["real-estate"], [], id="no-colour"),
    ],
)
def test_parse_maps_colour_words_to_palette_when_prompt_names_colours(
    icons: IconSet, prompt: str, palette: list[str]
) -> None:
    assert parse_prompt(prompt, icons).palette == palette


@pytest.mark.parametrize(
    ("prompt", "style"),
    [
        pytest.param(PROMPTS["coffee"], "minimal", id="minimal"),
        pytest.param(PROMPTS["yoga"], "pastel", id="pastel"),
        pytest.param(PROMPTS["jazz"], "retro", id="retro"),
        pytest.param(PROMPTS["quote"], "elegant", id="elegant"),
        pytest.param(PROMPTS["korean"], "bold", id="bold"),
        pytest.param(
            'Story 9:16 "Flash sale ends tonight" countdown "03:59:12", neon', "neon", id="neon"
        ),
        pytest.param(
            'Podcast cover "The Quiet Founders" episode art, square, moody dark with a microphone',
            "dark",
            id="moody-dark",
        ),
        pytest.param(
            'Newsletter header "Friday Digest #142" clean, corporate',
            "corporate",
            id="named-style-beats-synonym",
        ),
        pytest.param(
            'Job post "We\'re hiring: Senior Backend Engineer" "Remote · Full-time", playful',
            "playful",
            id="playful",
        ),
        pytest.param(PROMPTS["japanese"], None, id="no-style"),
    ],
)
def test_parse_maps_style_words_to_style_when_prompt_names_style(
    icons: IconSet, prompt: str, style: str | None
) -> None:
    assert parse_prompt(prompt, icons).style == style


@pytest.mark.parametrize(
    ("prompt", "font"),
    [
        pytest.param(PROMPTS["quote"], "serif", id="serif"),
        pytest.param(PROMPTS["korean"], "sans", id="sans-serif"),
        pytest.param(PROMPTS["coffee"], None, id="none"),
    ],
)
def test_parse_picks_font_when_prompt_names_family(
    icons: IconSet, prompt: str, font: str | None
) -> None:
    assert parse_prompt(prompt, icons).font == font


def test_parse_sets_layout_when_prompt_says_centered(icons: IconSet) -> None:
    assert parse_prompt(PROMPTS["yoga"], icons).layout == "centered"


@pytest.mark.parametrize(
    ("prompt", "ratio"),
    [
        pytest.param(PROMPTS["black-friday"], "16:9", id="written-16:9"),
        pytest.param('LinkedIn banner 4:1 "Data engineering for humans"', "4:1", id="written-4:1"),
        pytest.param('Podcast cover "The Quiet Founders" episode art, square', "1:1", id="square"),
        pytest.param(PROMPTS["coffee"], "4:5", id="poster"),
        pytest.param(
            'Story 9:16 "Flash sale ends tonight" countdown "03:59:12", neon', "9:16", id="story"
        ),
        pytest.param('Infographic "Sales" North 82, South 76', None, id="no-hint"),
        pytest.param(
            PROMPTS["history-timeline"],
            None,
            id="history-is-not-story",
        ),
    ],
)
def test_suggest_aspect_ratio_reads_prompt_when_shape_named(prompt: str, ratio: str | None) -> None:
    assert suggest_aspect_ratio(prompt) == ratio
