"""The stylesheet's colours keep the contrast WCAG 2.1 asks for: 4.5:1 for text, 3:1 for the
focus ring and chart lines against the page.

Read from `app.css` itself, so a colour changed there is checked here.
"""

from __future__ import annotations

import re

import pytest

from app.web.templating import STATIC_DIR
from training.features import STATES

TEXT = 4.5
"""WCAG 2.1 AA, normal-size text (1.4.3)."""
GRAPHICS = 3.0
"""WCAG 2.1 AA, user-interface components and graphical objects (1.4.11)."""


def _colours() -> dict[str, str]:
    css = (STATIC_DIR / "app.css").read_text()
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))


def _luminance(colour: str) -> float:
    """Relative luminance of a `#rrggbb` colour, as WCAG defines it."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two colours, 1 to 21."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_ratio_is_wcags_on_known_pairs() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#123456", "#123456") == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["ink", "muted", "link", "bad", *STATES])
@pytest.mark.parametrize("background", ["paper", "band"])
def test_text_colours_read_on_the_page_and_on_bands(name: str, background: str) -> None:
    colours = _colours()
    assert contrast(colours[name], colours[background]) >= TEXT, (name, background)


def test_the_focus_ring_and_table_rules_stand_out_enough() -> None:
    colours = _colours()
    assert contrast(colours["focus"], colours["paper"]) >= GRAPHICS
    assert contrast(colours["muted"], colours["paper"]) >= GRAPHICS  # form control borders
