"""Checks for the chapter-1 exercises (sequence to sequence with RNNs).

Every check builds its own test material, computes the right answer with its
own code and compares; a failure says what is wrong without printing the
answer.
"""
import contextlib
import math
import random

import torch

from . import expect, not_none, passed
from .. import metrics, seq2seq


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


def _model(seed, V=13, E=8, H=16, layers=1):
    torch.manual_seed(seed)
    return seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(V, V, E, H, num_layers=layers)).eval()


@torch.no_grad()
def _free_run(model, src, src_len, bos, steps):
    """The model's own greedy tokens, ``steps`` of them, never stopping at <eos>: (B, steps)."""
    state = model.decoder.init_state(model.encoder(src, src_len), src_len)
    y, out = torch.full((src.shape[0], 1), bos, dtype=torch.long), []
    for _ in range(steps):
        logits, state = model.decoder(y, state)
        y = logits[:, -1:].argmax(-1)
        out.append(y)
    return torch.cat(out, dim=1)


# ------------------------------------------------------------------ task 1: exact match

def _targets_the_model_almost_knows(model, seed, B=48, Ts=7, T=10, bos=1, pad=0, V=13):
    """A batch whose targets are the model's own greedy output with some tokens changed.

    The model never predicts ``pad`` (its output bias there is very negative, as
    for a trained model), and ``<eos>`` is the token it writes most often, so
    many of its own sentences end by themselves. Where a target token and its
    prefix are untouched, teacher forcing is right; after a changed token the
    prefix differs and later tokens may go either way. Returns the batch and
    the ``<eos>`` id.
    """
    with torch.no_grad():
        model.decoder.dense.bias[pad] = -1e4
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, V, (B, Ts), generator=g)
    src_len = torch.randint(2, Ts + 1, (B,), generator=g)
    own = _free_run(model, src, src_len, bos, T)                  # (B, T), never pad
    counts = torch.bincount(own[:, 2:].flatten(), minlength=V)
    counts[[pad, bos]] = -1
    eos = int(counts.argmax())
    steps = torch.arange(T)[None]
    late = (own == eos) & (steps >= 2)                             # sentences of at least three tokens
    first = torch.where(late, steps, T - 1).min(dim=1).values       # first <eos> from there, or the last step
    tgt = own.clone()
    tgt[torch.arange(B), first] = eos
    others = torch.tensor([i for i in range(2, V) if i not in (eos, bos, pad)])
    tgt[(tgt == eos) & (steps < first[:, None])] = others[0]        # no <eos> inside a sentence
    change = (torch.rand(B, T, generator=g) < 0.1) & (steps < first[:, None])
    tgt[change] = others[torch.randint(len(others), (int(change.sum()),), generator=g)]
    tgt[steps > first[:, None]] = pad
    dec_in = torch.cat([torch.full((B, 1), bos), tgt[:, :-1]], dim=1)
    dec_in[dec_in == eos] = pad
    return (src, src_len, dec_in, tgt), eos


def task1(accuracy_fn):
    """``accuracy_fn(model, batch, pad) -> {"token": float, "sentence": float}`` under teacher forcing.

    ``batch`` is ``(src, src_len, dec_in, tgt)`` as the chapter's loaders yield it.
    "token": the share of real target tokens (``<eos>`` included, padding not)
    whose most likely prediction is right; "sentence": the share of sentences
    whose real target tokens are all right. The check also confirms the property
    the exercise asks about: "sentence" equals the greedy exact-match rate.
    """
    not_none(accuracy_fn, "task 1")
    bos, pad = 1, 0
    for trial in range(4):
        model = _model(100 + trial, layers=1 + trial % 2)
        (src, src_len, dec_in, tgt), eos = _targets_the_model_almost_knows(model, 200 + trial)
        with torch.no_grad():
            got = accuracy_fn(model, (src, src_len, dec_in, tgt), pad)
        expect(isinstance(got, dict) and set(got) == {"token", "sentence"},
               f"expected a dict with the keys 'token' and 'sentence', got {got!r}")
        for k, v in got.items():
            expect(isinstance(v, (float, int)) and not isinstance(v, bool) and 0 <= v <= 1,
                   f"{k!r} must be a share between 0 and 1 (a float), got {v!r}")
        with torch.no_grad():
            pred = model(src, dec_in, src_len).argmax(-1)           # (B, T)
        real = tgt != pad
        right = (pred == tgt) & real
        want_token = right.sum().item() / real.sum().item()
        want_sentence = int((right | ~real).all(1).sum()) / len(tgt)
        expect(0.05 < want_sentence < 0.95 and want_token < 0.99, "internal: a degenerate test batch")
        expect(abs(got["token"] - want_token) < 1e-6,
               f"trial {trial + 1}: 'token' is wrong. Count only real target tokens (<eos> included, "
               "padding not), pooled over the whole batch, not averaged per sentence")
        expect(abs(got["sentence"] - want_sentence) < 1e-6,
               f"trial {trial + 1}: 'sentence' is wrong: a sentence counts when every real target "
               "token (its <eos> too) is predicted right")
        # the property: greedy decoding reproduces a target exactly iff teacher forcing gets all of it right
        ids, _ = seq2seq.greedy_decode(model, src, src_len, bos, eos, tgt.shape[1])
        exact = [ids[b, : int(real[b].sum())].tolist() == tgt[b, : int(real[b].sum())].tolist()
                 for b in range(len(ids))]
        expect(abs(sum(exact) / len(exact) - want_sentence) < 1e-9,
               "internal: greedy exact match and teacher-forced sentence accuracy disagree")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: scheduled sampling

def _sampling_batch(seed, B=64, Ts=6, T=10, V=13, bos=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, V, (B, Ts), generator=g)
    src_len = torch.randint(1, Ts + 1, (B,), generator=g)
    dec_in = torch.randint(4, V, (B, T), generator=g)
    dec_in[:, 0] = bos
    return src, src_len, dec_in


def _call_sampling(fn, model, src, src_len, dec_in, eps, seed):
    got = fn(model, src, src_len, dec_in, eps, torch.Generator().manual_seed(seed))
    expect(isinstance(got, tuple) and len(got) == 3,
           f"expected a tuple (logits, inputs, from_model), got {type(got).__name__}")
    logits, inputs, from_model = got
    B, T = dec_in.shape
    V = model.decoder.dense.out_features
    for name, x, shape in (("logits", logits, (B, T, V)), ("inputs", inputs, (B, T)),
                           ("from_model", from_model, (B, T))):
        expect(torch.is_tensor(x) and tuple(x.shape) == shape, f"{name}: expected shape {shape}, got {_shape(x)}")
    expect(from_model.dtype == torch.bool, f"from_model must be a bool tensor, got {from_model.dtype}")
    expect(not inputs.is_floating_point(), f"inputs must hold token ids (integers), got {inputs.dtype}")
    return logits, inputs.long(), from_model


def task2(sampling_fn):
    """``sampling_fn(model, src, src_len, dec_in, eps, generator) -> (logits, inputs, from_model)``.

    Scheduled sampling: at every step t >= 1, independently for every sentence
    and with probability ``eps``, the decoder reads its own most likely token of
    step t-1 instead of the true one ``dec_in[:, t]``; step 0 always reads
    ``dec_in[:, 0]`` (``<bos>``). ``inputs`` are the tokens the decoder actually
    read, ``from_model`` marks those that came from the model.
    """
    not_none(sampling_fn, "task 2")
    for trial in range(3):
        model = _model(300 + trial, layers=1 + trial % 2)
        src, src_len, dec_in = _sampling_batch(400 + trial)
        B, T = dec_in.shape
        with torch.no_grad():
            teacher = model(src, dec_in, src_len)
            free = _free_run(model, src, src_len, 1, T)
            # eps = 0: plain teacher forcing
            logits, inputs, from_model = _call_sampling(sampling_fn, model, src, src_len, dec_in, 0.0, trial)
            expect(not from_model.any() and torch.equal(inputs, dec_in),
                   "with eps = 0 the decoder must read the true tokens only")
            expect(torch.allclose(logits, teacher, atol=1e-5),
                   "with eps = 0 the logits must equal teacher forcing, model(src, dec_in, src_len)")
            # eps = 1: the decoder runs free on its own greedy tokens
            logits, inputs, from_model = _call_sampling(sampling_fn, model, src, src_len, dec_in, 1.0, trial)
            expect(not from_model[:, 0].any() and bool(from_model[:, 1:].all()),
                   "with eps = 1 every step after the first must read the model's token (and step 0 <bos>)")
            expect(torch.equal(inputs[:, 0], dec_in[:, 0]), "step 0 must always read dec_in[:, 0] (<bos>)")
            expect(torch.equal(inputs[:, 1:], free[:, :-1]),
                   "with eps = 1 the inputs must be the model's own greedy tokens, step by step: each "
                   "one the most likely token of the step before, given the tokens it actually read")
            # 0 < eps < 1: consistent mixing, at the right rate, independently per sentence and step
            for seed in range(3):
                eps = (0.25, 0.5, 0.75)[seed]
                logits, inputs, from_model = _call_sampling(sampling_fn, model, src, src_len, dec_in, eps,
                                                            10 * trial + seed)
                expect(not from_model[:, 0].any(), "step 0 must never read a model token")
                prev = logits[:, :-1].argmax(-1)                       # (B, T-1)
                want = torch.where(from_model[:, 1:], prev, dec_in[:, 1:])
                expect(torch.equal(inputs[:, 1:], want),
                       "where from_model is True the input must be the argmax of the previous step's "
                       "logits, elsewhere the true token dec_in[:, t]")
                expect(torch.allclose(model(src, inputs, src_len), logits, atol=1e-5),
                       "the logits must be those of the decoder reading `inputs`, step by step from the "
                       "encoder's state")
                share = from_model[:, 1:].float().mean().item()
                expect(abs(share - eps) < 0.08,
                       f"with eps = {eps} the share of model tokens should be close to eps; it is "
                       f"{share:.2f}")
                expect(not bool((from_model[:, 1:] == from_model[:1, 1:]).all()),
                       "the draws must be independent per sentence, not one draw per step for the batch")
                expect(not bool((from_model[:, 1:] == from_model[:, 1:2]).all()),
                       "the draws must be independent per step, not one draw per sentence")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: corpus BLEU

def _corpus(rng, n, vocab=12):
    words = [f"w{i}" for i in range(vocab)]
    hyps, refs = [], []
    for _ in range(n):
        ref = rng.choices(words, k=rng.randint(4, 14))
        hyp = list(ref)
        for _ in range(rng.randint(0, 3)):                       # edit the reference a little
            op, i = rng.random(), rng.randrange(len(hyp))
            if op < 0.4:
                hyp[i] = rng.choice(words)
            elif op < 0.7 and len(hyp) > 2:
                del hyp[i]
            else:
                hyp.insert(i, rng.choice(words))
        if rng.random() < 0.3:                                   # some much shorter hypotheses
            hyp = hyp[: max(4, len(hyp) // 2)]
        hyps.append(" ".join(hyp))
        refs.append(" ".join(ref))
    return hyps, refs


def _reference_bleu(hyps, refs):
    import sacrebleu
    return sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="none", force=True).score


@contextlib.contextmanager
def _no_library_bleu():
    """Make the library scorers unusable while the learner's function runs."""
    import sacrebleu

    def refuse(*args, **kwargs):
        raise AssertionError("compute corpus BLEU from your own n-gram counts, not with d2lt.metrics "
                             "or sacrebleu")

    saved = [(metrics, n, getattr(metrics, n)) for n in ("corpus_bleu", "bleu_stats", "bleu")]
    saved += [(sacrebleu, n, getattr(sacrebleu, n)) for n in ("corpus_bleu", "sentence_bleu")]
    try:
        for mod, name, _ in saved:
            setattr(mod, name, refuse)
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def task3(corpus_bleu_fn):
    """``corpus_bleu_fn(hypotheses, references) -> float``: corpus BLEU (0-100), four orders, one reference.

    Counts summed over the corpus before the precisions are formed, brevity
    penalty from the total lengths, no smoothing (0 if an order has no match).
    """
    not_none(corpus_bleu_fn, "task 3")
    rng = random.Random(5)
    cases = [_corpus(rng, rng.randint(5, 40)) for _ in range(30)]
    cases.append((["w1 w2 w3 w4 w5"], ["w1 w2 w3 w4 w5 w6 w7 w8"]))          # one short hypothesis
    cases.append((["w1 w2 w3", "w4 w5 w6 w7"], ["w9 w9 w9", "w8 w8 w8 w8"]))  # no match at all
    cases.append((["w1 w1 w1 w1 w1 w1"], ["w1 w1 w2 w3 w4 w5"]))             # clipping matters
    for i, (hyps, refs) in enumerate(cases):
        want = _reference_bleu(hyps, refs)
        with _no_library_bleu():
            got = corpus_bleu_fn(list(hyps), list(refs))
        expect(isinstance(got, (float, int)) and not isinstance(got, bool) and math.isfinite(got),
               f"expected a float, got {got!r}")
        if abs(got - want) > 1e-6:
            sent = sum(_reference_bleu([h], [r]) for h, r in zip(hyps, refs)) / len(hyps)
            hint = (" (that is the mean of sentence scores: sum the counts first)" if abs(got - sent) < 1e-6
                    else " on the 0-100 scale" if abs(100 * got - want) < 1e-4 else "")
            expect(False, f"corpus {i + 1} ({len(hyps)} sentences): your score is wrong{hint}. Check the "
                          "clipping of repeated n-grams, the summing of counts over all sentences and "
                          "the brevity penalty on the total lengths")
    return passed("task 3")
