"""Checks for the chapter-5 exercises (why self-attention: the complexity table)."""
import math
import random

import torch
from torch import nn

from . import expect, not_none, passed
from .. import complexity
from ..attention import MultiHeadAttention


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def task1(attention_flops, rnn_flops):
    """FLOPs (2 per multiply-add) of the attention core and of an Elman RNN layer, as functions of n, d."""
    not_none(attention_flops, "task 1 (attention_flops)")
    not_none(rnn_flops, "task 1 (rnn_flops)")
    rng = random.Random(5)
    for _ in range(20):
        n, d = rng.randint(1, 5000), rng.randint(1, 2048)
        for name, fn, kind in (("attention_flops", attention_flops, "self_attention"),
                               ("rnn_flops", rnn_flops, "recurrent")):
            got, want = fn(n, d), complexity.layer_flops(kind, n, d)
            expect(_is_int(got), f"{name}({n}, {d}) should return an int, got {got!r}")
            if got * 2 == want:
                raise AssertionError(f"{name}({n}, {d}) = {got}: that counts multiply-adds; "
                                     f"report FLOPs, two per multiply-add ({want})")
            expect(got == want, f"{name}({n}, {d}): expected {want}, got {got}")
    # and against what PyTorch actually does
    n, d = 24, 8
    measured = complexity.count_flops(complexity.make_layer("recurrent", d), torch.randn(1, n, d))
    expect(rnn_flops(n, d) == measured, f"rnn_flops({n}, {d}) = {rnn_flops(n, d)}, counted {measured}")
    Q = torch.randn(1, n, d)
    measured = complexity.count_flops(complexity.attention_core, Q, Q, Q)
    expect(attention_flops(n, d) == measured, f"attention_flops({n}, {d}) = {attention_flops(n, d)}, "
                                              f"counted {measured}")
    return passed("task 1")


def _lstm_by_matmuls(lstm, X):
    """An LSTM layer written with plain products, so that FlopCounterMode sees every one."""
    W_ih, W_hh = lstm.weight_ih_l0, lstm.weight_hh_l0  # (4d, d) each
    B, n, _ = X.shape
    d = W_hh.shape[1]
    gates_x = X @ W_ih.T  # (B, n, 4d): the input part, all steps at once
    h = c = torch.zeros(B, d)
    outs = []
    for t in range(n):
        i, f, g, o = (gates_x[:, t] + h @ W_hh.T).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, dim=1)


def task2(crossover_lstm):
    """Length where a full multi-head attention layer costs the FLOPs of an LSTM layer: n = 2 d."""
    not_none(crossover_lstm, "task 2")
    for d in (16, 64, 100, 512, 1024):
        got = crossover_lstm(d)
        expect(_is_int(got), f"crossover_lstm({d}) should return an int, got {got!r}")
        if got == d:
            raise AssertionError(f"crossover_lstm({d}) = {d}: that is the crossover of the bare core with an "
                                 "Elman RNN; count the four projections and the LSTM's four gates")
        expect(got == 2 * d, f"crossover_lstm({d}): expected {2 * d}, got {got}")
    # measured: at the learner's n both layers perform the same number of FLOPs
    d = 16
    n = crossover_lstm(d)
    torch.manual_seed(0)
    lstm = nn.LSTM(d, d, batch_first=True, bias=False)
    X = torch.randn(1, n, d)
    torch.testing.assert_close(_lstm_by_matmuls(lstm, X), lstm(X)[0])
    lstm_flops = complexity.count_flops(_lstm_by_matmuls, lstm, X)
    mha = MultiHeadAttention(d, 4, 0.0, query_size=d, key_size=d, value_size=d, fused=False)
    mha_flops = complexity.count_flops(lambda x: mha(x, x, x), X)
    expect(lstm_flops == mha_flops, f"at n = {n}, d = {d}: LSTM {lstm_flops} FLOPs, attention {mha_flops}")
    return passed("task 2")


def task3(weights_bytes):
    """Bytes of the explicit attention weights of one layer: batch * heads * n * n * bytes_per_value."""
    not_none(weights_bytes, "task 3")
    rng = random.Random(7)
    for _ in range(20):
        b, h, n, size = rng.randint(1, 64), rng.choice([1, 8, 12, 16, 96]), rng.randint(1, 32768), rng.choice([2, 4])
        got, want = weights_bytes(b, h, n, size), b * h * n * n * size
        expect(_is_int(got), f"weights_bytes({b}, {h}, {n}, {size}) should return an int, got {got!r}")
        expect(got == want, f"weights_bytes(batch={b}, heads={h}, n={n}, bytes_per_value={size}): "
                            f"expected {want}, got {got}")
    # measured on the explicit path of the package's layer
    mha = MultiHeadAttention(16, 4, 0.0, query_size=16, key_size=16, value_size=16, fused=False)
    X = torch.randn(3, 10, 16)
    with torch.no_grad():
        mha(X, X, X)
    w = mha.attention_weights
    measured = w.numel() * w.element_size()
    expect(weights_bytes(3, 4, 10, 4) == measured,
           f"the layer's attention_weights take {measured} bytes, your formula gives {weights_bytes(3, 4, 10, 4)}")
    return passed("task 3")


def _ticks(work, steps, processors):
    return max(math.ceil(work / processors), steps)


def task4(ticks, answer):
    """An ideal parallel machine: ticks = max(ceil(work / P), steps); who finishes first, and from which P."""
    not_none(ticks, "task 4 (ticks)")
    rng = random.Random(11)
    for _ in range(50):
        w, s, p = rng.randint(1, 10**9), rng.randint(1, 5000), rng.choice([1, 7, 1000, 10**6, 10**9])
        got, want = ticks(w, s, p), _ticks(w, s, p)
        expect(got == want, f"ticks(work={w}, steps={s}, processors={p}): expected {want}, got {got}")
    not_none(answer, "task 4 (answer)")
    expect(isinstance(answer, dict) and set(answer) == {"P=1", "P=10**7", "smallest P"},
           f"answer must be a dict with keys 'P=1', 'P=10**7', 'smallest P', got {answer!r}")
    n, d = 1024, 512
    att = (2 * n * n * d, 3)
    rnn = (2 * n * d * d, n)
    for key, P in (("P=1", 1), ("P=10**7", 10**7)):
        want = "self_attention" if _ticks(*att, P) < _ticks(*rnn, P) else "recurrent"
        expect(answer[key] == want, f"answer[{key!r}]: expected {want!r} to finish first, got {answer[key]!r}")
    lo, hi = 1, 10**12  # smallest P with attention strictly first (the predicate is monotone here)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _ticks(*att, mid) < _ticks(*rnn, mid) else (mid + 1, hi)
    got = answer["smallest P"]
    expect(_is_int(got) and abs(got - lo) <= max(1, lo // 1000),
           f"answer['smallest P']: expected about {lo:,} processors (2 n d, since attention must finish its "
           f"{att[0]:,} multiply-adds in fewer than n = {n} ticks), got {got!r}")
    return passed("task 4")
