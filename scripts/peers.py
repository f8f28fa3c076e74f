"""The taggers the benchmarks set beside rnncli, each trained on the same sentences.

- NLTK's averaged perceptron (``PerceptronTagger(load=False)``), seeded as the recipe is;
- a linear-chain CRF from python-crfsuite: lower-cased word, 2- and 3-letter suffixes,
  all-caps/title/digit flags, previous and next lower-cased word; L-BFGS with c1=0.1, c2=0.01;
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


def crf_features(words: list[str]) -> list[list[str]]:
    """The CRF's features of each word of a sentence."""
    lower = [w.lower() for w in words]
    last = len(words) - 1
    out = []
    for i, w in enumerate(words):
        f = ["bias", "w=" + lower[i], "s3=" + lower[i][-3:], "s2=" + lower[i][-2:],
             "-1w=" + lower[i - 1] if i else "BOS", "+1w=" + lower[i + 1] if i < last else "EOS"]
        if w.isupper():
            f.append("upper")
        if w.istitle():
            f.append("title")
        if w.isdigit():
            f.append("digit")
        out.append(f)
    return out


def crf_tagger(sentences: list[Sentence], iterations: int, path: Path):
    """A python-crfsuite CRF trained on ``sentences`` and saved to ``path``, opened for tagging."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for s in sentences:
        trainer.append(crf_features(s.words), s.tags)
    trainer.set_params({"c1": 0.1, "c2": 0.01, "max_iterations": iterations, "feature.possible_transitions": True})
    trainer.train(str(path))
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    return tagger


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
