"""Scoring predicted tags against gold ones."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from .corpus import corpus_name
from .errors import CorpusError
from .vocab import recased


def score(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], words: Sequence[Sequence[str]],
          is_known: Callable[[str], bool], n_confusions: int = 10) -> dict:
    """Token accuracy (overall, on known and on unknown words), per-tag P/R/F1, top confusions.

    All rates are fractions; a rate over zero tokens is None.
    """
    right = total = known_right = known_total = sentences_right = 0
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    for g_sent, p_sent, w_sent in zip(gold, predicted, words, strict=True):
        all_right = True
        for g, p, w in zip(g_sent, p_sent, w_sent, strict=True):
            ok = g == p
            known = is_known(w)
            total += 1
            right += ok
            known_total += known
            known_right += ok and known
            n_gold[g] += 1
            n_pred[p] += 1
            if ok:
                tp[g] += 1
            else:
                confusions[g, p] += 1
                all_right = False
        sentences_right += all_right

    def rate(a, b):
        return a / b if b else None

    per_tag = {}
    for tag in sorted(n_gold.keys() | n_pred.keys(), key=lambda t: (-n_gold[t], t)):
        precision, recall = rate(tp[tag], n_pred[tag]), rate(tp[tag], n_gold[tag])
        f1 = (2 * precision * recall / (precision + recall)) if precision and recall else 0.0
        per_tag[tag] = {"precision": precision, "recall": recall, "f1": f1, "support": n_gold[tag]}
    return {
        "accuracy": rate(right, total),
        "tokens": total,
        "sentences": len(gold),
        "sentence_accuracy": rate(sentences_right, len(gold)),
        "known_accuracy": rate(known_right, known_total),
        "known_tokens": known_total,
        "unknown_accuracy": rate(right - known_right, total - known_total),
        "unknown_tokens": total - known_total,
        "per_tag": per_tag,
        "confusions": [{"gold": g, "predicted": p, "count": n} for (g, p), n in confusions.most_common(n_confusions)],
    }


def check_tag_set(gold: Sequence, tags: Sequence[str], source: str, whose: str = "the model") -> list[str]:
    """The gold tags not among ``tags``, most frequent first. Raises ``CorpusError`` when they are
    most of the gold (XPOS gold for a UPOS model, another tag set): an accuracy on it would say
    nothing, and a dev set so tagged would pick the epoch kept by nothing."""
    counts = Counter(t for s in gold for t in s.tags)
    unseen = sorted(set(counts) - set(tags), key=lambda t: (-counts[t], t))
    share = sum(counts[t] for t in unseen) / max(sum(counts.values()), 1)
    if share > 0.5:
        raise CorpusError(f"{corpus_name(source)}: {share:.0%} of the gold tags are not tags of {whose} "
                          f"({_some(unseen)}; {whose}'s: {_some(list(tags))}): another tag set?")
    return unseen


def evaluate(tagger, gold: Sequence, source: str = "<gold>", case: str | None = None,
             without_memory: bool = False) -> dict:
    """``score`` of a tagger on gold ``Sentence``s, as ``rnncli eval`` reports it: the words
    recased first with ``case`` ('lower', 'title'; known and unknown words counted as recased,
    the words the model is given; ``report["case"]`` says which),
    and with ``without_memory`` a second score, ``report["without_memory"]``, of the network
    with every W s_{t-1} dropped. ``report["unseen_tags"]`` lists the gold tags the model does
    not have, and so never predicts. Gold whose tags are mostly not the model's (XPOS gold for a
    UPOS model, another tag set) raises ``CorpusError`` naming them: its accuracy would say
    nothing of the model."""
    unseen = check_tag_set(gold, tagger.tags, source)
    words = [s.words for s in gold]
    given = words
    if case is not None:
        given = recased(words, case)
    tagger.widen_lookups(sum(map(len, words)))
    tags = [s.tags for s in gold]
    report = score(tags, tagger.tag(given), given, tagger.vocab.is_known)
    report["unseen_tags"] = unseen
    report["case"] = case
    if without_memory:
        report["without_memory"] = score(tags, tagger.without_memory().tag(given), given, tagger.vocab.is_known)
    return report


def _some(tags: Sequence[str], n: int = 8) -> str:
    return " ".join(tags[:n]) + (" ..." if len(tags) > n else "")
