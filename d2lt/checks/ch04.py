"""Checks for the chapter-4 exercises (multi-head attention and positions).

Every check computes the expected result itself (from real modules or from the
definition) on cases of its own, and says what is wrong without printing the
expected numbers.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from . import expect, not_none, passed
from .. import attention


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _close(got, want, what, atol=1e-5):
    expect(torch.is_tensor(got), f"{what}: expected a tensor, got {type(got).__name__}")
    expect(tuple(got.shape) == tuple(want.shape),
           f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
    gap = (got.double() - want.double()).abs()
    expect(bool(torch.isfinite(got).all()), f"{what}: the result holds NaN or inf")
    expect(torch.allclose(got.double(), want.double(), atol=atol, rtol=1e-4),
           f"{what}: {int((gap > atol).sum())} of {gap.numel()} entries are wrong "
           f"(largest error {gap.max().item():.3g})")


# ------------------------------------------------------------------ task 1

def task1(param_count_fn):
    """``param_count_fn(d, h, q_in, k_in, v_in, bias) -> int``: the trainable numbers of
    ``attention.MultiHeadAttention(d, h, bias=bias, query_size=q_in, key_size=k_in,
    value_size=v_in)``, counted from real modules on many random configurations.
    """
    not_none(param_count_fn, "task 1")
    g = _gen(41)
    configs = [(64, 8, 64, 64, 64), (48, 3, 20, 20, 7), (96, 12, 96, 300, 300)]
    for _ in range(12):
        h = int(torch.randint(1, 9, (1,), generator=g))
        d = h * int(torch.randint(1, 17, (1,), generator=g))
        q_in, k_in, v_in = (int(x) for x in torch.randint(1, 130, (3,), generator=g))
        configs.append((d, h, q_in, k_in, v_in))
    for d, h, q_in, k_in, v_in in configs:
        for bias in (False, True):
            m = attention.MultiHeadAttention(d, h, bias=bias, query_size=q_in,
                                             key_size=k_in, value_size=v_in)
            want = sum(p.numel() for p in m.parameters())
            got = param_count_fn(d, h, q_in, k_in, v_in, bias)
            expect(isinstance(got, int) and not isinstance(got, bool),
                   f"expected an int, got {type(got).__name__}")
            expect(got == want, f"d={d}, h={h}, input widths ({q_in}, {k_in}, {v_in}), "
                   f"bias={bias}: wrong count (check the shape of each of the four "
                   "layers, and its bias)")
    return passed("task 1")


# ------------------------------------------------------------------ task 2

def _gqa_reference(q, k, v, h, g):
    B, T, d = q.shape
    S, dh = k.shape[1], d // h
    qh = q.double().view(B, T, h, dh).transpose(1, 2)            # (B, h, T, dh)
    kh = k.double().view(B, S, g, dh).transpose(1, 2)            # (B, g, S, dh)
    vh = v.double().view(B, S, g, dh).transpose(1, 2)
    kh, vh = kh.repeat_interleave(h // g, dim=1), vh.repeat_interleave(h // g, dim=1)
    w = torch.softmax(qh @ kh.transpose(-2, -1) / math.sqrt(dh), dim=-1)  # (B, h, T, S)
    return (w @ vh).transpose(1, 2).reshape(B, T, d)


def task2(gqa_fn):
    """``gqa_fn(q (B, T, d), k (B, S, g*d/h), v (B, S, g*d/h), h, g) -> (B, T, d)``:
    grouped-query attention, query head i uses key-value head ``i // (h // g)``.
    """
    not_none(gqa_fn, "task 2")
    gen = _gen(42)
    for B, T, S, d, h, g in [(1, 3, 3, 8, 2, 1), (2, 5, 7, 24, 6, 2), (2, 4, 6, 32, 8, 4),
                             (1, 6, 6, 16, 4, 4)]:
        dh = d // h
        q = torch.randn(B, T, d, generator=gen)
        k, v = (torch.randn(B, S, g * dh, generator=gen) for _ in range(2))
        got = gqa_fn(q.clone(), k.clone(), v.clone(), h, g)
        what = f"B={B}, T={T}, S={S}, d={d}, h={h}, g={g}"
        _close(got, _gqa_reference(q, k, v, h, g), what)
        if g == h:   # no sharing: ordinary multi-head attention on the split heads
            mha = attention.MultiHeadAttention(d, h, query_size=d, key_size=d, value_size=d)
            with torch.no_grad():
                for layer in (mha.W_q, mha.W_k, mha.W_v, mha.W_o):
                    layer.weight.copy_(torch.eye(d))
                _close(got, mha(q, k, v), f"{what} (g = h must equal multi-head attention)")
    return passed("task 2")


# ------------------------------------------------------------------ task 3

class _WithPositions(nn.Module):
    def __init__(self, mha, d):
        super().__init__()
        self.mha, self.pe = mha, attention.PositionalEncoding(d, 0.0)

    def forward(self, X):
        X = self.pe(X)
        return self.mha(X, X, X)


def task3(test_fn):
    """``test_fn(f, X) -> bool``: is ``f`` (B, T, d) -> (B, T, d') permutation-equivariant
    along T? Judged on functions whose answer the check knows, including ones that a
    single permutation, or one that fixes some positions, can miss.
    """
    not_none(test_fn, "task 3")
    torch.manual_seed(43)
    d = 16
    mha = attention.MultiHeadAttention(d, 4, query_size=d, key_size=d, value_size=d).eval()
    mlp = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 8))
    big = attention.MultiHeadAttention(d, 2, query_size=d, key_size=d, value_size=d).eval()
    with torch.no_grad():
        for p in big.parameters():
            p.mul_(3.0)                               # large outputs: rounding is larger too
    cases = [
        ("self-attention without positions", lambda X: mha(X, X, X), True),
        ("a position-wise MLP", mlp, True),
        ("self-attention with large weights (rounding differs)", lambda X: big(X, X, X), True),
        ("the mean over positions added to every position",
         lambda X: X + X.mean(1, keepdim=True), True),
        ("self-attention with sinusoidal positions", _WithPositions(mha, d).eval(), False),
        ("causal self-attention", lambda X: mha(X, X, X, is_causal=True), False),
        ("a running sum over positions", lambda X: X.cumsum(1), False),
        ("the first position added to every position", lambda X: X + X[:, :1], False),
        ("a swap of the last two positions",
         lambda X: torch.cat([X[:, :-2], X[:, -1:], X[:, -2:-1]], 1), False),
        ("a function that reads only the first position", lambda X: X[:, :1].expand_as(X), False),
    ]
    X = torch.randn(2, 7, d, generator=_gen(43))
    for what, f, want in cases:
        with torch.no_grad():
            got = test_fn(f, X.clone())
        expect(isinstance(got, (bool, torch.Tensor)), f"{what}: expected True or False, "
               f"got {type(got).__name__}")
        expect(bool(got) == want, f"{what}: your test gives the wrong verdict")
    return passed("task 3")


# ------------------------------------------------------------------ task 4

def _rope_reference(x, base=10000.0):
    B, T, d = x.shape
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)      # (d/2,)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * freq           # (T, d/2)
    c, s = angle.cos(), angle.sin()
    x = x.double()
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * c - odd * s
    out[..., 1::2] = even * s + odd * c
    return out


def task4(rope_fn):
    """``rope_fn(x (B, T, d)) -> (B, T, d)``: rotate pair (2i, 2i+1) at position t by the
    angle ``t * 10000^(-2i/d)``. Checked against the definition, and by its purpose:
    the score between a rotated query and key depends only on their offset.
    """
    not_none(rope_fn, "task 4")
    g = _gen(44)
    for B, T, d in [(1, 5, 4), (2, 9, 16), (1, 40, 64)]:
        x = torch.randn(B, T, d, generator=g)
        got = rope_fn(x.clone())
        _close(got, _rope_reference(x), f"B={B}, T={T}, d={d}", atol=1e-4)
        _close(got.norm(dim=-1), x.norm(dim=-1), f"B={B}, T={T}, d={d}: lengths "
               "(a rotation must keep every vector's length)", atol=1e-4)
    # relative property: the same query and key at positions (m, n) and (m + s, n + s)
    d, T = 32, 30
    q, k = torch.randn(d, generator=g), torch.randn(d, generator=g)
    for m, n, shift in [(3, 1, 10), (0, 7, 20), (15, 2, 9)]:
        scores = []
        for a, b in [(m, n), (m + shift, n + shift)]:
            seq = torch.zeros(1, T, d)
            seq[0, a], seq[0, b] = q, k
            r = rope_fn(seq)
            scores.append((r[0, a] @ r[0, b]).item())
        expect(abs(scores[0] - scores[1]) < 1e-3 * (1 + abs(scores[0])),
               f"positions ({m}, {n}) and ({m + shift}, {n + shift}): the score of the "
               "rotated query and key must depend on the offset only")
    return passed("task 4")
