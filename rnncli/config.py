"""The hyper-parameters of training: one definition, from which the rest is derived.

Each field of ``TrainConfig`` carries what the command line shows of it (help, range,
choices) in its metadata: ``rnncli train`` makes one option of each, a checkpoint's record is
checked against the same ranges, and the fields that a resumed run may change are marked.
No NumPy here: the command line reads this module before it decides how many BLAS threads
NumPy may start.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

# x_t: which slots of a word light up (vocab.py defines each slot's extractor).
MAX_LAYERS = 4  # stacked layers: what training offers, and so all a model file may declare
FEATURE_SETS = {
    "word": ("word",),
    "form": ("word", "lower", "suf1", "suf2", "suf3", "suf4", "pre1", "pre2", "pre3", "shape"),
}
# What an English lexicon says of a word (lexicon.py reads them): its cluster, frequency and
# capitalisation, and how it can be a noun, verb, adjective or adverb (WORD_CLASSES). The 'lexicon'
# set adds them to form's, and the case the sentence is written in (vocab.sentence_case).
WORD_CLASSES = ("noun", "verb", "adj", "adv")
LEXICON_SLOTS = ("cluster4", "cluster6", "cluster10", "cluster20", "logp", "caps") + WORD_CLASSES
FEATURE_SETS["lexicon"] = FEATURE_SETS["form"] + LEXICON_SLOTS + ("case",)
OPTIMIZERS = ("adam", "sgd")  # update rules (optim.py implements each)
STORES = ("float32", "float16")  # how a model file holds the weights (Tagger.save)
# The cases text can be recased into: training's --recase, eval's --case (vocab.CASES: how).
RECASINGS = ("lower", "title")


def _hyper(default, help: str, **spec):
    """A hyper-parameter with its option's help and ``spec``: min, max (inclusive), open_min
    (min excluded), choices, resumable (a resumed run may give another value)."""
    return field(default=default, metadata={"help": help, **spec})


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = _hyper(64, "Hidden units H (the size of s_t).", min=1)
    epochs: int = _hyper(10, "Passes over the corpus.", min=1, resumable=True)
    lr: float = _hyper(0.01, "Learning rate.", min=0.0, open_min=True)
    batch_size: int = _hyper(16, "Sentences per update.", min=1)
    seed: int = _hyper(0, "Random seed: the same seed gives the same model.", min=0)
    bidirectional: bool = _hyper(False, "Add a backward RNN over each sentence.")
    layers: int = _hyper(1, "Stacked RNN layers.", min=1, max=MAX_LAYERS)
    features: str = _hyper("word", "x_t: 'word' is the tutorial's one-hot word; 'form' adds suffixes, "
                                   "prefixes and shape; 'lexicon' adds an English lexicon's word clusters "
                                   "and frequencies (pip install 'rnncli[lexicon]') and the sentence's "
                                   "case.", choices=tuple(FEATURE_SETS))
    dropout: float = _hyper(0.0, "Dropout on each layer's input and output.", min=0.0, max=0.9)
    word_dropout: float = _hyper(0.25, "A word seen n times is replaced by <unk> with probability a/(a+n) "
                                       "during training.", min=0.0)
    char_hidden: int = _hyper(0, "Units of a character-level Elman RNN that reads each word's letters into "
                                 "x_t (0: none).", min=0)
    adversarial: float = _hyper(0.0, "Adversarial training: run each batch again with the first layer's inputs "
                                     "U x_t pushed along the gradient of the loss, by this much per token (root "
                                     "mean square; a trained U x_t in the bundled model has a norm of about 11). "
                                     "0: off.", min=0.0)
    average: float = _hyper(0.0, "Keep an exponential moving average of the weights with this decay (e.g. "
                                 "0.999) and save it (0: off).", min=0.0, max=0.99999)
    optimizer: str = _hyper("adam", "Update rule.", choices=OPTIMIZERS)
    clip: float = _hyper(5.0, "Largest gradient norm (0: no clipping).", min=0.0)
    recase: float = _hyper(0.0, "Each epoch, add this share of the training sentences again in lower case, and "
                                "as much again with Every Word Capitalised, so that the model tags text in "
                                "any case (0: off).", min=0.0, max=1.0)
    patience: int = _hyper(0, "Stop after this many epochs without a better dev score (0: never).", min=0,
                           resumable=True)
    # What the model file keeps: not training itself, so a resumed run may choose again.
    store: str = _hyper("float32", "How the model file holds the weights: float16 halves them, rounded to 3 "
                                   "significant digits (a tag changes only between two near-equal ones).",
                        choices=STORES, resumable=True)
    store_min_count: int = _hyper(1, "Words seen fewer times than this in training are trained with an entry "
                                     "of their own, but the model file keeps none: they are read as <unk> in the "
                                     "word slot, with their other slots (lower-cased form, affixes, shape, "
                                     "lexicon) as they were. 2 drops the words seen once (1: keeps all).",
                                  min=1, resumable=True)
    # Not on the command line (the build scripts set them):
    # occurrences a word needs for an entry of its own, in training already (store_min_count: in the file only)
    min_count: int = field(default=1, metadata={"min": 1})
    min_feature_count: int = field(default=2, metadata={"min": 1})  # likewise for a suffix, prefix or shape

    def __post_init__(self):
        for f in fields(self):
            problem = check(f, getattr(self, f.name))
            if problem:
                raise ValueError(f"{f.name} {problem}")

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config in ``d``: other keys are ignored, a missing one keeps its default (a
        record written before it existed); a value of the wrong type or range is a ValueError."""
        if not isinstance(d, dict):
            raise TypeError("the config is not an object")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


def check(f, value) -> str | None:
    """What is wrong with ``value`` for field ``f`` (its type, range or choices), or None."""
    spec = f.metadata
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, not {value!r:.40}"
    if kind == "str":
        choices = spec.get("choices", ())
        return None if isinstance(value, str) and value in choices else \
            f"must be one of {', '.join(choices)}, not {value!r:.40}"
    if isinstance(value, bool) or not isinstance(value, int if kind == "int" else (int, float)):
        return f"must be a number{' (a whole one)' if kind == 'int' else ''}, not {value!r:.40}"
    if kind == "float" and not math.isfinite(value):
        return f"must be a finite number, not {value}"  # the model's metadata is JSON: no infinity
    low, high = spec.get("min"), spec.get("max", 2**31 - 1 if kind == "int" else None)
    if low is not None and (value <= low if spec.get("open_min") else value < low):
        return f"must be {'greater than' if spec.get('open_min') else 'at least'} {low}, not {value}"
    if high is not None and value > high:
        return f"must be at most {high}, not {value}"
    return None


# A checkpoint fixes every hyper-parameter but the length of training and what the file keeps.
CHECKPOINTED = tuple(f.name for f in fields(TrainConfig) if not f.metadata.get("resumable"))
RESUMABLE = tuple(f.name for f in fields(TrainConfig) if f.metadata.get("resumable"))
OPTIONS = tuple(f for f in fields(TrainConfig) if "help" in f.metadata)  # those on the command line

# The environment variables that set BLAS's thread count (OpenBLAS, OpenMP, MKL), read when NumPy loads.
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
