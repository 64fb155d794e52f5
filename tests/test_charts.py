"""The server-drawn SVG bar charts of the reports page: honest lengths, named for screen
readers, and never a way to put markup or script into the page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from webapp.charts import BAR_SPACE, MAX_LABEL, Bar, bar_chart, bar_lengths, describe

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    """The chart as XML: it must be well-formed, whatever text went into it."""
    return ET.fromstring(str(markup))


def texts(svg: ET.Element, kind: str) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text") if t.get("class") == kind]


def widths(svg: ET.Element) -> list[float]:
    return [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]


def test_bars_are_proportional_to_their_values_the_largest_filling_the_space():
    assert bar_lengths([10, 5, 2.5], space=200) == [200.0, 100.0, 50.0]
    svg = parsed(bar_chart("c", "Referrals", [Bar("Received", 12, "12"), Bar("Declined", 3, "3")]))
    assert widths(svg) == [BAR_SPACE, BAR_SPACE / 4]


def test_zero_none_and_negative_values_draw_no_bar_but_keep_their_label_and_value():
    assert bar_lengths([0, None, -4, 8], space=100) == [0.0, 0.0, 0.0, 100.0]
    assert bar_lengths([0, 0], space=100) == [0.0, 0.0]
    bars = [Bar("Held", 0, "0"), Bar("Planned", None, "no data")]
    svg = parsed(bar_chart("c", "Conferences", bars))
    assert widths(svg) == []
    assert texts(svg, "bar-label") == ["Held", "Planned"]
    assert texts(svg, "bar-value") == ["0", "no data"]


def test_an_empty_chart_says_there_are_no_figures():
    svg = parsed(bar_chart("c", "Declines", []))
    assert widths(svg) == []
    assert "No figures for this period." in "".join(svg.itertext())
    assert svg.find(f"{SVG}desc").text == "Declines: no figures for this period."


def test_the_chart_is_a_named_picture_whose_description_lists_every_bar():
    svg = parsed(bar_chart("chart-referrals", "Referrals", [Bar("Received", 3, "3")]))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-referrals-title"
    assert svg.get("aria-describedby") == "chart-referrals-desc"
    assert svg.find(f"{SVG}title").get("id") == "chart-referrals-title"
    assert svg.find(f"{SVG}title").text == "Referrals"
    assert svg.find(f"{SVG}desc").get("id") == "chart-referrals-desc"
    assert svg.find(f"{SVG}desc").text == "Bar chart of Referrals. Received: 3."


def test_long_labels_are_shortened_on_the_picture_but_whole_in_the_description():
    label = "Another service would suit the family better & sooner"
    svg = parsed(bar_chart("c", "Declines", [Bar(label, 2, "2")]))
    [drawn] = texts(svg, "bar-label")
    assert len(drawn) <= MAX_LABEL
    assert drawn.endswith("…") and label.startswith(drawn[:-1])
    assert label in svg.find(f"{SVG}desc").text


@pytest.mark.parametrize(
    "text",
    [
        '</text><script>alert("x")</script>',
        "<foreignObject><iframe src='javascript:alert(1)'/></foreignObject>",
        '" onload="alert(1)',
        "Ruth & Jo's \x01family\x0b",
    ],
)
def test_no_user_text_reaches_the_svg_unescaped(text):
    markup = bar_chart("c", text, [Bar(text, 1, text)])
    svg = parsed(markup)
    elements = {element.tag for element in svg.iter()}
    assert elements <= {f"{SVG}{tag}" for tag in ("svg", "title", "desc", "text", "rect")}
    assert all(not name.startswith("on") for e in svg.iter() for name in e.attrib)
    clean = text.replace("\x01", "").replace("\x0b", "")
    assert svg.find(f"{SVG}title").text == clean
    assert texts(svg, "bar-value") == [clean]
    assert "<script" not in markup and "<iframe" not in markup


def test_a_chart_id_must_be_a_plain_identifier():
    with pytest.raises(ValueError):
        bar_chart('x" onload="alert(1)', "T", [])


def test_the_description_collapses_line_breaks_in_labels():
    assert describe("T", [Bar("Two\nlines", 1, "1")]) == "Bar chart of T. Two lines: 1."
