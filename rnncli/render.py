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


def _norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def _shown_words(data: dict) -> dict:
    """The data with its words as a table may show them: control characters (a terminal escape in
    a word) written as escapes. The data itself, and --json, keep the words as they are."""
    steps = [{**step, "word": printable(step["word"])} for step in data["steps"]]
    return {**data, "words": [printable(w) for w in data["words"]], "steps": steps}


def unroll_view(data: dict, show_hidden: bool) -> Group:
    """The tutorial's unrolled network: one row per time step."""
    data = _shown_words(data)
    formula = Text("\n".join(data["formula"]), style="bold")
    table = Table(title=f"\"{' '.join(data['words'])}\" unrolled over {len(data['steps'])} steps",
                  title_justify="left", show_lines=show_hidden)
    table.add_column("t", justify="right")
    table.add_column("x_t (word, index in U)", overflow="fold")  # a feature value wraps, never cut short
    table.add_column("s_t" if show_hidden else "|s_t|")
    table.add_column("o_t (top tags)")
    table.add_column("tag", style="bold")
    table.add_column("without memory")
    multi = len(data["steps"][0]["s"]) > 1 if data["steps"] else False
    for step in data["steps"]:
        x = Text(step["word"], style="bold")
        x.append(f"  #{step['index']}")
        if not step["known"]:
            x.append("  unknown", style="yellow")
        extra = [f"{f['slot']}={f['value']}" for f in step["features"][1:]]
        if extra:
            x.append("\n" + " ".join(extra), style="dim")
        hidden = Text()
        for k, (name, vec) in enumerate(step["s"].items()):
            if k:
                hidden.append("\n")
            label = f"{name}: " if multi else ""
            if show_hidden:
                hidden.append(f"{label}|s|={_norm(vec):.2f}\n", style="dim")
                hidden.append_text(heat_strip(vec))
            else:
                hidden.append(f"{label}{_norm(vec):.2f}")
        o = Text(" ".join(f"{e['tag']} {e['p']:.2f}" for e in step["top"]))
        alone = step["without_memory"]
        differs = alone["tag"] != step["tag"]
        wm = Text(f"{alone['tag']} {alone['p']:.2f}", style="magenta" if differs else "dim")
        if differs:
            wm.append("  (memory changes it)", style="magenta")
        table.add_row(str(step["t"]), x, hidden, o, step["tag"], wm)
    return Group(formula, Text(""), table)


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
        facts.add_row("lexicon", f"{lexicon['entries']:,} word forms, {lexicon['paths']:,} cluster paths "
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
    radii = []
    for name, w in card["weights"].items():
        rho = w.get("spectral_radius")
        if rho is not None:
            radii.append(rho)
        weights.add_row(name, " x ".join(map(str, w["shape"])), f"{w['norm']:.3f}", f"{w['mean_abs']:.4f}",
                        "" if rho is None else f"{rho:.3f}")
    parts += [Text(""), weights]
    if radii:
        rho = max(radii)
        parts.append(Text(
            f"Spectral radius of W up to {rho:.2f}: "
            + ("below 1, so memory of a word fades step by step and gradients over long spans tend to vanish."
               if rho < 1 else
               "1 or more, so the state can be amplified step by step (tanh keeps it bounded) and gradients "
               "over long spans can explode; training clips them."), style="dim"))
    return Group(*parts)


def eval_view(report: dict, title: str) -> Group:
    head = Text()
    head.append(f"{title}\n", style="bold")
    head.append(f"accuracy {_pct(report['accuracy'])} on {report['tokens']:,} tokens "
                f"({report['sentences']:,} sentences, {_pct(report['sentence_accuracy'])} entirely right)\n")
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
    return Group(head, Text(""), per_tag, Text(""), confusions)


def _prob(p: float) -> str:
    """4 significant digits, with the decimals kept where rounding reaches 1 (1.0000, not 1)."""
    text = f"{p:.4g}"
    return text if "." in text or "e" in text else f"{p:.4f}"


def _lines(values: list[str]) -> str:
    return "\n".join(values)


def _jacobian_style(v: float) -> str:
    """Red where a product stretches (norm above 1), blue fading as it shrinks."""
    if v >= 1.0:
        return f"rgb(255,{int(200 - 140 * min(1.0, math.log10(v)))},60)"
    fade = min(1.0, -math.log10(max(v, 1e-300)) / 4.0)  # 1e-4 and below: faintest
    return f"rgb(60,{int(200 - 110 * fade)},{int(255 - 120 * fade)})"


TRIANGLE_STEPS = 8  # beyond this, ||ds_t/ds_k|| is summarised by t - k rather than drawn cell by cell


def _column(table: Table, header: str, right: bool = False, narrow: bool = False) -> None:
    """A column whose text wraps or folds onto more lines when space is short, never cut off.
    ``narrow``: a column of numbers, whose header wraps to about the numbers' width."""
    width = max(8, *map(len, header.split())) if narrow else None
    table.add_column(header, justify="right" if right else "left", overflow="fold", max_width=width)


def _jacobian_view(data: dict) -> Group:
    jac = data["jacobian"]
    norms, T = jac["norms"], jac["steps"]
    words = data["words"]
    head = Text()
    head.append("How far back the error reaches: ||ds_t/ds_k|| in the first layer's forward chain\n", style="bold")
    head.append("ds_t/ds_k = diag(1 - s_t^2) W ... diag(1 - s_{k+1}^2) W; its norm is its largest singular value\n")
    head.append(f"W: spectral radius {jac['spectral_radius']:.3f}, largest singular value "
                f"{jac['largest_singular_value']:.3f}")
    parts = [head]
    n = len(norms)
    if 1 < n <= TRIANGLE_STEPS:
        parts.append(Text("rows: step t; columns: steps back, t - k"))
        table = Table()
        _column(table, "t")
        for lag in range(1, n):
            _column(table, str(lag), right=True)
        for t in range(1, n):
            cells = [Text(f"{norms[t][t - lag]:.2g}", style=_jacobian_style(norms[t][t - lag])) if lag <= t else ""
                     for lag in range(1, n)]
            table.add_row(f"{t + 1} {words[t]}", *cells)
        parts.append(table)
    elif n > 1:
        parts.append(Text("by steps back, t - k, over every pair of steps" + (
            f" among the first {n} of {T}" if T > n else "")))
        table = Table()
        for col in ("t - k", "pairs", "geometric mean", "smallest", "largest"):
            _column(table, col, right=True)
        for lag in range(1, n):
            values = [norms[t][t - lag] for t in range(lag, n)]
            mean = math.exp(sum(math.log(max(v, 1e-300)) for v in values) / len(values))
            table.add_row(str(lag), str(len(values)), *(Text(f"{v:.2g}", style=_jacobian_style(v))
                                                         for v in (mean, min(values), max(values))))
        parts.append(table)
    if T > n and n <= TRIANGLE_STEPS:
        parts.append(Text(f"(the first {n} of {T} steps)", style="dim"))
    parts.append(Text(jacobian_sentence(data), style="dim"))
    return Group(*parts)


def jacobian_sentence(data: dict) -> str:
    """One sentence on what this sentence's Jacobian norms and W's singular value mean."""
    jac = data["jacobian"]
    norms, sigma = jac["norms"], jac["largest_singular_value"]
    bound = (f"Each step back multiplies the error by diag(1 - s_t^2) W, which can stretch it by at most "
             f"the largest singular value of W, {sigma:.2f}")
    if len(norms) < 2:
        return bound + "; with one word there is no step back."
    n = len(norms) - 1
    first, last = data["words"][0], data["words"][n]
    J = norms[n][0]
    per_step = J ** (1.0 / n) if J > 0 else 0.0
    if sigma < 1:
        fate = "below 1, so the error must shrink at every step back"
    elif per_step < 0.8:
        fate = "but tanh's slope 1 - s_t^2 shrinks it more"
    elif per_step > 1.25:
        fate = "and here the products grow"
    else:
        fate = "and here the products neither grow nor shrink much"
    return (f"{bound}, {fate}: from '{last}' (t = {n + 1}) back to '{first}' (t = 1) the product has norm "
            f"{J:.2g}, {per_step:.2f} per step, so an error at '{last}' reaches '{first}' at most {J:.2g} "
            f"times as large" + (" (it vanishes)." if J < 0.05 else " (it explodes)." if J > 20 else "."))


def backprop_view(data: dict) -> Group:
    """The backward pass over one sentence: the formulas, the loss, one row per step (and chain),
    dL/ds_t as heat strips, the Jacobian norms and the parameter gradients (and one gradient
    step with --lr)."""
    data = _shown_words(data)
    chains = data["chains"]
    multi = len(chains) > 1
    steps = data["steps"]
    parts = [Text(_lines(data["formula"]), style="bold"), Text(""),
             Text("Backward pass", style="bold"), Text(_lines(data["backward"])), Text("")]

    head = Text()
    if data["targets_given"]:
        head.append("Targets y_t: the tags given with the sentence.\n")
    else:
        head.append("Targets y_t: no tags were given (word/TAG gives them), so the network's own predictions "
                    "are the targets.\n", style="yellow")
    terms = " + ".join(f"{s['loss']:.4g}" for s in steps) if len(steps) <= 10 else "the sum of the terms below"
    head.append(f"L = sum_t -log o_t[y_t] = {terms} = {data['loss']:.6g}")
    parts += [head, Text("")]

    order = "t = T down to 1, the order in which the backward pass runs the forward chain"
    if any(c["direction"] == "backward" for c in chains):
        order += " (it runs the backward chains from t = 1 up)"
    parts.append(Text(f"Step by step, {order}:"))
    table = Table(show_lines=not multi)
    for col in ("t", "x_t", "y_t o_t[y_t]", "-log o_t[y_t]", *(["chain"] if multi else []),
                "norm of dL/ds_t", "from above", "through W", "share of dL/dW"):
        _column(table, col, right=col not in ("x_t", "y_t o_t[y_t]", "chain"),
                narrow=col not in ("t", "x_t", "y_t o_t[y_t]", "chain"))
    for step in reversed(steps):
        target = Text(f"{step['target']} {_prob(step['p_target'])}")
        if step["predicted"] != step["target"]:
            target.append(f"\npredicts {step['predicted']}", style="magenta")
        for k, c in enumerate(chains):
            n = step["norms"][c["name"]]
            first = [str(step["t"]), step["word"], target, f"{step['loss']:.3g}"] if k == 0 else ["", "", "", ""]
            table.add_row(*first, *([c["name"]] if multi else []), f"{n['ds_norm']:.3g}", f"{n['above_norm']:.3g}",
                          f"{n['through_norm']:.3g}", f"{100 * n['dW_share']:.1f}%",
                          end_section=multi and k == len(chains) - 1)
    parts.append(table)
    legend = Text(style="dim")
    legend.append("dL/ds_t is the sum of the two parts the backward pass adds (norms shown):\n")
    for c in chains:
        where = "this step's output error" if c["top"] else "what the layer above passes down at this step"
        legend.append(f"  {c['name']}: from above = {c['above']}, {where}; through W = {c['through']}, "
                      f"from step {c['next']}\n")
    if not all(c["top"] for c in chains):
        legend.append("  A lower layer's part from above already holds what the upper layer's W carried "
                      "back from other steps' outputs.\n")
    legend.append("share of dL/dW: step t's term of dL/dW = sum_t dL/dz_t s_prev^T, measured along the total: "
                  "<dL/dz_t s_prev^T, dL/dW> / ||dL/dW||^2. The shares add up to 100%; a negative one pulls against "
                  "the total. A chain's first step multiplies s_0 = 0 and adds nothing.")
    parts += [legend, Text("")]

    scale = {c["name"]: max((max(abs(v) for v in s["dL_ds"][c["name"]]) for s in steps), default=0.0) or 1.0
             for c in chains}
    parts.append(Text("dL/ds_t unit by unit: red +, blue -, height scaled to the largest |component| of the chain "
                      "over the sentence (" + ", ".join(f"{c['name']} {scale[c['name']]:.3g}" for c in chains)
                      + ")"))
    strips = Table(show_lines=multi)
    for col in ("t", "x_t", "dL/ds_t"):
        _column(strips, col, right=col == "t")
    for step in reversed(steps):
        cell = Text()
        for k, c in enumerate(chains):
            if multi:
                cell.append(("\n" if k else "") + c["name"] + "\n", style="dim")
            cell.append_text(heat_strip([v / scale[c["name"]] for v in step["dL_ds"][c["name"]]], per_line=64))
        strips.add_row(str(step["t"]), step["word"], cell)
    parts += [strips, Text(""), _jacobian_view(data), Text("")]

    parts.append(Text("Parameter gradients"))
    grads = Table()
    for col in ("array", "shape", "||dL/d array||"):
        _column(grads, col, right=col != "array")
    for name, norm in data["grad_norms"].items():
        grads.add_row(name, " x ".join(map(str, data["shapes"][name])), f"{norm:.4g}")
    parts.append(grads)

    if "lr_step" in data:
        step = data["lr_step"]
        parts += [Text(""),
                  Text(f"One gradient step on a copy of the network: every array p <- p - {step['lr']:g} dL/dp")]
        after = Table()
        for col in ("t", "x_t", "y_t", "o_t[y_t] before", "after", "tag after"):
            _column(after, col, right=col in ("t", "o_t[y_t] before", "after"))
        for s, before, p, tag in zip(steps, step["p_before"], step["p_after"], step["predicted_after"]):
            after.add_row(str(s["t"]), s["word"], s["target"], f"{before:.4f}", f"{p:.4f}", tag)
        parts += [after, Text(f"L before {step['loss_before']:.6g}, after {step['loss_after']:.6g} "
                              f"({step['loss_after'] - step['loss_before']:+.3g})")]
    return Group(*parts)
