"""The course's translation tasks: chapter 1-2's number task and verse task, and their models.

Imports run one way: tasks -> models (:mod:`d2lt.seq2seq`, :mod:`d2lt.bahdanau`) ->
:mod:`d2lt.attention`. A *task* bundles what an experiment needs -- pairs, vocabularies built
on the training side, padded tensors -- and the builders here make the models the chapters
and the shipped checkpoints share.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from . import validate as check
from .bahdanau import Seq2SeqAttentionDecoder
from .seq2seq import (PairTensors, Seq2SeqConfig, Seq2SeqDecoder, _check_pairs, _check_vocab, pair_tensors,
                      rnn_seq2seq)
from .text import Vocab, tokenize

# --------------------------------------------------------------------------- the verse task

@dataclass
class TranslationTask:
    """Everything a translation experiment needs: pairs, vocabularies, tensors and lengths."""

    train_pairs: list
    test_pairs: list
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_steps: int
    tgt_steps: int
    train: PairTensors

    def __post_init__(self):
        """The invariants every task keeps (a task edited by hand is checked again by :meth:`check`)."""
        self.check()

    def check(self):
        """Raise TypeError/ValueError unless the parts of the task fit together.

        Pairs are non-empty lists of ``(source, target, ...)`` strings; the vocabularies are
        ``Vocab``s; ``train`` is a :class:`PairTensors` with one row per training pair, ``src_steps``
        source and ``tgt_steps`` target columns, and ids inside the vocabularies.
        """
        _check_pairs(self.train_pairs, "train_pairs")
        _check_pairs(self.test_pairs, "test_pairs")
        _check_vocab(self.src_vocab, "src_vocab")
        _check_vocab(self.tgt_vocab, "tgt_vocab")
        check.integer(self.src_steps, "src_steps", low=1)
        check.integer(self.tgt_steps, "tgt_steps", low=1)
        t = self.train
        if not isinstance(t, PairTensors):
            raise TypeError(f"train must be a d2lt.seq2seq.PairTensors, got {check.describe(t)}")
        if len(t) != len(self.train_pairs):
            raise ValueError(f"train has {len(t)} rows but there are {len(self.train_pairs)} train_pairs")
        if t.src.shape[1] != self.src_steps or t.tgt.shape[1] != self.tgt_steps:
            raise ValueError(f"train must have {self.src_steps} source and {self.tgt_steps} target steps, got "
                             f"src {tuple(t.src.shape)} and tgt {tuple(t.tgt.shape)}")
        for name, ids, vocab in (("src", t.src, self.src_vocab), ("dec_in", t.dec_in, self.tgt_vocab),
                                 ("tgt", t.tgt, self.tgt_vocab)):
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(vocab)):
                raise ValueError(f"train.{name} holds ids outside [0, {len(vocab) - 1}] (its vocabulary): "
                                 f"min {int(ids.min())}, max {int(ids.max())}")
        return self

    def settings(self) -> dict:
        """What a checkpoint must agree on besides the model config."""
        return {"src_vocab": len(self.src_vocab), "tgt_vocab": len(self.tgt_vocab),
                "src_steps": self.src_steps, "tgt_steps": self.tgt_steps,
                "vocab_hash": fingerprint_tokens(self.src_vocab.idx_to_token + ["|"] + self.tgt_vocab.idx_to_token)}


def fingerprint_tokens(tokens) -> str:
    """A short hash of a token list (a vocabulary's identity in a checkpoint config)."""
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise TypeError(f"tokens must be a list of str, got {check.describe(tokens)}")
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise TypeError(f"tokens[{i}] must be a str, got {check.describe(t)}")
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:12]


def translation_task(train_pairs, test_pairs, min_freq: int = 2, src_steps=None, tgt_steps=None,
                     max_vocab: int | None = None) -> TranslationTask:
    """Build vocabularies on the training side and pad both sets (lengths from the data if not given).

    ``train_pairs``/``test_pairs`` are non-empty lists of ``(source, target, ...)`` whose first two
    items are strings; ``src_steps``/``tgt_steps`` are None (the longest training sentence, plus
    one for ``<eos>``) or positive ints.
    """
    _check_pairs(train_pairs, "train_pairs")
    _check_pairs(test_pairs, "test_pairs")
    src_steps = None if src_steps is None else check.integer(src_steps, "src_steps", low=1)
    tgt_steps = None if tgt_steps is None else check.integer(tgt_steps, "tgt_steps", low=1)
    src_toks = [tokenize(p[0]) for p in train_pairs]
    tgt_toks = [tokenize(p[1]) for p in train_pairs]
    sv = Vocab(src_toks, min_freq=min_freq, max_size=max_vocab)
    tv = Vocab(tgt_toks, min_freq=min_freq, max_size=max_vocab)
    src_steps = src_steps if src_steps is not None else max(map(len, src_toks)) + 1
    tgt_steps = tgt_steps if tgt_steps is not None else max(map(len, tgt_toks)) + 1
    return TranslationTask(list(train_pairs), list(test_pairs), sv, tv, src_steps, tgt_steps,
                           pair_tensors(train_pairs, sv, tv, src_steps, tgt_steps))


#: The chapter-1/2 verse experiment: English (WEB) -> French (Louis Segond), verses of <= 25 words.
VERSES = {"src": "web", "tgt": "lsg", "max_words": 25, "min_freq": 2, "max_vocab": 4000}


def verse_task(limit: int | None = None, **overrides) -> TranslationTask:
    """The verse translation task of chapters 1-2 (``VERSES`` settings; ``overrides`` replace them).

    ``limit`` (None or a positive int) keeps a fixed random subset of that many training pairs
    (all of them if there are fewer); the vocabularies stay those of the whole training split,
    so a model for the full task fits the trimmed one.
    """
    from . import data

    if limit is not None:
        limit = check.integer(limit, "limit", low=1)
    unknown = sorted(set(overrides) - set(VERSES))
    if unknown:
        raise TypeError(f"verse_task got unknown settings {unknown}; the settings are {sorted(VERSES)}")
    s = {**VERSES, **overrides}
    train = data.load_verses(s["src"], s["tgt"], "train", max_words=s["max_words"])
    test = data.load_verses(s["src"], s["tgt"], "test", max_words=s["max_words"])
    task = translation_task([(p.src, p.tgt) for p in train], [(p.src, p.tgt) for p in test],
                            min_freq=s["min_freq"], max_vocab=s["max_vocab"])
    if limit is not None and limit < len(task.train):
        g = torch.Generator().manual_seed(0)
        keep = torch.randperm(len(task.train), generator=g)[:limit]
        t = task.train
        task.train = PairTensors(t.src[keep], t.src_len[keep], t.dec_in[keep], t.tgt[keep], t.tgt_len[keep])
        task.train_pairs = [task.train_pairs[i] for i in keep.tolist()]  # row i of train is pair i
        task.check()
    return task

#: Source-length buckets (in tokens) for the verse experiment.
VERSE_EDGES = [1, 12, 18, 24, 30, 60]


#: The verse checkpoints the course ships: chapter 1's plain GRU model and chapter 2's attention model.
VERSE_CHECKPOINTS = {"gru": "ch01_gru_verses.pt", "attention": "ch02_attention_verses.pt"}


def verse_model(kind: str, task: TranslationTask):
    """The ``kind`` ('gru' or 'attention') verse model (embedding 128, hidden 256) for ``task``.

    Returns ``(model, config, checkpoint_path)``; ``config`` is what the checkpoint must match.
    """
    from . import train

    check.string(kind, "kind", choices=sorted(VERSE_CHECKPOINTS))
    if not isinstance(task, TranslationTask):
        raise TypeError(f"task must be a d2lt.tasks.TranslationTask (e.g. verse_task()), "
                        f"got {check.describe(task)}")
    cfg = Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), embed_size=128, num_hiddens=256)
    model = rnn_seq2seq(cfg, Seq2SeqDecoder if kind == "gru" else Seq2SeqAttentionDecoder)
    return model, {**cfg.to_dict(), **task.settings()}, train.course_checkpoint(VERSE_CHECKPOINTS[kind])


# --------------------------------------------------------------------------- the number task

#: Source-length buckets (in tokens) for the number task of chapters 1 and 2.
NUMBER_EDGES = [1, 6, 11, 16, 21, 26, 31, 41]


def number_task(profile) -> TranslationTask:
    """Chapters 1 and 2's controlled task: numbers spelled out in English -> French.

    The profile sets the size: ``ci`` draws numbers below 10**9 (sources of up
    to about 22 tokens), ``cpu``/``gpu`` below 10**12 (up to about 30 tokens),
    so a model trained longer still meets inputs long enough to show the
    bottleneck. No test number occurs in training: short numbers are few (there
    are only 100 below 100), so without this rule the shortest test bucket
    would measure memory rather than translation.
    """
    from . import data
    from .core import Profile

    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a d2lt.Profile (d2lt.setup().profile), got {type(profile).__name__}")
    hi = profile.pick(ci=10**9, cpu=10**12)
    train_pairs = data.number_pairs(profile.pick(ci=12_000, cpu=40_000, gpu=100_000), 0, hi, seed=1)
    seen = {x for _, _, x in train_pairs}
    test_pairs = [p for p in data.number_pairs(profile.pick(ci=1_000, cpu=2_500), 0, hi, seed=2) if p[2] not in seen]
    return translation_task(train_pairs, test_pairs, min_freq=1)
