"""The tutorial's figure of the network unrolled in time, drawn as plain SVG for ``--svg``.

Per step t, bottom to top: the word x_t, each chain's state s_t as a strip of coloured cells
(one per unit), and o_t with its top tag; arrows U (input to state), W (state to the next
state) and V (state to output), each label its own text element. For ``backprop`` the error
flows back in red: down from each o_t and back along each W arrow, each arrow as wide and as
opaque as the error it carries is large. Built from the plain data of ``explain.unroll`` and
``backprop.backprop``; written by hand, so it needs nothing beyond the standard library.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from .errors import printable

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"  # families every system has one of
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
COL = 180  # horizontal distance between two steps
PER_ROW, CELL = 16, 7  # a state's units: 16 cells a row, 7 px each
BOX_W, BOX_H = 116, 44
INK, ERROR = "#333333", "#c0392b"
MAX_ERROR_WIDTH = 10.0


def _text(x: float, y: float, text: str, size: int = 13, anchor: str = "middle", **attrs) -> str:
    """One text element; the text is shown as a table shows it (control characters as escapes),
    then escaped for XML."""
    family = attrs.pop("family", None) or FONT
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-family="{family}" font-size="{size}" '
            f'text-anchor="{anchor}"{extra}>{escape(printable(text))}</text>')


def _arrow(x1: float, y1: float, x2: float, y2: float, width: float = 1.4, colour: str = INK,
           opacity: float = 1.0, cls: str = "arrow", **attrs) -> str:
    """An arrow from (x1, y1) to (x2, y2) as one polygon, its head growing with its width (a
    marker would scale with the stroke and swallow a short thick arrow)."""
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length  # along the arrow
    nx, ny = -uy, ux  # across it
    head = min(length * 0.6, 7.0 + 1.2 * width)
    half, wing = width / 2, width / 2 + 3.5
    bx, by = x2 - ux * head, y2 - uy * head  # where the head begins
    points = [(x1 + nx * half, y1 + ny * half), (bx + nx * half, by + ny * half), (bx + nx * wing, by + ny * wing),
              (x2, y2), (bx - nx * wing, by - ny * wing), (bx - nx * half, by - ny * half),
              (x1 - nx * half, y1 - ny * half)]
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polygon class="{cls}" points="{path}" fill="{colour}" fill-opacity="{opacity:.2f}"{extra}/>'


def _cell_colour(v: float) -> str:
    """White at 0, red towards +1, blue towards -1 (tanh keeps a state's units in [-1, 1])."""
    a = min(1.0, abs(v))
    r, g, b = (192, 57, 43) if v >= 0 else (41, 98, 178)
    return "#%02x%02x%02x" % tuple(round(255 + (c - 255) * a) for c in (r, g, b))


def _strip(x: float, y: float, values: list[float]) -> list[str]:
    """A state as rows of cells, centred on x, from y down."""
    left = x - PER_ROW * CELL / 2
    out = [f'<g class="state">']
    for i, v in enumerate(values):
        cx, cy = left + (i % PER_ROW) * CELL, y + (i // PER_ROW) * CELL
        out.append(f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{CELL}" height="{CELL}" fill="{_cell_colour(v)}" '
                   f'stroke="#d0d0d0" stroke-width="0.4"/>')
    out.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="{PER_ROW * CELL}" '
               f'height="{_rows(len(values)) * CELL}" fill="none" stroke="{INK}" stroke-width="0.8"/>')
    out.append("</g>")
    return out


def _rows(n: int) -> int:
    return max(1, math.ceil(n / PER_ROW))


def _box(x: float, y: float, lines: list[tuple[str, dict]]) -> list[str]:
    """A rounded box centred on x, from y down, holding one or two lines of text."""
    out = [f'<rect x="{x - BOX_W / 2:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="8" '
           f'fill="#f7f7f2" stroke="{INK}" stroke-width="1"/>']
    first = y + (BOX_H / 2 + 5 if len(lines) == 1 else 18)
    for i, (line, attrs) in enumerate(lines):
        out.append(_text(x, first + 17 * i, line, **{"size": 13, **attrs}))
    return out


def _layout(chains: list[str], hidden: int, title_lines: int) -> dict:
    """The y of each part, top to bottom: title, o_t, the chains (the top layer first), x_t."""
    y = {"title": 26, "o": 34 + 16 * title_lines}
    y["chains"] = {}
    top = y["o"] + BOX_H + 46
    for name in reversed(chains):  # drawn top-down: the last layer nearest the output
        y["chains"][name] = top + 14  # a name above each strip
        top += 14 + _rows(hidden) * CELL + 40
    y["x"] = top + 6
    y["end"] = y["x"] + BOX_H + 20
    return y


def _label(name: str, letter: str) -> str:
    """The array of a chain: W for s, W_bwd for s_bwd, W2 for s2, ..."""
    return letter + name[1:]


def _network(steps: list[dict], chains: list[str], y: dict, figure: list[str]) -> dict:
    """x_t, the states, o_t and the arrows U, W, V between them; returns where each state's strip is."""
    hidden = len(steps[0]["s"][chains[0]])
    height = _rows(hidden) * CELL
    half = PER_ROW * CELL / 2
    place = {}
    for i, step in enumerate(steps):
        cx = 60 + half + i * COL
        bottom_chain = chains[0]
        figure += _box(cx, y["x"], [(step["word"], {"font_weight": "bold"})] +
                       ([("unknown", {"size": 11, "fill": "#b7791f"})] if not step.get("known", True) else []))
        figure.append(_text(cx - BOX_W / 2 - 4, y["x"] + BOX_H / 2 + 4, f"x_{step['t']}", size=11, anchor="end"))
        figure.append(_arrow(cx, y["x"] - 2, cx, y["chains"][bottom_chain] + height + 2))
        figure.append(_text(cx + 6, (y["x"] + y["chains"][bottom_chain] + height) / 2 + 4, "U", anchor="start",
                            font_style="italic", cls="label"))
        for k, name in enumerate(chains):
            top = y["chains"][name]
            figure += _strip(cx, top, step["s"][name])
            figure.append(_text(cx - half, top - 4, f"{name}_{step['t']}", size=11, anchor="start"))
            place[name, i] = (cx, top)
            if k and name.removesuffix("_bwd") != chains[k - 1].removesuffix("_bwd"):  # a new layer: its U from below
                below = y["chains"][chains[k - 1]]
                figure.append(_arrow(cx, below - 2, cx, top + height + 2))
                figure.append(_text(cx + 6, (below + top + height) / 2 + 4, _label(name.removesuffix("_bwd"), "U"),
                                    anchor="start", font_style="italic", cls="label"))
        top_state = y["chains"][chains[-1]]
        figure.append(_arrow(cx, top_state - 16, cx, y["o"] + BOX_H + 2))
        figure.append(_text(cx + 6, (top_state - 16 + y["o"] + BOX_H) / 2 + 4, "V", anchor="start",
                            font_style="italic", cls="label"))
    for name in chains:
        backward = name.endswith("_bwd")
        for i in range(len(steps) - 1):
            (x1, top), (x2, _) = place[name, i], place[name, i + 1]
            a, b = (x1 + half + 3, x2 - half - 3) if not backward else (x2 - half - 3, x1 + half + 3)
            figure.append(_arrow(a, top + height * 0.35, b, top + height * 0.35))
            figure.append(_text((x1 + x2) / 2, top + height * 0.35 - 5, _label(name, "W"), font_style="italic",
                                cls="label"))
    return place


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}">',
        f"<title>{escape(printable(title))}</title>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        *body, "</svg>", ""])


def _width(n_steps: int, formula: list[str]) -> float:
    return max(60 + n_steps * COL + 20, 40 + 7.9 * max(map(len, formula)))


def unroll_figure(data: dict) -> str:
    """The network unrolled over the sentence of ``explain.unroll``'s data."""
    steps, chains = data["steps"], list(data["steps"][0]["s"])
    y = _layout(chains, len(steps[0]["s"][chains[0]]), len(data["formula"]))
    body = _formula(data, y)
    _network(steps, chains, y, body)
    for i, step in enumerate(steps):
        cx = 60 + PER_ROW * CELL / 2 + i * COL
        body += _box(cx, y["o"], [(f"{step['tag']} {step['top'][0]['p']:.2f}", {"font_weight": "bold"})])
        body.append(_text(cx - BOX_W / 2 - 4, y["o"] + BOX_H / 2 + 4, f"o_{step['t']}", size=11, anchor="end"))
    note = "each cell a unit of s_t: red +, blue -, white 0"
    if data.get("scale_w") is not None:
        note += f"; every W multiplied by {data['scale_w']:g}"
    body.append(_text(20, y["end"], note, size=11, anchor="start", fill="#555555"))
    title = f"{' '.join(data['words'])}: the network unrolled in time"
    return _svg(_width(len(steps), data["formula"]), y["end"] + 12, title, body)


def _formula(data: dict, y: dict) -> list[str]:
    """The recurrence in the tutorial's notation, each line's array sizes beside it in grey."""
    out = []
    for i, line in enumerate(data["formula"]):
        formula, _, sizes = line.partition("    ")
        text = _text(20, y["title"] + 18 * i, formula, size=13, anchor="start", family=MONO)
        if sizes:
            text = text.replace("</text>", f'<tspan dx="22" fill="#777777">{escape(printable(sizes))}</tspan></text>')
        out.append(text)
    return out


def backprop_figure(data: dict) -> str:
    """The unrolled network of ``backprop.backprop``'s data with its error flowing back: from
    each o_t down into the top layer, and along every W arrow back to the step before (after,
    for a _bwd chain), each arrow's width and opacity in proportion to the norm it carries."""
    steps, chains = data["steps"], [c["name"] for c in data["chains"]]
    tops = [c["name"] for c in data["chains"] if c["top"]]
    y = _layout(chains, len(steps[0]["s"][chains[0]]), len(data["formula"]))
    body = _formula(data, y)
    place = _network(steps, chains, y, body)
    for i, step in enumerate(steps):
        cx = 60 + PER_ROW * CELL / 2 + i * COL
        wrong = step["predicted"] != step["target"]
        body += _box(cx, y["o"], [(f"{step['predicted']} {step['p_predicted']:.2f}", {"font_weight": "bold"}),
                                  (f"y: {step['target']} {step['p_target']:.2g}",
                                   {"size": 11, "fill": ERROR if wrong else "#555555"})])
        body.append(_text(cx - BOX_W / 2 - 4, y["o"] + BOX_H / 2 + 4, f"o_{step['t']}", size=11, anchor="end"))
    body += _errors(data, place, y, tops)
    largest = _largest(data)
    body.append(_text(20, y["end"], f"red: the error dL/ds going back, each arrow as wide as its norm "
                      f"(widest {largest:.3g}); L = {data['loss']:.4g}"
                      + (f"; every W multiplied by {data['scale_w']:g}" if data.get("scale_w") is not None else ""),
                      size=11, anchor="start", fill="#555555"))
    title = f"{' '.join(data['words'])}: backpropagation through time"
    return _svg(_width(len(steps), data["formula"]), y["end"] + 12, title, body)


def _largest(data: dict) -> float:
    """The largest norm an error arrow carries: the scale of their widths."""
    tops = [c["name"] for c in data["chains"] if c["top"]]
    down = [math.sqrt(sum(s["norms"][n]["above_norm"] ** 2 for n in tops)) for s in data["steps"]]
    back = [n["through_norm"] for s in data["steps"] for n in s["norms"].values()]
    return max(down + back, default=0.0) or 1.0


def _errors(data: dict, place: dict, y: dict, tops: list[str]) -> list[str]:
    """The red arrows: 'from this step' down from o_t into each top-layer chain, and 'from the
    next step' back along each W; width and opacity in proportion to the norm carried."""
    steps = data["steps"]
    largest = _largest(data)
    height = _rows(len(steps[0]["s"][tops[0]])) * CELL
    half = PER_ROW * CELL / 2
    out = []

    def arrow(x1, y1, x2, y2, v, kind):
        share = v / largest
        return _arrow(x1, y1, x2, y2, width=0.6 + (MAX_ERROR_WIDTH - 0.6) * share, colour=ERROR,
                      opacity=0.3 + 0.7 * share, cls=f"error {kind}", data_norm=f"{v:.6g}")

    for i, step in enumerate(steps):
        # What o_t sends down into the top layer: one vector, V^T (o_t - y_t), split between
        # the top layer's chains when it has two directions.
        v = math.sqrt(sum(step["norms"][name]["above_norm"] ** 2 for name in tops))
        cx = place[tops[-1], i][0]
        if v > 0:
            start, end = y["o"] + BOX_H + 2, y["chains"][tops[-1]] - 16
            out.append(arrow(cx - 24, start, cx - 24, end, v, "from-output"))
            out.append(_text(cx - 32, (start + end) / 2 + 4, f"{v:.2g}", size=10, anchor="end", fill=ERROR))
        for name, n in step["norms"].items():
            v = n["through_norm"]
            nxt = i - 1 if name.endswith("_bwd") else i + 1
            if v <= 0 or not 0 <= nxt < len(steps):
                continue
            (x1, top), (x2, _) = place[name, nxt], place[name, i]
            sign = 1 if x1 > x2 else -1
            level = top + height * 0.8
            out.append(arrow(x1 - sign * (half + 3), level, x2 + sign * (half + 3), level, v, "through-w"))
            out.append(_text((x1 + x2) / 2, level + MAX_ERROR_WIDTH / 2 + 12, f"{v:.2g}", size=10, fill=ERROR))
    return out
