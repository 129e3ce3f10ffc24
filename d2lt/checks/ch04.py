"""Checks for the chapter-4 exercises (multi-head attention and positions)."""
import torch
from torch import nn

from . import expect, not_none, passed
from .. import attention


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def task1(param_count_fn):
    """``param_count_fn(d, h, bias) -> int``: parameters of multi-head attention (W_q, W_k, W_v, W_o)."""
    not_none(param_count_fn, "task 1")
    for d, h in [(512, 8), (768, 12), (1024, 16), (64, 1), (96, 3)]:
        for bias in (False, True):
            m = attention.MultiHeadAttention(d, h, bias=bias, query_size=d, key_size=d, value_size=d)
            want = sum(p.numel() for p in m.parameters())
            got = param_count_fn(d, h, bias)
            hint = " (the count should not depend on h)" if got != want and param_count_fn(d, 1, bias) == want else ""
            expect(got == want, f"d={d}, h={h}, bias={bias}: expected {want:,}, got {got!r}{hint}")
    return passed("task 1")


def task2(split_fn, merge_fn):
    """``split_fn(X (B, T, d), h) -> (B, h, T, d/h)``; ``merge_fn`` is its inverse."""
    not_none(split_fn, "task 2 (split_heads)")
    not_none(merge_fn, "task 2 (merge_heads)")
    X = torch.randn(2, 5, 12, generator=_gen(42))
    for h in (1, 3, 4):
        got = split_fn(X, h)
        want = X.reshape(2, 5, h, 12 // h).permute(0, 2, 1, 3)
        expect(torch.is_tensor(got) and got.shape == want.shape,
               f"h={h}: expected shape {tuple(want.shape)}, got {getattr(got, 'shape', got)}")
        expect(torch.equal(got, want), f"h={h}: head i must hold columns i*d/h ... (i+1)*d/h - 1 of every position")
        back = merge_fn(got)
        expect(torch.is_tensor(back) and back.shape == X.shape,
               f"merge_heads: expected shape {tuple(X.shape)}, got {getattr(back, 'shape', back)}")
        expect(torch.equal(back, X), f"h={h}: merge_heads(split_heads(X)) must give X back")
    return passed("task 2")


class _WithPositions(nn.Module):
    def __init__(self, mha, d):
        super().__init__()
        self.mha, self.pe = mha, attention.PositionalEncoding(d, 0.0)

    def forward(self, X):
        X = self.pe(X)
        return self.mha(X, X, X)


def task3(test_fn):
    """``test_fn(f, X) -> bool``: is ``f`` (B, T, d) -> (B, T, d') permutation-equivariant along T?"""
    not_none(test_fn, "task 3")
    torch.manual_seed(43)
    d = 16
    mha = attention.MultiHeadAttention(d, 4, query_size=d, key_size=d, value_size=d).eval()
    mlp = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 8))
    cases = [
        ("self-attention without positions", lambda X: mha(X, X, X), True),
        ("a position-wise MLP", mlp, True),
        ("self-attention with sinusoidal positions", _WithPositions(mha, d).eval(), False),
        ("causal self-attention", lambda X: mha(X, X, X, is_causal=True), False),
        ("a running sum over positions", lambda X: X.cumsum(1), False),
        ("the identity", lambda X: X, True),
    ]
    X = torch.randn(2, 7, d, generator=_gen(43))
    for what, f, want in cases:
        with torch.no_grad():
            got = test_fn(f, X.clone())
        expect(isinstance(got, (bool, torch.Tensor)) and bool(got) == want,
               f"{what}: expected {want}, got {got!r}")
    return passed("task 3")


def task4(sinusoidal_fn):
    """``sinusoidal_fn(max_len, d) -> (max_len, d)``: the sinusoidal position table."""
    not_none(sinusoidal_fn, "task 4")
    for max_len, d in [(10, 4), (50, 32), (7, 128)]:
        got = sinusoidal_fn(max_len, d)
        want = attention.sinusoidal_table(max_len, d)
        expect(torch.is_tensor(got) and got.shape == want.shape,
               f"max_len={max_len}, d={d}: expected shape {tuple(want.shape)}, got {getattr(got, 'shape', got)}")
        if torch.allclose(got[:, 1::2], want[:, 0::2], atol=1e-5):
            expect(False, "sine and cosine are swapped: even columns hold the sines")
        err = (got.float() - want).abs().max().item()
        expect(err < 1e-4, f"max_len={max_len}, d={d}: values differ from the reference by up to {err:.3g}")
    return passed("task 4")


def task5(rotation_fn):
    """``rotation_fn(k, d) -> (d, d)`` matrix M with PE[pos + k] = PE[pos] @ M for every pos."""
    not_none(rotation_fn, "task 5")
    for k, d in [(1, 8), (5, 16), (12, 64)]:
        PE = attention.sinusoidal_table(100, d)
        M = rotation_fn(k, d)
        expect(torch.is_tensor(M) and M.shape == (d, d), f"k={k}, d={d}: expected shape ({d}, {d}), got {getattr(M, 'shape', M)}")
        err = (PE[:-k] @ M.float() - PE[k:]).abs().max().item()
        hint = " (try the transpose: rows are positions, so the matrix multiplies from the right)" \
            if (PE[:-k] @ M.float().T - PE[k:]).abs().max().item() < 1e-3 else ""
        expect(err < 1e-3, f"k={k}, d={d}: PE[pos] @ M differs from PE[pos + k] by up to {err:.3g}{hint}")
    return passed("task 5")
