"""Checks for the chapter-1 exercises (sequence to sequence with RNNs)."""
import random

import torch

from . import expect, not_none, passed
from .. import metrics, seq2seq


def task1(shift_fn):
    """``shift_fn(tgt_ids, bos, eos, pad) -> (dec_in, target)`` for teacher forcing."""
    not_none(shift_fn, "task 1")
    bos, eos, pad = 1, 2, 0
    y = torch.tensor([[7, 8, 9, 0, 0], [5, 0, 0, 0, 0]])  # padded target sentences
    got = shift_fn(y, bos, eos, pad)
    expect(isinstance(got, tuple) and len(got) == 2, f"expected a tuple (dec_in, target), got {type(got).__name__}")
    dec_in, target = got
    want_in = torch.tensor([[1, 7, 8, 9, 0, 0], [1, 5, 0, 0, 0, 0]])
    want_tgt = torch.tensor([[7, 8, 9, 2, 0, 0], [5, 2, 0, 0, 0, 0]])
    expect(torch.is_tensor(dec_in) and dec_in.shape == want_in.shape,
           f"dec_in: expected shape {tuple(want_in.shape)}, got {getattr(dec_in, 'shape', dec_in)}")
    expect(torch.equal(dec_in, want_in), f"dec_in: expected\n{want_in}\ngot\n{dec_in}")
    expect(torch.equal(target, want_tgt), f"target: expected\n{want_tgt}\ngot\n{target}")
    return passed("task 1")


def task2(loss_fn):
    """``loss_fn(logits, Y, pad_id)``: cross-entropy averaged over non-padding tokens."""
    not_none(loss_fn, "task 2")
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 6, 11, generator=g)
    Y = torch.randint(1, 11, (3, 6), generator=g)
    Y[0, 4:], Y[2, 1:] = 0, 0
    got = loss_fn(logits, Y, 0)
    want = seq2seq.sequence_loss(logits, Y, 0)
    expect(torch.is_tensor(got) and got.dim() == 0, f"expected a scalar tensor, got {got!r}")
    plain = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), Y.reshape(-1))
    expect(not torch.allclose(got, plain), "your loss counts the padding positions (it equals the plain mean)")
    expect(torch.allclose(got, want, atol=1e-5), f"expected {want.item():.5f}, got {got.item():.5f}")
    return passed("task 2")


def task3(bleu_fn):
    """``bleu_fn(pred, label, k)`` equals the d2l definition of sentence BLEU."""
    not_none(bleu_fn, "task 3")
    rng = random.Random(3)
    words = "a b c d e f".split()
    for _ in range(200):
        p = " ".join(rng.choices(words, k=rng.randint(1, 9)))
        l = " ".join(rng.choices(words, k=rng.randint(1, 9)))
        k = rng.randint(1, 4)
        got, want = bleu_fn(p, l, k), metrics.bleu(p, l, k)
        expect(isinstance(got, float) and abs(got - want) < 1e-9,
               f"bleu({p!r}, {l!r}, {k}): expected {want:.6f}, got {got!r}")
    return passed("task 3")


def task4(greedy_fn):
    """``greedy_fn(model, src_ids, bos, eos, max_steps) -> list of ids`` for one sentence (1-D ``src_ids``)."""
    not_none(greedy_fn, "task 4")
    torch.manual_seed(4)
    model = seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(15, 15, 8, 16)).eval()
    for trial in range(5):
        src = torch.randint(4, 15, (int(torch.randint(2, 8, (1,))),))
        ids, _ = seq2seq.greedy_decode(model, src[None], torch.tensor([len(src)]), 1, 2, 12)
        want = []
        for i in ids[0].tolist():
            if i == 2:
                break
            want.append(i)
        got = greedy_fn(model, src, 1, 2, 12)
        expect(list(got) == want, f"source {src.tolist()}: expected {want}, got {got}")
    return passed("task 4")


def task5(answer):
    """The number of values that carry the source into the decoder: num_hiddens for a 1-layer GRU."""
    not_none(answer, "task 5")
    expect(isinstance(answer, dict) and set(answer) == {"short", "long"},
           f"expected a dict with keys 'short' and 'long', got {answer!r}")
    expect(answer == {"short": 64, "long": 64},
           f"expected 64 values for both (num_hiddens of the 1-layer GRU's context), got {answer}")
    return passed("task 5")
