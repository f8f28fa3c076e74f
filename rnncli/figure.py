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
COL_TWO = 250  # the same with two-direction layers: room for the arrows that cross between strips
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


STAGGER = 30  # between the two strips of a two-direction layer: s_bwd above right, s below left
SPREAD = 36  # how far each strip of a two-direction layer sits from the column's middle
LEFT = 60  # the first column's left margin, room for the labels x_t, o_t


def _layers(chains: list[str]) -> list[list[str]]:
    """The chains grouped by layer, bottom first: ["s", "s_bwd", "s2"] -> [["s", "s_bwd"], ["s2"]]."""
    layers: list[list[str]] = []
    for name in chains:
        if layers and name.removesuffix("_bwd") == layers[-1][0].removesuffix("_bwd"):
            layers[-1].append(name)
        else:
            layers.append([name])
    return layers


def _layout(chains: list[str], hidden: int, title_lines: int) -> dict:
    """Where each part is, top to bottom: title, o_t, the layers (the top one first), x_t. Each
    chain's strip has a top and an offset from its column's middle: a two-direction layer has
    its backward strip above and to the right of its forward one, so that each W arrow runs
    between its own strips with nothing in its way, and U and V reach both strips."""
    height = max(_rows(hidden) * CELL, 4 * CELL)  # a thin strip keeps room for the arrows below it
    two = any(len(layer) == 2 for layer in _layers(chains))
    y = {"title": 26, "o": 34 + 16 * title_lines, "chains": {}, "col": COL_TWO if two else COL}
    top = y["o"] + BOX_H + 46
    for layer in reversed(_layers(chains)):  # drawn top-down: the last layer nearest the output
        if len(layer) == 2:
            forward, backward = layer
            y["chains"][backward] = (SPREAD, top + 14)
            y["chains"][forward] = (-SPREAD, top + 14 + height + STAGGER)
            top += 14 + 2 * height + STAGGER + 40
        else:
            y["chains"][layer[0]] = (0, top + 14)
            top += 14 + height + 40
    y["x"] = top + 6
    y["end"] = y["x"] + BOX_H + 20
    return y


def _stacked_note(chains: list[str]) -> str:
    """What the arrows between two-direction layers leave out: each chain above reads both below."""
    layers = _layers(chains)
    if len(layers) < 2 or len(layers[0]) < 2:
        return ""
    return "; a layer above the first reads both strips below it, [s_t ; s_bwd_t]: drawn from the one in line"


def _label(name: str, letter: str) -> str:
    """The array of a chain: W for s, W_bwd for s_bwd, W2 for s2, ..."""
    return letter + name[1:]


def _column(i: int, y: dict) -> float:
    return LEFT + PER_ROW * CELL / 2 + i * y["col"]


def _word(step: dict) -> str:
    """A word as its box can hold it: about 13 letters, the rest as an ellipsis."""
    word = printable(step["word"])
    return word if len(word) <= 13 else word[:12] + "\u2026"


def _below(y: dict, layer: list[str], dx: float) -> float:
    """The top of the strip that feeds a strip at offset ``dx`` from the layer below: the one in
    line with it, else the layer's highest (U2 reads the whole layer below, [s_t ; s_bwd_t])."""
    tops = [top for d, top in (y["chains"][n] for n in layer) if d == dx]
    return min(tops) if tops else min(y["chains"][n][1] for n in layer)


def _network(steps: list[dict], chains: list[str], y: dict, figure: list[str]) -> dict:
    """x_t, the states, o_t and the arrows U, W, V between them; returns where each state's strip is."""
    hidden = len(steps[0]["s"][chains[0]])
    height = _rows(hidden) * CELL
    half = PER_ROW * CELL / 2
    layers = _layers(chains)
    place = {}
    for i, step in enumerate(steps):
        cx = _column(i, y)
        figure += _box(cx, y["x"], [(_word(step), {"font_weight": "bold"})] +
                       ([("unknown", {"size": 11, "fill": "#b7791f"})] if not step.get("known", True) else []))
        figure.append(_text(cx - BOX_W / 2 - 4, y["x"] + BOX_H / 2 + 4, f"x_{step['t']}", size=11, anchor="end"))
        for name in chains:
            dx, top = y["chains"][name]
            figure += _strip(cx + dx, top, step["s"][name])
            figure.append(_text(cx + dx - half, top - 4, f"{name}_{step['t']}", size=11, anchor="start"))
            place[name, i] = (cx + dx, top)
        for k, layer in enumerate(layers):  # U into each strip: from x_t, or from the layer below
            for name in layer:
                dx, top = y["chains"][name]
                start = y["x"] - 2 if k == 0 else _below(y, layers[k - 1], dx) - 16
                figure.append(_arrow(cx + dx, start, cx + dx, top + height + 2))
                # Beside the arrow, on the outer side of a two-direction layer's pair; over x_t near
                # the arrow's foot, clear of the other chain's strips it passes
                label_y = start - 12 if dx > 0 or (dx and k == 0) else (start + top + height) / 2 + 4
                figure.append(_text(cx + dx + (-6 if dx < 0 else 6), label_y, _label(name, "U"),
                                    anchor="end" if dx < 0 else "start", font_style="italic", cls="label"))
        for name in layers[-1]:  # V from every strip of the top layer
            dx, top = y["chains"][name]
            figure.append(_arrow(cx + dx, top - 16, cx + dx, y["o"] + BOX_H + 2))
        figure.append(_text(cx + 6, y["o"] + BOX_H + 26, "V", anchor="start", font_style="italic", cls="label"))
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


def _width(n_steps: int, y: dict, formula: list[str], note: str) -> float:
    """Room for the columns, the formula (13 px monospace) and the note below (11 px)."""
    return max(LEFT + n_steps * y["col"] + 20, 40 + 7.9 * max(map(len, formula)), 30 + 6.6 * len(note))


def unroll_figure(data: dict) -> str:
    """The network unrolled over the sentence of ``explain.unroll``'s data."""
    steps, chains = data["steps"], list(data["steps"][0]["s"])
    y = _layout(chains, len(steps[0]["s"][chains[0]]), len(data["formula"]))
    body = _formula(data, y)
    _network(steps, chains, y, body)
    for i, step in enumerate(steps):
        cx = _column(i, y)
        body += _box(cx, y["o"], [(f"{step['tag']} {step['top'][0]['p']:.2f}", {"font_weight": "bold"})])
        body.append(_text(cx - BOX_W / 2 - 4, y["o"] + BOX_H / 2 + 4, f"o_{step['t']}", size=11, anchor="end"))
    note = "each cell a unit of s_t: red +, blue -, white 0" + _stacked_note(chains)
    if data.get("scale_w") is not None:
        note += f"; every W multiplied by {data['scale_w']:g}"
    body.append(_text(20, y["end"], note, size=11, anchor="start", fill="#555555"))
    title = f"{' '.join(data['words'])}: the network unrolled in time"
    return _svg(_width(len(steps), y, data["formula"], note), y["end"] + 12, title, body)


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
        cx = _column(i, y)
        wrong = step["predicted"] != step["target"]
        body += _box(cx, y["o"], [(f"{step['predicted']} {step['p_predicted']:.2f}", {"font_weight": "bold"}),
                                  (f"y: {step['target']} {step['p_target']:.2g}",
                                   {"size": 11, "fill": ERROR if wrong else "#555555"})])
        body.append(_text(cx - BOX_W / 2 - 4, y["o"] + BOX_H / 2 + 4, f"o_{step['t']}", size=11, anchor="end"))
    body += _errors(data, place, y, tops)
    note = (f"red: the error dL/ds going back, each arrow as wide as its norm (widest {_largest(data):.3g}); "
            f"L = {data['loss']:.4g}" + (f"; every W multiplied by {data['scale_w']:g}"
                                         if data.get("scale_w") is not None else "") + _stacked_note(chains))
    body.append(_text(20, y["end"], note, size=11, anchor="start", fill="#555555"))
    title = f"{' '.join(data['words'])}: backpropagation through time"
    return _svg(_width(len(steps), y, data["formula"], note), y["end"] + 12, title, body)


def _largest(data: dict) -> float:
    """The largest norm an error arrow carries: the scale of their widths."""
    norms = [v for s in data["steps"] for n in s["norms"].values() for v in (n["above_norm"], n["through_norm"])]
    return max(norms, default=0.0) or 1.0


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
        for name in tops:  # what o_t sends down into each chain of the top layer: its part of V^T (o_t - y_t)
            v = step["norms"][name]["above_norm"]
            x, top = place[name, i]
            if v > 0:
                start, end = y["o"] + BOX_H + 2, top - 16
                if len(tops) == 1:  # one chain a layer: left of V, the label half way
                    out.append(arrow(x - 24, start, x - 24, end, v, "from-output"))
                    out.append(_text(x - 32, (start + end) / 2 + 4, f"{v:.2g}", size=10, anchor="end", fill=ERROR))
                else:  # two: each on the outer side of its own V, the label under o_t
                    side = -1 if x < _column(i, y) else 1
                    out.append(arrow(x + side * 18, start, x + side * 18, end, v, "from-output"))
                    out.append(_text(x + side * 26, start + 14, f"{v:.2g}", size=10, fill=ERROR,
                                     anchor="end" if side < 0 else "start"))
        for name, n in step["norms"].items():
            v = n["through_norm"]
            nxt = i - 1 if name.endswith("_bwd") else i + 1
            if v <= 0 or not 0 <= nxt < len(steps):
                continue
            (x1, top), (x2, _) = place[name, nxt], place[name, i]
            sign = 1 if x1 > x2 else -1
            level = max(top + height * 0.8, top + height * 0.35 + 9)  # below the W arrow, even on a thin strip
            out.append(arrow(x1 - sign * (half + 3), level, x2 + sign * (half + 3), level, v, "through-w"))
            out.append(_text((x1 + x2) / 2, level + MAX_ERROR_WIDTH / 2 + 12, f"{v:.2g}", size=10, fill=ERROR))
    return out
