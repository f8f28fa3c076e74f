"""The taggers the benchmarks set beside rnncli, each trained on the same sentences.

- NLTK's averaged perceptron (``PerceptronTagger(load=False)``), seeded as the recipe is;
- a linear-chain CRF from python-crfsuite, L-BFGS with c1=0.1, c2=0.01, with one of two feature
  sets (``crf_features``): a few (lower-cased word, 2- and 3-letter suffixes, all-caps/title/digit
  flags, previous and next lower-cased word), or the rich set a careful user would run (prefixes
  and suffixes of 1 to 3 letters, a hyphen flag, and the neighbours' 3-letter suffixes as well);
- the same Elman network in PyTorch, for one timed epoch over rnncli's own batches.

Each library is imported only when its peer is asked for: a peer whose library is missing
raises ImportError (``import_torch`` returns None), and the benchmark says so in its row.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from rnncli import rnn
from rnncli.config import TrainConfig
from rnncli.corpus import Sentence
from rnncli.recipes import ENGLISH
from rnncli.train import Data, build_vocab, dropout_slots, length_batches, word_dropout


def nltk_perceptron(sentences: list[Sentence], iterations: int):
    """NLTK's averaged perceptron trained on ``sentences``: (tagger, seconds of training)."""
    from nltk.tag.perceptron import PerceptronTagger

    random.seed(ENGLISH.seed)  # the perceptron shuffles the sentences with the random module
    tagger = PerceptronTagger(load=False)
    started = time.perf_counter()
    tagger.train([list(zip(s.words, s.tags)) for s in sentences], nr_iter=iterations)
    return tagger, time.perf_counter() - started


def crf_features(words: list[str], rich: bool = False) -> list[list[str]]:
    """The CRF's features of each word of a sentence: the few, or with ``rich`` the usual rich POS set."""
    lower = [w.lower() for w in words]
    last = len(words) - 1
    out = []
    for i, w in enumerate(words):
        word = lower[i]
        f = ["bias", "w=" + word]
        if rich:
            f += ["p1=" + word[:1], "p2=" + word[:2], "p3=" + word[:3], "s1=" + word[-1:], "s2=" + word[-2:],
                  "s3=" + word[-3:]]
        else:
            f += ["s3=" + word[-3:], "s2=" + word[-2:]]
        f += neighbour("-1", lower[i - 1], rich) if i else ["BOS"]
        f += neighbour("+1", lower[i + 1], rich) if i < last else ["EOS"]
        if w.isupper():
            f.append("upper")
        if w.istitle():
            f.append("title")
        if w.isdigit():
            f.append("digit")
        if rich and "-" in w:
            f.append("hyphen")
        out.append(f)
    return out


def neighbour(where: str, word: str, rich: bool) -> list[str]:
    """The features of the previous (``where`` -1) or next (+1) lower-cased word."""
    return [where + "w=" + word, where + "s3=" + word[-3:]] if rich else [where + "w=" + word]


def crf_tagger(sentences: list[Sentence], iterations: int, path: Path, rich: bool = False):
    """A python-crfsuite CRF trained on ``sentences`` with the few or the ``rich`` features and saved
    to ``path``, opened for tagging."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for s in sentences:
        trainer.append(crf_features(s.words, rich), s.tags)
    trainer.set_params({"c1": 0.1, "c2": 0.01, "max_iterations": iterations, "feature.possible_transitions": True})
    trainer.train(str(path))
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    return tagger


def accuracy(tag, sentences: list[Sentence]) -> float:
    """The share of the tokens of ``sentences`` (gold tokens) whose tag ``tag(words)`` gets right."""
    right = total = 0
    for s in sentences:
        right += sum(p == g for p, g in zip(tag(s.words), s.tags, strict=True))
        total += len(s.tags)
    return right / total


def import_torch(threads: int):
    """PyTorch with ``threads`` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


class TorchEpoch:
    """One epoch of the same network in PyTorch, over rnncli's own batches and encoding."""

    def __init__(self, torch, sentences: list[Sentence], config: TrainConfig):
        self.torch, self.config = torch, config
        vocab, counts, tags, _ = build_vocab(sentences, config)
        self.data = Data.encode(sentences, vocab, {t: i for i, t in enumerate(tags)})
        self.shape = rnn.Shape(vocab.n_inputs, config.hidden, len(tags), config.bidirectional, config.layers)
        self.n_slots = vocab.n_slots
        self.drop_slots = dropout_slots(vocab)
        self.keep_prob = counts / (counts + config.word_dropout) if config.word_dropout else None

    def model(self):
        nn = self.torch.nn
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        shape, dropout, n_slots = self.shape, self.config.dropout, self.n_slots

        class ElmanTagger(nn.Module):
            def __init__(self):
                super().__init__()
                H = shape.n_hidden
                # Several feature ids per token are summed, which is what U x_t does for a K-hot x_t.
                self.embed = (nn.Embedding(shape.n_inputs, H) if n_slots == 1
                              else nn.EmbeddingBag(shape.n_inputs, H, mode="sum"))
                self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
                self.rnn = nn.RNN(H, H, shape.n_layers, nonlinearity="tanh", bidirectional=shape.bidirectional,
                                  dropout=dropout if shape.n_layers > 1 else 0.0)
                self.out = nn.Linear(shape.n_out, shape.n_tags)

            def inputs(self, ids):
                T, B, K = ids.shape
                return self.embed(ids[..., 0]) if K == 1 else self.embed(ids.reshape(T * B, K)).view(T, B, -1)

            def forward(self, x, lengths):
                T = x.shape[0]
                x = self.drop(x)
                if shape.bidirectional:
                    y, _ = self.rnn(pack_padded_sequence(x, lengths, enforce_sorted=False))
                    y, _ = pad_packed_sequence(y, total_length=T)
                else:
                    y, _ = self.rnn(x)  # right padding cannot reach a real step going forward
                return self.out(self.drop(y))

        return ElmanTagger()

    def seconds(self) -> float:
        torch, config, data = self.torch, self.config, self.data
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        torch.manual_seed(config.seed)
        model = self.model()
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        average = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.average))
                   if config.average else None)
        rng = np.random.default_rng(config.seed)
        started = time.perf_counter()
        for which in length_batches(data.lengths, config.batch_size, rng):
            ids, lengths, gold, *_ = data.batch(which)
            if self.keep_prob is not None:
                word_dropout(ids, self.drop_slots, self.keep_prob, rng)
            gold[np.arange(gold.shape[0])[:, None] >= lengths[None, :]] = -100
            gold_t, lengths_t = torch.from_numpy(gold).flatten(), torch.from_numpy(lengths)

            def loss_of(x):
                return torch.nn.functional.cross_entropy(model(x, lengths_t).flatten(0, 1), gold_t, ignore_index=-100)

            x = model.inputs(torch.from_numpy(ids.astype(np.int64)))
            loss = loss_of(x)
            if config.adversarial:  # as rnncli: the mean of the loss and the loss at x + r
                g, = torch.autograd.grad(loss, x, retain_graph=True)
                scale = config.adversarial * lengths_t.double().sqrt() / g.double().pow(2).sum(dim=(0, 2)).sqrt().clamp_min(1e-12)
                loss = (loss + loss_of(x + g * scale.to(g.dtype)[None, :, None])) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            if average is not None:
                average.update_parameters(model)
        return time.perf_counter() - started
