"""Charts as inline SVG, drawn here: the monthly report's pictures, in the HTML and in the PDF alike.

No plotting library: a bar chart is a few rectangles, and drawing them here keeps the PDF and the page
identical, offline, and free of anything from outside. Every label is escaped (markupsafe): the labels are
our own category names, but nothing reaches markup unescaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

#: The GOV.UK palette's blue, green, red, yellow and grey (the manager's pages use the same).
BLUE, GREEN, RED, YELLOW, GREY, BLACK = "#1d70b8", "#00703c", "#d4351c", "#ffdd00", "#b1b4b6", "#0b0c0c"
FONT = "font-family='Helvetica, Arial, sans-serif'"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def bars(title: str, items: Sequence[tuple[str, float]], *, unit: str = "", maximum: float | None = None,
         colour: str = BLUE, width: int = 520, target: float | None = None, target_label: str = "") -> Markup:
    """A horizontal bar chart: one labelled bar per item, its value at its end; `target` draws a line."""
    row, label_w, top = 24, 170, 30
    height = top + row * max(len(items), 1) + 12
    plot_w = width - label_w - 60
    top_value = maximum if maximum is not None else max([v for _, v in items] + [target or 0, 1])
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='16' {FONT} font-size='14' font-weight='bold' fill='{BLACK}'>{escape(title)}</text>"]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = 0 if top_value == 0 else plot_w * value / top_value
        parts.append(f"<text x='{label_w - 6}' y='{y + 15}' {FONT} font-size='12' text-anchor='end' "
                     f"fill='{BLACK}'>{escape(label)}</text>")
        parts.append(f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row - 8}' fill='{colour}'/>")
        parts.append(f"<text x='{label_w + w + 5:.1f}' y='{y + 15}' {FONT} font-size='12' fill='{BLACK}'>"
                     f"{escape(_num(value))}{escape(unit)}</text>")
    if not items:
        parts.append(f"<text x='{label_w}' y='{top + 15}' {FONT} font-size='12' fill='{BLACK}'>none</text>")
    if target is not None and top_value:
        x = label_w + plot_w * target / top_value
        parts.append(f"<line x1='{x:.1f}' y1='{top - 4}' x2='{x:.1f}' y2='{height - 8}' stroke='{RED}' "
                     "stroke-width='2' stroke-dasharray='4 3'/>")
        if target_label:
            parts.append(f"<text x='{x:.1f}' y='{top - 6}' {FONT} font-size='10' text-anchor='middle' "
                         f"fill='{RED}'>{escape(target_label)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: str, items: Sequence[tuple[str, float]], *, colour: str = BLUE, width: int = 520,
            highlight: int | None = None) -> Markup:
    """A column chart over time (e.g. cases opened in each of the last twelve months); the column at
    `highlight` (the report's own month) in a darker colour."""
    height, top, bottom = 200, 30, 36
    plot_h = height - top - bottom
    n = max(len(items), 1)
    slot = (width - 20) / n
    top_value = max([v for _, v in items] + [1])
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='16' {FONT} font-size='14' font-weight='bold' fill='{BLACK}'>{escape(title)}</text>",
             f"<line x1='10' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' stroke='{GREY}'/>"]
    for i, (label, value) in enumerate(items):
        h = plot_h * value / top_value
        x = 10 + i * slot + slot * 0.15
        fill = BLACK if highlight == i else colour
        parts.append(f"<rect x='{x:.1f}' y='{top + plot_h - h:.1f}' width='{slot * 0.7:.1f}' height='{h:.1f}' "
                     f"fill='{fill}'/>")
        parts.append(f"<text x='{x + slot * 0.35:.1f}' y='{top + plot_h - h - 3:.1f}' {FONT} font-size='11' "
                     f"text-anchor='middle' fill='{BLACK}'>{escape(_num(value))}</text>")
        parts.append(f"<text x='{x + slot * 0.35:.1f}' y='{top + plot_h + 14}' {FONT} font-size='10' "
                     f"text-anchor='middle' fill='{BLACK}'>{escape(label)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked(title: str, parts_: Sequence[tuple[str, float, str]], *, width: int = 520) -> Markup:
    """One bar split into parts (label, value, colour), with a legend: e.g. the survey's answers."""
    total = sum(v for _, v, _ in parts_)
    height = 30 + 28 + 18 * len(parts_)
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
           f"<text x='0' y='16' {FONT} font-size='14' font-weight='bold' fill='{BLACK}'>{escape(title)}</text>"]
    x = 0.0
    for _label, value, colour in parts_:
        w = 0 if total == 0 else (width - 2) * value / total
        out.append(f"<rect x='{x:.1f}' y='26' width='{w:.1f}' height='22' fill='{colour}'/>")
        x += w
    if total == 0:
        out.append(f"<rect x='0' y='26' width='{width - 2}' height='22' fill='none' stroke='{GREY}'/>"
                   f"<text x='8' y='41' {FONT} font-size='12' fill='{BLACK}'>no answers</text>")
    for i, (label, value, colour) in enumerate(parts_):
        y = 58 + 18 * i
        out.append(f"<rect x='0' y='{y}' width='12' height='12' fill='{colour}'/>"
                   f"<text x='18' y='{y + 10}' {FONT} font-size='11' fill='{BLACK}'>{escape(label)}: "
                   f"{escape(_num(value))}</text>")
    out.append("</svg>")
    return Markup("".join(out))
