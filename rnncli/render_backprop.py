"""Rich renderables of ``rnncli backprop``, built from ``backprop.backprop``'s data; nothing here
prints. The view is a lesson in the order a learner builds the backward pass up: the loss, the
error at the output, back to the state, why the error fades or grows on its way back, the
arrays' gradients, and learning from them. Every table fits 80 columns."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .render import column, heat_strip, memory_sentence, number, shown_words

LEARNING_WORDS = 5  # o_t[y_t] columns of the learning table: with step and L, what fits 80 columns
FLOW_BLOCK = 6  # columns t per block of the flow table: six numbers and a word fit 80 columns
FLOW_BLOCKS = 4  # blocks shown at most, the first and last two: a long sentence's T x T table would bury the rest


def _prob(p: float) -> str:
    """4 significant digits, with the decimals kept where rounding reaches 1 (1.0000, not 1)."""
    text = f"{p:.4g}"
    return text if "." in text or "e" in text else f"{p:.4f}"


def _share(x: float | None) -> str:
    """A share in percent; '-' where there is none (W never used), never '-0.0%'."""
    if x is None:
        return "-"
    text = f"{100 * x:.1f}%"
    return "0.0%" if text == "-0.0%" else text


def _word(step: dict) -> Text:
    """x_t as unroll shows it: the word, marked when the vocabulary does not know it."""
    text = Text(step["word"], style="bold")
    if not step.get("known", True):
        text.append(" unknown", style="yellow")
    return text


def _size_style(v: float) -> str:
    """Red where an error arrives larger than it left (ratio above 1), blue fading as it shrinks."""
    if v >= 1.0:
        return f"rgb(255,{int(200 - 140 * min(1.0, math.log10(v)))},60)"
    fade = min(1.0, -math.log10(max(v, 1e-300)) / 4.0)  # 1e-4 and below: faintest
    return f"rgb(60,{int(200 - 110 * fade)},{int(255 - 120 * fade)})"


def _loss_part(data: dict) -> list:
    steps = data["steps"]
    head = Text()
    head.append("1. The loss\n", style="bold")
    head.append(f"y_t is the target tag at step t, a one-hot vector ({len(data['tags'])}); o_t[y_t] is the "
                "probability the network gives it. The loss of step t is L_t, the sentence's L their sum:\n")
    head.append("\n".join(data["backward"]["loss"]) + "\n")
    if data["targets_given"]:
        head.append("Targets y_t: the tags given with the sentence.\n")
    else:
        own = ("the network's own tags, as it is before every W is scaled," if data["scale_w"] is not None
               else "the network's own tags")
        head.append(f"Targets y_t: no tags were given (word/TAG gives them), so {own} are the targets.\n",
                    style="yellow")
    terms = " + ".join(f"{s['loss']:.4g}" for s in steps) if len(steps) <= 6 else "the sum of the L_t below"
    head.append(f"L = {terms} = {data['loss']:.6g}")
    table = Table()
    for col in ("t", "x_t", "y_t", "o_t[y_t]", "L_t", "the network's tag"):
        column(table, col, right=col in ("t", "o_t[y_t]", "L_t"))
    for s in steps:
        tag = Text(s["predicted"], style="magenta" if s["predicted"] != s["target"] else "")
        table.add_row(str(s["t"]), _word(s), s["target"], _prob(s["p_target"]), number(s["loss"]), tag)
    return [head, table]


def _output_part(data: dict) -> Text:
    text = Text()
    text.append("2. The error at the output\n", style="bold")
    text.append("With the scores q_t before the softmax, L_t is a function of q_t, and its derivative "
                "takes two lines:\n")
    text.append("\n".join("  " + line for line in data["backward"]["output"]) + "\n")
    text.append("So dL/dq_t = o_t - y_t: what the network predicted minus what was wanted. It is the "
                "only place where the targets enter; every other gradient is carried back from it.")
    return text


def _state_text(data: dict) -> Text:
    chains = data["chains"]
    text = Text()
    text.append("3. Back to the state\n", style="bold")
    text.append("z_t = U x_t + W s_{t-1} + b is step t's sum before the tanh, so s_t = tanh(z_t). s_t "
                "reaches L in two ways: through o_t (this step's output) and through z_{t+1} (the next "
                "step, which multiplies s_t by W). The gradient adds the two:\n")
    text.append("\n".join("  " + line for line in data["backward"]["state"]) + "\n")
    text.append("Nothing comes back through W to the last step (dL/dz_{T+1} = 0), and step t needs step "
                "t+1's dL/dz: the pass runs from t = T down to 1, backpropagation through time.")
    if len(chains) > 1:
        text.append("\nA chain is one recurrence s_t = tanh(...) with its own W. This network has "
                    f"{len(chains)}: {', '.join(c['name'] for c in chains)}. A name ending in _bwd reads "
                    "the sentence right to left, so its next step is t-1 and its pass runs from t = 1 "
                    "up; a 2 names the second layer, whose input is the first layer's states. In a "
                    "lower layer, the part from this step comes down from the layer above (which "
                    "already holds what that layer's W carried back from other steps).")
    return text


def _state_table(data: dict) -> list:
    chains = data["chains"]
    multi = len(chains) > 1
    table = Table(show_lines=not multi)
    heads = ["t", "x_t", *(["chain"] if multi else []), "norm of dL/ds_t", "from this step",
             "from the next step", "share of dL/dW"]
    for col in heads:
        column(table, col, right=col not in ("x_t", "chain"), narrow=col not in ("t", "x_t", "chain"))
    for step in reversed(data["steps"]):
        for k, c in enumerate(chains):
            n = step["norms"][c["name"]]
            first = [str(step["t"]), _word(step)] if k == 0 else ["", ""]
            table.add_row(*first, *([c["name"]] if multi else []), number(n["ds_norm"]), number(n["above_norm"]),
                          number(n["through_norm"]), _share(n["dW_share"]), end_section=multi and k == len(chains) - 1)
    legend = Text(style="dim")
    legend.append("from this step: what o_t (this step's output) sends back, V^T (o_t - y_t)"
                  + ("; in a lower layer, what the layer above sends down at this step" if multi else "")
                  + ". From the next step: what comes back through W from step t+1 (t-1 for a _bwd chain), "
                  "W^T dL/dz_{t+1}. "
                  "The vectors add up to dL/ds_t; their norms do not: the norm of a sum is at most the sum "
                  "of the norms, less when the two point different ways.\n")
    legend.append("share of dL/dW: dL/dW = sum_t dL/dz_t s_{t-1}^T adds one term per step; a term's share is "
                  "how much of the total it makes up along the total's own direction, so the shares add up "
                  "to 100% (a negative share pulls against the rest). The first step multiplies s_0 = 0 and "
                  "adds nothing; '-': with one word W is never used and dL/dW = 0.")
    return [Text(f"\nStep by step, t = T down to 1{' (the _bwd chains from t = 1 up)' if multi else ''}:"),
            table, legend]


def _strips(data: dict) -> list:
    chains, steps = data["chains"], data["steps"]
    multi = len(chains) > 1
    scale = {c["name"]: max((max(abs(v) for v in s["dL_ds"][c["name"]]) for s in steps), default=0.0) or 1.0
             for c in chains}
    head = Text("dL/ds_t unit by unit, the direction each unit of s_t would have to move to raise L: red +, "
                "blue -, height scaled to the chain's largest |component| over the sentence ("
                + ", ".join(f"{c['name']} {scale[c['name']]:.3g}" for c in chains) + ")")
    table = Table(show_lines=multi)
    for col in ("t", "x_t", "dL/ds_t"):
        column(table, col, right=col == "t")
    for step in reversed(steps):
        cell = Text()
        for k, c in enumerate(chains):
            if multi:
                cell.append(("\n" if k else "") + c["name"] + "\n", style="dim")
            cell.append_text(heat_strip([v / scale[c["name"]] for v in step["dL_ds"][c["name"]]], per_line=32))
        table.add_row(str(step["t"]), _word(step), cell)
    return [head, table]


def _why_text(data: dict) -> Text:
    text = Text()
    text.append("4. Why the error fades or grows on its way back\n", style="bold")
    text.append("s_{t-1} reaches the losses after it only through s_t, and the derivative of one step is "
                "the tanh's slope times W:\n")
    text.append("  ds_t/ds_{t-1} = diag(1 - s_t^2) W\n")
    text.append("So every step back multiplies the error by the transpose of that matrix, and from t back to k "
                "by d = t - k such factors: a product, which shrinks or grows about geometrically with d.\n")
    text.append("The largest singular value of W is the most W can stretch any vector; since the slope "
                "is at most 1, no step back can stretch the error more. The spectral radius of W is its largest eigenvalue "
                "in size: how much W applied again and again grows a vector per step, in the long run.\n")
    for name, m in data["memory"].items():
        text.append(f"  W{name[1:]}: largest singular value {m['largest_singular_value']:.3f}, spectral radius "
                    f"{m['spectral_radius']:.3f}\n")
    if data.get("scale_w") is not None:
        text.append(f"Every W here is the model's multiplied by {data['scale_w']:g} (--scale-w), in a copy.\n",
                    style="magenta")
    return text


class _Fitted:
    """A part of a view built for the width it is drawn at: tables of numbers that a narrow
    terminal would otherwise cut off at its edge get fewer columns instead."""

    def __init__(self, build):
        self.build = build  # width -> a list of renderables

    def __rich_console__(self, console, options):
        yield from self.build(options.max_width)


NUMBER_COLUMN = 11  # a column of numbers (``column(narrow=True)``): 8 characters, padding and a border


def _fitting(width: int, taken: int, most: int) -> int:
    """How many columns of numbers fit beside ``taken`` characters of others: 1 to ``most``."""
    return max(1, min(most, (width - taken - 1) // NUMBER_COLUMN))


def _flow_tables(data: dict, name: str, width: int) -> list:
    flow, steps = data["flow"][name], data["steps"]
    T = len(steps)
    parts = []
    block = _fitting(width, 4 + max(len(f"{k + 1} {s['word']}") for k, s in enumerate(steps)), FLOW_BLOCK)
    starts = list(range(0, T, block))
    if len(starts) > FLOW_BLOCKS:  # the middle left out: the memory table below sums up every step
        half = FLOW_BLOCKS // 2
        starts, left_out = starts[:half] + starts[-half:], (starts[half], starts[-half])
    else:
        left_out = None
    for start in starts:
        if left_out and start == left_out[1]:
            parts.append(Text(f"(losses t = {left_out[0] + 1} to {left_out[1]} left out here; --json has every one)"))
        stop = min(T, start + block)
        table = Table(title=None if T <= block else f"losses t = {start + 1} to {stop}", title_justify="left")
        column(table, "k")
        for t in range(start, stop):
            column(table, f"L_{t + 1}", right=True, narrow=True)
        for k in range(T):
            cells = []
            for t in range(start, stop):
                v, own = flow[k][t], flow[t][t]
                cells.append(Text(number(v, 2), style=_size_style(v / own) if own > 0 else "") if v else "")
            table.add_row(Text(f"{k + 1} ").append_text(_word(steps[k])), *cells)
        parts.append(table)
    return parts


def _reach_table(data: dict, name: str) -> list:
    m, steps = data["memory"][name], data["steps"]
    last = m["last"]
    table = Table()
    for col in ("k", "x_k", "actual ratio", "bound"):
        column(table, col, right=col != "x_k", narrow=col in ("actual ratio", "bound"))
    for k in range(len(steps)):
        bound = "-" if m["bound"] is None else number(m["bound"][k], 2)
        ratio = m["ratio"][k]
        table.add_row(str(k + 1), _word(steps[k]), Text(number(ratio, 2), style=_size_style(ratio) if ratio else ""),
                      bound)
    what = (f"From the loss at step {last} back, chain {name}: the actual ratio ||dL_{last}/ds_k|| / "
            f"||dL_{last}/ds_{last}||")
    if m["bound"] is None:
        what += " (a lower layer: s_k reaches the loss along other paths too, so no bound is shown)"
    else:
        what += (f", and beside it the bound ||ds_{last}/ds_k||, the most the way back could stretch any "
                 "error (this error is not the most stretched one)")
    return [Text(what + ":"), table]


def _flow_part(data: dict) -> list:
    parts = [_why_text(data)]
    for c in data["chains"]:
        name = c["name"]
        parts.append(Text(f"Where each loss sends its error, chain {name}: ||dL_t/ds_k||, the part of dL/ds_k "
                          f"that L_t sends back (rows: the step k that receives it; columns: the loss L_t that sends it). Blank: "
                          "L_t does not depend on s_k. Each row, added as vectors, is dL/ds_k."))
        parts.append(_Fitted(lambda width, name=name: _flow_tables(data, name, width)))
        if len(data["steps"]) > 1:
            parts += _reach_table(data, name)
        parts.append(Text(f"The verdict on chain {name}, fitted over every pair of steps: "
                          + memory_sentence(data["memory"][name]), style="bold"))
        parts.append(Text(""))
    return parts


def _gradient_part(data: dict) -> list:
    text = Text()
    text.append("5. The gradients of the arrays\n", style="bold")
    text.append("Every step uses the same U, W, V, so each adds its own term to their gradients:\n")
    text.append("\n".join("  " + line for line in data["backward"]["params"]))
    table = Table()
    for col in ("array", "shape", "||dL/d array||"):
        column(table, col, right=col != "array")
    for name, norm in data["grad_norms"].items():
        table.add_row(name, " x ".join(map(str, data["shapes"][name])), number(norm, 4))
    return [text, table]


def _learning_part(data: dict) -> list:
    step, steps = data["lr_step"], data["steps"]
    what = "one plain step" if step["steps"] == 1 else f"{step['steps']} plain steps"
    parts = [Text("6. Learning", style="bold"),
             Text(f"{what[0].upper() + what[1:]} on a copy of the network: every array p <- p - {step['lr']:g} "
                  "dL/dp" + (", with the gradient of the copy as it is before each step." if step["steps"] > 1
                             else "."))]
    if step["steps"] > 1:
        parts.append(_Fitted(lambda width: _history(data, width)))
    after = Table()
    for col in ("t", "x_t", "y_t", "o_t[y_t] before", "after", "tag after"):
        column(after, col, right=col in ("t", "o_t[y_t] before", "after"))
    for s, before, p, tag in zip(steps, step["p_before"], step["p_after"], step["predicted_after"]):
        after.add_row(str(s["t"]), _word(s), s["target"], f"{before:.4f}", f"{p:.4f}", tag)
    parts += [after, Text(f"L before {step['loss_before']:.6g}, after {step['loss_after']:.6g} "
                          f"({step['loss_after'] - step['loss_before']:+.3g})")]
    return parts


def _history(data: dict, width: int) -> list:
    """L and o_t[y_t] after each step of --steps: of as many words as the width holds."""
    step, steps = data["lr_step"], data["steps"]
    shown = steps[:_fitting(width, 7 + NUMBER_COLUMN, LEARNING_WORDS)]  # beside the columns step and L
    history = Table()
    for col in ("step", "L", *(f"o_{s['t']}[y_{s['t']}]" for s in shown)):
        column(history, col, right=True, narrow=col != "step")
    history.add_row("0", f"{step['loss_before']:.4g}", *(_prob(p) for p in step["p_before"][:len(shown)]))
    for h in step["history"]:
        history.add_row(str(h["step"]), f"{h['loss']:.4g}", *(_prob(p) for p in h["p"][:len(shown)]))
    if len(shown) == len(steps):
        return [history]
    return [history, Text(f"o_t[y_t] of the first {len(shown)} words at each step; every word's, before and "
                          f"after the last step, below.")]


def backprop_view(data: dict) -> Group:
    """The backward pass over one sentence, as a lesson: see the module's docstring."""
    data = shown_words(data)
    parts = [Text("\n".join(data["formula"]), style="bold"), Text("")]
    parts += [*_loss_part(data), Text(""), _output_part(data), Text("")]
    parts += [_state_text(data), *_state_table(data), Text(""), *_strips(data), Text("")]
    parts += _flow_part(data)
    parts += _gradient_part(data)
    if "lr_step" in data:
        parts += [Text(""), *_learning_part(data)]
    return Group(*parts)
