"""Both colour themes are readable: every pair of colours app.css draws meets WCAG 2.2 AA.

The stylesheet names its colours once, as variables of `:root` (the light theme) and of the
`prefers-color-scheme: dark` block; rules use only those variables. These tests read the
variables of each theme, compute the contrast ratio of every foreground drawn on every
background it sits on, and check that the rules draw no colour the table below does not know.
"""

import re
from pathlib import Path

import pytest

import xtablo

CSS_PATH = Path(xtablo.__file__).parent / "static" / "css" / "app.css"
TEXT = 4.5  # WCAG 1.4.3: normal-size text
UI = 3.0  # WCAG 1.4.11: boundaries of controls, focus indicators, state indicators

# (foreground, background, minimum, where a person sees it)
PAIRS = [
    ("text", "bg", TEXT, "text on the page"),
    ("text", "surface", TEXT, "text in cards, the header and fields"),
    ("text", "surface-2", TEXT, "column headings, flash messages, badges, plain buttons"),
    ("muted", "bg", TEXT, "tabs and hints on the page"),
    ("muted", "surface", TEXT, "meta lines, hints and 'Move…' links in cards"),
    ("muted", "surface-2", TEXT, "a column's card count"),
    ("accent", "bg", TEXT, "links on the page, the current tab's underline"),
    ("accent", "surface", TEXT, "links in cards and the header"),
    ("accent", "surface-2", TEXT, "links in flash messages"),
    ("accent-text", "accent", TEXT, "primary buttons"),
    ("danger-text", "danger", TEXT, "danger buttons"),
    ("danger", "bg", TEXT, "the danger link of the task page"),
    ("danger", "surface", TEXT, "error messages under fields, an invalid field's border"),
    ("control-border", "surface", UI, "the boundary of a text field or a select"),
    ("focus", "bg", UI, "the focus ring on the page"),
    ("focus", "surface", UI, "the focus ring in cards and the header"),
    ("focus", "surface-2", UI, "the focus ring in columns"),
]
THEMES = ["light", "dark"]
COLOUR_PROPERTIES = re.compile(r"^(color|background(-color)?|border(-\w+)*|outline(-color)?|box-shadow|"
                               r"text-decoration(-color)?|caret-color|accent-color|fill|stroke)$")
LITERAL_COLOUR = re.compile(r"#[0-9a-f]{3,8}\b|\b(rgba?|hsla?|hwb|lab|lch|oklab|oklch|color)\(|"
                            r"\b(white|black|red|green|blue|gray|grey|yellow|orange|purple|pink|silver)\b", re.I)


def stylesheet() -> str:
    return re.sub(r"/\*.*?\*/", "", CSS_PATH.read_text(), flags=re.S)


def declarations(block: str) -> dict[str, str]:
    return {name.strip(): value.strip() for name, value in re.findall(r"([\w-]+)\s*:\s*([^;]+);?", block)}


def theme_variables(css: str) -> dict[str, dict[str, str]]:
    """Each theme's custom properties, by name without the leading `--`: the dark theme is the
    light one with the dark block's values on top."""
    light = re.search(r"^:root\s*\{([^}]*)\}", css, re.M)
    dark = re.search(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)\s*\{\s*:root\s*\{([^}]*)\}", css)
    assert light and dark, "app.css has a :root block and a prefers-color-scheme: dark block"
    variables = {}
    for theme, match in (("light", light), ("dark", dark)):
        found = {name[2:]: value for name, value in declarations(match.group(1)).items() if name.startswith("--")}
        variables[theme] = variables.get("light", {}) | found
    return variables


def rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule, nested ones included, except the theme blocks."""
    found = []
    for selector, block in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        selector = " ".join(selector.split())
        if selector != ":root":
            found.append((selector, declarations(block)))
    return found


NAMED = {"white": "#ffffff", "black": "#000000"}


def hex_of(variables: dict[str, str], value: str) -> str:
    """A CSS colour value (`#rgb`, `#rrggbb`, white, black or `var(--name)`) as written in the theme."""
    while reference := re.fullmatch(r"var\(--([\w-]+)\)", value.strip()):
        value = variables[reference.group(1)]
    return NAMED.get(value.lower(), value)


def resolve(variables: dict[str, str], value: str) -> tuple[int, int, int]:
    value = hex_of(variables, value)
    match = re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", value)
    assert match, f"{value!r}: the themes use opaque #rgb or #rrggbb colours"
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(2 * digit for digit in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    lighter, darker = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_ratio_is_computed_as_wcag_defines_it() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1)
    # The figure: white on the dark theme's former danger colour.
    assert contrast((255, 255, 255), (0xFF, 0x6B, 0x5B)) == pytest.approx(2.8, abs=0.01)


@pytest.mark.parametrize("theme", THEMES)
def test_every_drawn_pair_of_colours_meets_wcag_aa(theme: str) -> None:
    variables = theme_variables(stylesheet())[theme]
    failing = []
    for foreground, background, minimum, where in PAIRS:
        missing = [f"--{name}" for name in (foreground, background) if name not in variables]
        if missing:
            failing.append(f"--{foreground} on --{background}: {', '.join(missing)} not defined ({where})")
            continue
        ratio = contrast(resolve(variables, f"var(--{foreground})"), resolve(variables, f"var(--{background})"))
        if ratio < minimum:
            failing.append(f"--{foreground} {variables[foreground]} on --{background} {variables[background]}: "
                           f"{ratio:.2f}:1 < {minimum}:1 ({where})")
    assert failing == [], f"{theme} theme:\n" + "\n".join(failing)


def test_rules_draw_colours_only_through_the_theme_variables() -> None:
    """A colour written into a rule escapes the table above, and the dark theme with it."""
    literal = [
        f"{selector} {{ {name}: {value} }}"
        for selector, block in rules(stylesheet())
        for name, value in block.items()
        if COLOUR_PROPERTIES.match(name) and LITERAL_COLOUR.search(re.sub(r"--[\w-]+", "", value))
    ]
    assert literal == []


@pytest.mark.parametrize("theme", THEMES)
def test_every_rule_that_sets_text_and_background_is_readable(theme: str) -> None:
    """Buttons and the like name both colours in one rule: check exactly what each one draws."""
    variables = theme_variables(stylesheet())[theme]
    failing = []
    for selector, block in rules(stylesheet()):
        text, background = block.get("color"), block.get("background", block.get("background-color"))
        if text and background and not {text, background} & {"none", "transparent", "inherit"}:
            ratio = contrast(resolve(variables, text), resolve(variables, background))
            if ratio < TEXT:
                failing.append(f"{selector}: {text} = {hex_of(variables, text)} on {background} = "
                               f"{hex_of(variables, background)}: {ratio:.2f}:1 < {TEXT}:1")
    assert failing == [], f"{theme} theme:\n" + "\n".join(failing)


def test_the_focus_ring_and_field_borders_use_the_checked_variables() -> None:
    css = stylesheet()
    by_selector = dict(rules(css))
    assert "var(--focus)" in by_selector[":focus-visible"]["outline"]
    assert "var(--control-border)" in by_selector["input, select, textarea"]["border"]
