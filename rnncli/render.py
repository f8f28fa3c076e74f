"""Rich renderables built from the plain data of ``explain`` and ``metrics``; nothing here prints."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .config import LEXICON_SLOTS
from .errors import printable, shown

_BARS = "▁▂▃▄▅▆▇█"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def clip(text, limit: int = 300) -> str:
    """A string from a model file as a table shows it: whole when short, else its start and its
    length, so that a huge string costs no more to show than a short one."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _points(a: float | None, b: float | None) -> str:
    """The difference of two rates in percentage points, signed."""
    return "-" if a is None or b is None else f"{100 * (a - b):+.2f}"


def heat_strip(values: list[float], per_line: int = 32, max_units: int = 128) -> Text:
    """One glyph per unit: its height is the value in [-1, 1], its colour the sign (red +, blue -).

    Legible without colour too. Beyond ``max_units`` units the rest is counted, not drawn.
    """
    text = Text()
    shown = values[:max_units]
    for i, v in enumerate(shown):
        if i and i % per_line == 0:
            text.append("\n")
        level = min(len(_BARS) - 1, int((max(-1.0, min(1.0, v)) + 1.0) / 2.0 * len(_BARS)))
        shade = int(80 + 175 * min(1.0, abs(v)))
        colour = f"rgb({shade},60,60)" if v >= 0 else f"rgb(60,90,{shade})"
        text.append(_BARS[level], style=colour)
    if len(values) > len(shown):
        text.append(f" +{len(values) - len(shown)} more", style="dim")
    return text


def number(v: float, digits: int = 3) -> str:
    """A number in ``digits`` significant digits, short enough for a narrow column: 0.0266,
    8.5, 1.9e-08 (never -0)."""
    text = f"{v:.{digits}g}"
    return "0" if text == "-0" else text


def column(table: Table, header: str, right: bool = False, narrow: bool = False) -> None:
    """A column whose text wraps or folds onto more lines when space is short, never cut off.
    ``narrow``: a column of numbers, whose header wraps to about the numbers' width; a number
    is never folded (its column is at least as wide as the longest, 8 characters: 1.89e-08)."""
    width = max(8, *map(len, header.split())) if narrow else None
    table.add_column(header, justify="right" if right else "left", overflow="fold", max_width=width,
                     min_width=8 if narrow else None)


def _norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def shown_words(data: dict) -> dict:
    """The data with its words as a table may show them: control characters (a terminal escape in
    a word) written as escapes. The data itself, and --json, keep the words as they are."""
    steps = [{**step, "word": printable(step["word"])} for step in data["steps"]]
    return {**data, "words": [printable(w) for w in data["words"]], "steps": steps}


def memory_sentence(m: dict) -> str:
    """The verdict on a chain's gradient (``explain.verdict``) in words, as backprop and inspect
    both say it."""
    if m["verdict"] == "too short to tell":
        return "too short to tell: the verdict needs a sentence of 4 words or more."
    if m["verdict"] == "no error to carry":
        return "no error to carry: no step's loss sends any error back (every L_t is 0, as with one tag)."
    meaning = {"vanishing": "the error vanishes on its way back, so far steps learn little from it",
               "exploding": "the error explodes on its way back, so one step of training can throw W far",
               "neither": "the error neither vanishes nor explodes"}[m["verdict"]]
    return f"per step back the error is multiplied by about {m['per_step']:.2f}: {meaning}."


def unroll_view(data: dict, show_hidden: bool) -> Group:
    """The tutorial's unrolled network: one row per time step; then, each in a table of its own
    so that it has the width to be read whole, x_t's other slots (a model with features) and,
    with ``show_hidden``, each s_t unit by unit."""
    data = shown_words(data)
    steps = data["steps"]
    parts = [Text("\n".join(data["formula"]), style="bold"), Text("")]
    if data.get("scale_w") is not None:
        parts.append(Text(f"Every W multiplied by {data['scale_w']:g} (--scale-w), in a copy of the network; "
                          "'without memory' drops W altogether.", style="magenta"))
    table = Table(title=f"\"{' '.join(data['words'])}\" unrolled over {len(steps)} step{'s' * (len(steps) != 1)}", title_justify="left")
    table.add_column("t", justify="right")
    table.add_column("x_t (word, index in U)", overflow="fold")
    table.add_column("|s_t|")
    table.add_column("o_t (top tags)")
    table.add_column("tag", style="bold")
    table.add_column("without memory")
    multi = len(steps[0]["s"]) > 1 if steps else False
    for step in steps:
        norms = "\n".join(f"{name + ': ' if multi else ''}{_norm(vec):.2f}" for name, vec in step["s"].items())
        o = Text("\n".join(f"{e['tag']} {e['p']:.2f}" for e in step["top"]))  # a tag a line: never split from its p
        alone = step["without_memory"]
        differs = alone["tag"] != step["tag"]
        wm = Text(f"{alone['tag']} {alone['p']:.2f}", style="magenta" if differs else "dim")
        if differs:
            wm.append("  (memory changes it)", style="magenta")
        table.add_row(str(step["t"]), _x_cell(step), norms, o, step["tag"], wm)
    parts.append(table)
    if any(len(step["features"]) > 1 for step in steps):
        slots = Table(title="x_t's other slots: the entries of x_t besides the word's own", title_justify="left")
        for col in ("t", "x_t", "slot=value (index in U)"):
            column(slots, col, right=col == "t")
        for step in steps:
            slots.add_row(str(step["t"]), step["word"],
                          " ".join(f"{f['slot']}={f['value']} #{f['index']}" for f in step["features"][1:]))
        parts += [Text(""), slots]
    if show_hidden:
        parts += [Text(""), Text("s_t unit by unit: red +, blue -, height the value in [-1, 1]"),
                  _hidden_table(steps, multi)]
    return Group(*parts)


def _x_cell(step: dict) -> Text:
    x = Text(step["word"], style="bold")
    x.append(f"  #{step['index']}")
    if not step["known"]:
        x.append("  unknown", style="yellow")
    if step.get("read_as"):
        x.append(f"{'  ' if step['known'] else ', '}read as {step['read_as']}", style="yellow")
    return x


def _hidden_table(steps: list[dict], multi: bool) -> Table:
    """Each s_t unit by unit, 32 units a line, folded further where the column is narrower."""
    table = Table(show_lines=True)
    for col in ("t", "x_t", "s_t"):
        column(table, col, right=col == "t")
    for step in steps:
        cell = Text()
        for k, (name, vec) in enumerate(step["s"].items()):
            cell.append(("\n" if k else "") + (f"{name}: " if multi else "") + f"|s|={_norm(vec):.2f}\n",
                        style="dim")
            cell.append_text(heat_strip(vec))
        table.add_row(str(step["t"]), step["word"], cell)
    return table


def history_table(history: list[dict], best_epoch: int | None) -> Table:
    table = Table(title="training history", title_justify="left")
    for col in ("epoch", "loss", "dev accuracy", "seconds"):
        table.add_column(col, justify="right")
    for h in history:
        style = "bold green" if h["epoch"] == best_epoch else None
        table.add_row(str(h["epoch"]), f"{h['loss']:.4f}", _pct(h.get("dev_accuracy")),
                      f"{h['seconds']:.1f}", style=style)
    return table


def card_view(card: dict) -> Group:
    parts = [Text("\n".join(card["formula"]), style="bold"), Text("")]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")  # long paths wrap whole, never cut off with an ellipsis
    shape = card["shape"]
    facts.add_row("arrays", ", ".join(f"{n}: {' x '.join(map(str, d))}" for n, d in card["arrays"].items()))
    facts.add_row("parameters", f"{card['parameters']:,} (stored as {card['stored_dtype']})")
    facts.add_row("network", f"{shape['n_layers']} layer(s), "
                  f"{'bidirectional' if shape['bidirectional'] else 'one direction'}, {shape['n_hidden']} hidden units")
    vocab = card["vocabulary"]
    slots = ", ".join(f"{s} {n:,}" for s, n in vocab["slots"].items())
    facts.add_row("inputs x_t", f"{vocab['inputs']:,} entries ({slots}; each slot has an <unk> entry)")
    if vocab.get("lexicon"):
        lexicon = vocab["lexicon"]
        lemmas = (f", {lexicon['lemmas']:,} forms with their word classes and {len(lexicon.get('rules') or ()):,} "
                  f"suffix rules" if isinstance(lexicon.get("lemmas"), int) else "")
        facts.add_row("lexicon", f"{lexicon['entries']:,} word forms, {lexicon['paths']:,} cluster paths{lemmas} "
                      f"(the slots {', '.join(s for s in vocab['slots'] if s in LEXICON_SLOTS)}); "
                      f"from {clip(lexicon['source'], 400)}")
    counts = card["tag_counts"]
    facts.add_row("tags", " ".join(f"{clip(t, 40)} ({counts[t]:,})" if t in counts else clip(t, 40) for t in card["tags"]))
    if card.get("corpus"):
        corpus = card["corpus"] if isinstance(card["corpus"], list) else [card["corpus"]]
        facts.add_row("trained on", ", ".join(clip(shown(str(c))) for c in corpus))
    if card.get("attribution"):
        facts.add_row("attribution", clip(card["attribution"], 2000))
    if card.get("dev_accuracy") is not None:
        facts.add_row("dev accuracy", f"{_pct(card['dev_accuracy'])} (epoch {card['best_epoch']})")
    if card.get("unlearnable_dev_tags"):
        facts.add_row("unlearnable", "dev tags never seen in training: " + " ".join(clip(t, 40) for t in card["unlearnable_dev_tags"]))
    hyper = card["hyper_parameters"]
    if hyper:
        facts.add_row("hyper-parameters", ", ".join(f"{clip(k, 40)}={clip(v, 40)}" for k, v in hyper.items()))
    parts.append(facts)
    if card["history"]:
        parts += [Text(""), history_table(card["history"], card.get("best_epoch"))]
    weights = Table(title="weights", title_justify="left")
    for col in ("array", "shape", "norm", "mean |w|", "spectral radius"):
        weights.add_column(col, justify="right" if col != "array" else "left")
    for name, w in card["weights"].items():
        rho = w.get("spectral_radius")
        weights.add_row(name, " x ".join(map(str, w["shape"])), f"{w['norm']:.3f}", f"{w['mean_abs']:.4f}",
                        "" if rho is None else f"{rho:.3f}")
    parts += [Text(""), weights]
    if card.get("memory"):
        parts += [Text(""), _memory_table(card["memory"])]
    return Group(*parts)


def _memory_table(memory: dict) -> Group:
    """Each chain's verdict over the lesson's sentence, as ``backprop`` gives it."""
    table = Table(title="the error on its way back through W", title_justify="left")
    for col in ("chain", "largest singular value", "spectral radius", "per step back", "verdict"):
        column(table, col, right=col not in ("chain", "verdict"), narrow=col not in ("chain", "verdict"))
    for name, m in memory["chains"].items():
        rate = "-" if m["per_step"] is None else f"{m['per_step']:.2f}"
        table.add_row(name, f"{m['largest_singular_value']:.3f}", f"{m['spectral_radius']:.3f}", rate, m["verdict"])
    note = Text(f"Over \"{memory['sentence']}\", the network's own tags as targets: how much the error "
                "is multiplied by per step back, fitted over every pair of steps, and the verdict that "
                "rnncli backprop gives.", style="dim")
    return Group(table, note)


def eval_view(report: dict, title: str) -> Group:
    head = Text()
    head.append(f"{title}\n", style="bold")
    head.append(f"accuracy {_pct(report['accuracy'])} on {report['tokens']:,} tokens "
                f"({report['sentences']:,} sentence{'s' * (report['sentences'] != 1)}, "
                f"{_pct(report['sentence_accuracy'])} entirely right)\n")
    head.append(f"known words {_pct(report['known_accuracy'])} ({report['known_tokens']:,}), "
                f"unknown words {_pct(report['unknown_accuracy'])} ({report['unknown_tokens']:,})")
    alone = report.get("without_memory")
    if alone:
        head.append(f"\nwithout memory (W s_{{t-1}} dropped in every chain): accuracy {_pct(alone['accuracy'])}, "
                    f"known words {_pct(alone['known_accuracy'])}, unknown words {_pct(alone['unknown_accuracy'])}; "
                    f"the memory is worth {_points(report['accuracy'], alone['accuracy'])} points", style="magenta")
    per_tag = Table(title="per tag", title_justify="left")
    columns = ["tag", "precision", "recall", "F1", "support"]
    if alone:
        columns += ["F1 without memory", "memory adds"]
    for col in columns:
        per_tag.add_column(col, justify="left" if col == "tag" else "right")
    for tag, m in report["per_tag"].items():
        row = [tag, _pct(m["precision"]), _pct(m["recall"]), _pct(m["f1"]), f"{m['support']:,}"]
        if alone:
            f1 = alone["per_tag"].get(tag, {}).get("f1", 0.0)  # a tag never predicted nor gold there: F1 0
            row += [_pct(f1), _points(m["f1"], f1)]
        per_tag.add_row(*row)
    confusions = Table(title="most frequent confusions", title_justify="left")
    for col in ("gold", "predicted", "count"):
        confusions.add_column(col, justify="right" if col == "count" else "left")
    for c in report["confusions"]:
        confusions.add_row(c["gold"], c["predicted"], str(c["count"]))
    if not report["confusions"]:  # every token right: an empty table would look like a fault
        return Group(head, Text(""), per_tag, Text(""), Text("most frequent confusions: none, every tag is right"))
    return Group(head, Text(""), per_tag, Text(""), confusions)


