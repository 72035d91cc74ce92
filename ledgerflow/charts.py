"""Small bar charts for the admin dashboard, drawn on the server as inline SVG.

No script and no external file: the geometry is computed here from a few numbers and the
template `admin/includes/bar_chart.html` writes the `<rect>`s, so the dashboard works offline
and under a strict Content-Security-Policy. Values are plain integers (minor units, counts);
labels are already formatted.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 480, 120  # viewBox units; the SVG scales to its card's width, keeping its shape
TOP, BOTTOM, LEFT = 14, 18, 4  # room for the maximum's label and the axis labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # under the bar (may be "")
    title: str  # tooltip: the bar's label and value, spelled out

    @property
    def cx(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass
class BarChart:
    name: str  # id suffix and accessible name
    bars: list[Bar]
    max_label: str  # the largest value, written at the top left
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    label_y: float = HEIGHT - 4
    caption: str = ""  # what the chart is of, e.g. its asset
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.total == 0


def bar_chart(
    name: str,
    values: Sequence[int],
    *,
    labels: Sequence[str],
    titles: Sequence[str],
    max_label: str,
    width: int = WIDTH,
) -> BarChart:
    """Bars scaled to the largest value; a non-zero value is at least 1 unit tall. `width`:
    narrower for a chart in a narrow card, so its text stays legible."""
    top = max(values, default=0)
    slot = (width - LEFT) / max(len(values), 1)
    plot = HEIGHT - TOP - BOTTOM
    bars = []
    for index, (value, label, title) in enumerate(zip(values, labels, titles, strict=True)):
        height = 0.0 if top == 0 else max(plot * value / top, 1.0 if value else 0.0)
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.1, 2),
                y=round(HEIGHT - BOTTOM - height, 2),
                width=round(slot * 0.8, 2),
                height=round(height, 2),
                label=label,
                title=title,
            )
        )
    return BarChart(name=name, bars=bars, max_label=max_label, total=sum(values), width=width)
