"""Horizontal bar charts drawn on the server as SVG: no script, nothing to load, prints as is.

A chart is a picture of a table that is always shown beside it, so the picture is named for
assistive technology (``role="img"``, labelled by its title and described by a sentence that
lists every bar) and the table is the accessible version. Every piece of text comes from the
caller and may come from users (a coordinator's name, a reason typed into a form), so all of it
is escaped here and nothing is ever written into the SVG unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 260  # the labels' column, left of the bars
BAR_SPACE = 290  # the longest bar; its value is written after it
ROW_HEIGHT = 30
BAR_HEIGHT = 18
PAD = 8
FONT_SIZE = 13  # px at full width: 28 characters fit the labels' column
MAX_LABEL = 28  # characters drawn; the full label is in the table and the description
BAR_COLOUR = "#1d4f91"  # kinflow.css --brand: 8.6:1 on white
INK = "#1b1b1b"
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,80}$")
# Characters XML 1.0 does not allow at all: dropped so the drawing stays well-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Bar:
    """One row of the chart: its label, the number drawn (None: no data) and how it reads."""

    label: str
    value: float | None
    text: str


def bar_lengths(values: Sequence[float | None], space: float = BAR_SPACE) -> list[float]:
    """Each bar's length, proportional to its value, the largest filling ``space``.

    No data, zero and negative values draw no bar (a bar chart of counts and durations has no
    left of zero); when nothing is above zero, nothing is drawn.
    """
    drawn = [v if v is not None and v > 0 else 0.0 for v in values]
    top = max(drawn, default=0.0)
    if top <= 0:
        return [0.0 for _ in drawn]
    return [round(space * v / top, 2) for v in drawn]


def _clean(text: str) -> str:
    return _NOT_XML.sub("", str(text))


def _short(label: str) -> str:
    label = " ".join(_clean(label).split())
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def describe(title: str, bars: Sequence[Bar]) -> str:
    """The sentence a screen reader hears for the picture: every bar with its value."""
    title = " ".join(_clean(title).split())
    if not bars:
        return f"{title}: no figures for this period."
    listed = "; ".join(f"{' '.join(_clean(b.label).split())}: {_clean(b.text)}" for b in bars)
    return f"Bar chart of {title}. {listed}."


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar]) -> Markup:
    """An SVG bar chart, one bar per row, labelled and valued in text; safe to put in a page.

    ``chart_id`` is used for the title and description ids, so it must be a plain identifier
    (the caller builds it from a measure's key, never from user input).
    """
    if not _ID.match(chart_id):
        raise ValueError(f"not a usable chart id: {chart_id!r}")
    rows = max(len(bars), 1)
    height = PAD * 2 + rows * ROW_HEIGHT
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg class="bar-chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{title_id}" aria-describedby="{desc_id}" focusable="false" '
        f'font-size="{FONT_SIZE}">',
        f'<title id="{title_id}">{escape(_clean(title))}</title>',
        f'<desc id="{desc_id}">{escape(describe(title, bars))}</desc>',
    ]
    if not bars:
        middle = PAD + ROW_HEIGHT / 2
        parts.append(
            f'<text x="{PAD}" y="{middle}" dominant-baseline="middle" fill="{INK}">'
            "No figures for this period.</text>"
        )
    lengths = bar_lengths([b.value for b in bars])
    for row, (bar, length) in enumerate(zip(bars, lengths, strict=True)):
        top = PAD + row * ROW_HEIGHT
        middle = top + ROW_HEIGHT / 2
        bar_top = middle - BAR_HEIGHT / 2
        parts.append(
            f'<text class="bar-label" x="{LABEL_WIDTH - PAD}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle" fill="{INK}">{escape(_short(bar.label))}</text>'
        )
        if length > 0:
            parts.append(
                f'<rect class="bar" x="{LABEL_WIDTH}" y="{bar_top}" width="{length}" '
                f'height="{BAR_HEIGHT}" fill="{BAR_COLOUR}"></rect>'
            )
        parts.append(
            f'<text class="bar-value" x="{LABEL_WIDTH + length + PAD}" y="{middle}" '
            f'dominant-baseline="middle" fill="{INK}">{escape(_clean(bar.text))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
