"""matplotlib figures drawn to SVG for the pages: the one charting library of the product (the
training report draws its PNGs with it too), so the web app serves no chart script.

matplotlib is imported on the first chart, not with the app: an API process that never shows a
page does not pay for it. Only the object-oriented API is used (a `Figure` saved as SVG, never
pyplot), because pages render in a thread pool and pyplot keeps one global list of figures.
matplotlib is still not thread-safe (its settings and caches are process-wide, and `STYLE` is
applied to those settings while a chart is drawn), so one lock lets a single thread draw at a
time; a chart takes tens of milliseconds, and the pages cache the charts whose data repeats.

The output is deterministic: the same data gives the same bytes (a fixed hash salt for the
ids, no date or creator in the metadata), with text kept as text (small, crisp at any
width, searchable).
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

STATE_COLOURS = {
    "potential": "#5b6270",
    "interested": "#1d6fb8",
    "intent": "#7c3aed",
    "deciding": "#b45309",
    "loyal": "#15803d",
}
"""One colour per state, app.css's `--<state>` (a test keeps them equal)."""
INK = "#1a1a1a"
MUTED = "#4a4a4a"
GRID = "#c8ccd2"
LINK = "#0b4f9c"

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "dealnode",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10.0,
    "text.color": INK,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": MUTED,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "lines.linewidth": 2.0,
    "lines.markersize": 7.0,
}
"""matplotlib settings for every chart: applied while a chart is drawn, never left behind."""
METADATA: dict[str, str | None] = {"Date": None, "Creator": None, "Format": None, "Type": None}
"""Nothing in the SVG that changes between two drawings of the same data."""

_drawing = threading.Lock()


def draw_svg(
    size: tuple[float, float],
    margins: tuple[float, float, float, float],
    draw: Callable[[Axes], None],
) -> str:
    """An SVG `data:` URI of a figure of `size` (width, height, inches) whose one axes, inset by
    `margins` (left, bottom, right, top, inches: fixed, as a layout engine costs several
    drawings), `draw` fills, drawn with `STYLE` under the drawing lock.

    A data: URI, which the pages' `img-src 'self' data:` allows, comes with the page: no second
    request, no second database read, no route to sign in to."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    (width, height), (left, bottom, right, top) = size, margins
    out = io.BytesIO()
    with _drawing, mpl.rc_context(STYLE):
        figure = Figure(figsize=size)
        figure.subplots_adjust(
            left=left / width, bottom=bottom / height, right=1 - right / width, top=1 - top / height
        )
        draw(figure.add_subplot())
        figure.savefig(out, format="svg", metadata=METADATA, transparent=True)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")
