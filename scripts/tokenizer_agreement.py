#!/usr/bin/env python3
"""Measure how closely ``rnncli.tokenizer.line_tokens`` reproduces UD English EWT tokens.

For every sentence of a CoNLL-U file, the raw ``# text = ...`` line is tokenized
and compared with the gold syntactic words, as rnncli reads them (FORM of every
word line; multiword ranges such as ``1-2`` and empty nodes such as ``8.1`` are
skipped, so "don't" is gold ``do`` + ``n't``).

Matching: both token lists are mapped to character spans in the sentence text
with all whitespace removed (EWT words and our tokens both concatenate to that
string).  A predicted token is correct when a gold word has exactly the same
span.  Precision/recall/F1 are computed over spans summed over the file.

Mismatch kinds: wherever the two segmentations disagree, the smallest stretch of
text on which they disagree is reported as ``gold tokens => predicted tokens``;
word-like tokens are reduced to a shape (``Aa`` for a capitalised word, ``9``
for digits ...) so that similar errors are counted together.

Usage::

    python scripts/tokenizer_agreement.py                 # EWT dev
    python scripts/tokenizer_agreement.py train           # en_ewt-ud-train.conllu
    python scripts/tokenizer_agreement.py path/to/file.conllu --show 20

The data directory is ``$RNNCLI_EWT_DIR`` if set, else ``../shared/data/en_ewt``
relative to the repository root.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import read_texts  # noqa: E402  (also puts the repo on sys.path)

from rnncli.errors import CorpusError  # noqa: E402
from rnncli.recipes import ewt_dir, ewt_file  # noqa: E402
from rnncli.tokenizer import line_tokens  # noqa: E402


def resolve_path(arg: str | None) -> Path:
    if arg is None:
        return ewt_file("dev")
    p = Path(arg)
    if p.is_file():
        return p
    # Convenience: accept a bare split name ("train", "dev", "test") or a file
    # name inside the data directory.
    for cand in (ewt_dir() / arg, ewt_file(arg)):
        if cand.is_file():
            return cand
    return p  # let the check in main() report it with the name the user gave


def spans(tokens: list[str]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for tok in tokens:
        # Whitespace inside a token (should never happen) is not counted, so
        # offsets stay comparable with the whitespace-free text.
        n = len("".join(tok.split()))
        out.append((pos, pos + n))
        pos += n
    return out


_SHAPE_SUBS = [
    (re.compile(r"[A-Z]"), "A"),
    (re.compile(r"[a-z]"), "a"),
    (re.compile(r"[0-9]"), "9"),
    (re.compile(r"[^\W\d_A-Za-z]"), "x"),  # other letters
    (re.compile(r"([Aa9x])\1+"), r"\1"),
]


def shape(tok: str) -> str:
    # Short punctuation-bearing tokens (n't, 's, Mr., ...) are informative as
    # they are; long or purely alphanumeric ones are only useful as a shape.
    if len(tok) <= 4 and not tok.isalnum():
        return tok
    s = tok
    for rx, rep in _SHAPE_SUBS:
        s = rx.sub(rep, s)
    return s


def diff_regions(gold: list[str], pred: list[str]):
    """Yield (gold_tokens, pred_tokens) for each minimal disagreeing stretch.

    A stretch ends at every offset where both segmentations have a token
    boundary; stretches whose tokens differ are the disagreements.
    """
    g_end = [e for _, e in spans(gold)]
    p_end = [e for _, e in spans(pred)]
    gi = pi = 0
    while gi < len(gold) or pi < len(pred):
        g0, p0 = gi, pi
        # Advance whichever side is behind until both reach the same boundary.
        gi += gi < len(gold)
        pi += pi < len(pred)
        while g_end[gi - 1] != p_end[pi - 1]:
            if g_end[gi - 1] < p_end[pi - 1] and gi < len(gold):
                gi += 1
            elif g_end[gi - 1] > p_end[pi - 1] and pi < len(pred):
                pi += 1
            else:
                # Only possible if the concatenations differ; report the rest.
                yield gold[g0:], pred[p0:]
                return
        if gold[g0:gi] != pred[p0:pi]:
            yield gold[g0:gi], pred[p0:pi]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("conllu", nargs="?", help="CoNLL-U file or split name (default: EWT dev)")
    ap.add_argument("--top", type=int, default=15, help="mismatch kinds to list (default 15)")
    ap.add_argument("--show", type=int, default=0, help="also print N disagreeing sentences")
    ap.add_argument("--speed-rounds", type=int, default=5,
                    help="timing repetitions over all texts; the best is reported (default 5)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    path = resolve_path(args.conllu)
    if not path.is_file():
        print(f"no such CoNLL-U file: {path} (data directory: {ewt_dir()}; "
              "set $RNNCLI_EWT_DIR or pass a path)", file=sys.stderr)
        return 2
    try:
        sents = [(text, s.words) for text, s in read_texts(path)]
    except CorpusError as e:
        print(e, file=sys.stderr)
        return 1
    if not sents:
        print(f"no sentences with '# text' found in {path}", file=sys.stderr)
        return 1

    n_exact = n_gold = n_pred = n_match = 0
    broken_invariant = gold_not_text = 0
    kinds: collections.Counter = collections.Counter()
    examples: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    shown = 0
    for text, gold in sents:
        pred = line_tokens(text)
        if "".join(pred) != "".join(text.split()):
            broken_invariant += 1
        if "".join(gold) != "".join(text.split()):
            gold_not_text += 1
        if pred == gold:
            n_exact += 1
        n_gold += len(gold)
        n_pred += len(pred)
        n_match += len(set(spans(gold)) & set(spans(pred)))
        if pred != gold:
            for g, p in diff_regions(gold, pred):
                kind = " ".join(map(shape, g)) + "  =>  " + " ".join(map(shape, p))
                kinds[kind] += 1
                examples[kind][(" ".join(g), " ".join(p))] += 1
            if shown < args.show:
                shown += 1
                print(f"TEXT: {text}\n GOLD: {' | '.join(gold)}\n PRED: {' | '.join(pred)}\n")

    texts = [t for t, _ in sents]
    best = float("inf")
    n_tok = 0
    for _ in range(max(1, args.speed_rounds)):
        t0 = time.perf_counter()
        n_tok = 0
        for t in texts:
            n_tok += len(line_tokens(t))
        best = min(best, time.perf_counter() - t0)

    p = n_match / n_pred if n_pred else 0.0
    r = n_match / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    print(f"file: {path}")
    print(f"sentences: {len(sents)}")
    print(f"exact sentence match: {n_exact}/{len(sents)} = {100 * n_exact / len(sents):.2f}%")
    print("token matching: by character span in the text with whitespace removed")
    print(f"gold tokens: {n_gold}  predicted: {n_pred}  matched: {n_match}")
    print(f"token precision: {100 * p:.2f}%  recall: {100 * r:.2f}%  F1: {100 * f:.2f}%")
    if broken_invariant:
        print(f"WARNING: {broken_invariant} sentences where our tokens do not concatenate "
              "to the text without whitespace")
    if gold_not_text:
        print(f"WARNING: {gold_not_text} sentences where the gold words do not concatenate "
              "to the text; span matching is unreliable there")
    print(f"speed: {n_tok / best:,.0f} tokens/s ({n_tok} tokens in {best * 1000:.1f} ms, "
          f"best of {args.speed_rounds} passes over the {len(texts)} texts)")
    print(f"\n{min(args.top, len(kinds))} most frequent mismatch kinds "
          "(count, gold => predicted as shapes, its most frequent example):")
    for kind, c in kinds.most_common(args.top):
        (g, pr), _ = examples[kind].most_common(1)[0]
        print(f"{c:5d}  {kind:40s}  e.g. {g!r} => {pr!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
