"""Read the charts back out of a page: each `<img>`'s SVG, parsed, with its alt text, so a test
checks what the chart draws rather than how matplotlib spells it."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import unescape

SVG = "{http://www.w3.org/2000/svg}"
DATA_URI = "data:image/svg+xml;base64,"
IMG = re.compile(r'<img src="([^"]+)" alt="([^"]*)">')


@dataclass(frozen=True)
class Drawn:
    """A chart's SVG as the browser gets it."""

    svg: ET.Element
    alt: str

    def group(self, gid: str) -> ET.Element:
        """The element matplotlib wrote for the artist with this `gid`."""
        found = self.svg.find(f".//{SVG}g[@id='{gid}']")
        assert found is not None, f"no {gid} in the chart"
        return found

    def markers(self, gid: str) -> int:
        """How many markers the artist `gid` drew."""
        return len(self.group(gid).findall(f".//{SVG}use"))

    def vertices(self, gid: str) -> int:
        """How many points the line of the artist `gid` joins (its path's M and L)."""
        path = self.group(gid).find(f"{SVG}path")
        assert path is not None
        return len(re.findall(r"[ML] ", path.get("d", "")))

    def texts(self) -> list[str]:
        """Every text of the chart: tick labels, axis labels."""
        return [t.text or "" for t in self.svg.iter(f"{SVG}text")]


def drawn(src: str, alt: str = "") -> Drawn:
    """The chart of a `data:` URI."""
    assert src.startswith(DATA_URI)
    return Drawn(ET.fromstring(base64.b64decode(src.removeprefix(DATA_URI))), alt)


def charts_in(html: str) -> list[Drawn]:
    """Every chart of a page, in page order."""
    return [drawn(unescape(src), unescape(alt)) for src, alt in IMG.findall(html)]
