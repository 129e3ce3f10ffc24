"""Checks for the chapter-3 exercises (self-attention).

Every check computes the expected result itself, from the definition, on
inputs of its own, and compares; failure messages say what is wrong without
printing the expected numbers.
"""
import math

import torch
from torch.nn import functional as F

from . import expect, not_none, passed


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _is_tensor(got, shape, what):
    expect(torch.is_tensor(got), f"{what}: expected a tensor, got {type(got).__name__}")
    expect(tuple(got.shape) == tuple(shape),
           f"{what}: expected shape {tuple(shape)}, got {tuple(got.shape)}")
    expect(torch.isfinite(got).all().item(), f"{what}: the result holds NaN or inf")


def _close(got, want, what, atol=1e-5):
    _is_tensor(got, want.shape, what)
    gap = (got.double() - want.double()).abs()
    expect(torch.allclose(got.double(), want.double(), atol=atol, rtol=1e-4),
           f"{what}: {int((gap > atol).sum())} of {gap.numel()} entries are wrong "
           f"(largest error {gap.max().item():.3g})")


# ------------------------------------------------------------------ task 1

def _pad_causal_reference(scores, valid_lens):
    T = scores.shape[-1]
    pos = torch.arange(T)
    keep = (pos[None, :] <= pos[:, None])[None] & (pos < valid_lens[:, None, None])
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1), keep


def task1(pad_causal_fn):
    """``pad_causal_fn(scores (B, T, T), valid_lens (B,)) -> weights (B, T, T)``.

    Query t may attend to key s only if s <= t (causal) and s < valid_lens[b] (padding).
    """
    not_none(pad_causal_fn, "task 1")
    g = _gen(31)
    cases = [(1, 1, [1]), (2, 5, [5, 1]), (3, 7, [3, 7, 1]), (4, 9, [2, 9, 6, 4])]
    for B, T, lens in cases:
        scores = 3 * torch.randn(B, T, T, generator=g)
        lens = torch.tensor(lens)
        got = pad_causal_fn(scores.clone(), lens.clone())
        want, keep = _pad_causal_reference(scores, lens)
        what = f"B={B}, T={T}"
        _is_tensor(got, want.shape, what)
        future = torch.ones(T, T, dtype=torch.bool).triu(1).expand(B, T, T)
        padded = (torch.arange(T) >= lens[:, None, None]).expand(B, T, T)
        expect(bool((got[future] == 0).all()),
               f"{what}: a query gives weight to a key after it (the causal part)")
        expect(bool((got[padded] == 0).all()),
               f"{what}: a query gives weight to a padding key, at or after valid_lens "
               "(the padding part)")
        expect(torch.allclose(got.sum(-1), torch.ones(B, T), atol=1e-5),
               f"{what}: the weights of a query must sum to 1")
        _close(got, want, f"{what}: weights")
    return passed("task 1")


# ------------------------------------------------------------------ task 2

def _query_grad_reference(q, k, v, scaled):
    q = q.detach().double().clone().requires_grad_()
    c = 1 / math.sqrt(q.shape[-1]) if scaled else 1.0
    p = torch.softmax(c * (k.double() @ q[..., None]).squeeze(-1), dim=-1)  # (N, K)
    (p * v.double()).sum().backward()
    return q.grad


def task2(query_grad_fn):
    """``query_grad_fn(q (N, d), k (N, K, d), v (N, K), scaled) -> dL/dq (N, d)``
    for ``L = sum_n sum_j p_nj v_nj`` with ``p_n = softmax(c k_n q_n)``, ``c = 1/sqrt(d)``
    when ``scaled`` else 1. Compared with autograd on inputs of the check's own.
    """
    not_none(query_grad_fn, "task 2")
    g = _gen(32)
    for N, K, d in [(3, 4, 2), (5, 16, 64), (2, 7, 9)]:
        q, k = torch.randn(N, d, generator=g), torch.randn(N, K, d, generator=g)
        v = torch.randn(N, K, generator=g)
        for scaled in (True, False):
            with torch.no_grad():
                got = query_grad_fn(q.clone(), k.clone(), v.clone(), scaled)
            want = _query_grad_reference(q, k, v, scaled)
            _close(torch.as_tensor(got) if not torch.is_tensor(got) else got, want,
                   f"dL/dq (N={N}, K={K}, d={d}, scaled={scaled})", atol=1e-4)
    return passed("task 2")


# ------------------------------------------------------------------ task 3

def _qk_norm_reference(q, k, gain):
    s = gain * F.normalize(q.double(), dim=-1) @ F.normalize(k.double(), dim=-1).transpose(-2, -1)
    return torch.softmax(s, dim=-1)


def task3(qk_norm_fn):
    """``qk_norm_fn(q (B, Q, d), k (B, K, d), gain) -> weights (B, Q, K)``:
    ``softmax(gain * cos(q_i, k_j))``, queries and keys normalised to unit length.
    """
    not_none(qk_norm_fn, "task 3")
    g = _gen(33)
    for B, Q, K, d, gain in [(1, 3, 5, 4, 1.0), (2, 6, 6, 16, 5.0), (3, 2, 9, 32, 12.5)]:
        q, k = torch.randn(B, Q, d, generator=g), torch.randn(B, K, d, generator=g)
        got = qk_norm_fn(q.clone(), k.clone(), gain)
        what = f"B={B}, Q={Q}, K={K}, d={d}, gain={gain}"
        _close(got, _qk_norm_reference(q, k, gain), what)
        # growing logits: scaling queries and keys (each query, each key by its own factor)
        fq = torch.rand(B, Q, 1, generator=g) * 50 + 0.5
        fk = torch.rand(B, K, 1, generator=g) * 50 + 0.5
        grown = qk_norm_fn(q * fq, k * fk, gain)
        _close(grown, got, f"{what}, after rescaling the queries and keys (the weights "
               "must not change)")
    return passed("task 3")


# ------------------------------------------------------------------ task 4

def _effective_reference(W):
    W = W.double()
    plogp = torch.where(W > 0, W * W.clamp_min(1e-300).log(), torch.zeros_like(W))
    return torch.exp(-plogp.sum(-1))


def task4(effective_number_fn, self_attention_effective_fn):
    """``effective_number_fn(weights (..., K)) -> exp(entropy) (...)`` with ``0 log 0 = 0``;
    ``self_attention_effective_fn(X (B, T, d)) -> (B, T)``: the effective number of keys
    of every query of ``softmax(X X^T / sqrt(d))``.
    """
    not_none(effective_number_fn, "task 4 (effective_number)")
    g = _gen(34)
    for shape, temp in [((2, 3, 5), 1.0), ((4, 8), 4.0), ((1, 2, 3, 16), 0.5)]:
        W = torch.softmax(temp * torch.randn(*shape, generator=g), -1)
        _close(effective_number_fn(W.clone()), _effective_reference(W),
               f"weights of shape {shape}", atol=1e-4)
    # exact zeros must count as 0 log 0 = 0, not NaN
    W = torch.softmax(torch.randn(3, 6, generator=g), -1)
    W[:, ::2] = 0
    W = W / W.sum(-1, keepdim=True)
    _close(effective_number_fn(W.clone()), _effective_reference(W),
           "weights with exact zeros (use 0 log 0 = 0)", atol=1e-4)
    not_none(self_attention_effective_fn, "task 4 (self-attention)")
    for seed in (35, 36):
        X = torch.randn(2, 7, 8, generator=_gen(seed))
        W = torch.softmax(X @ X.transpose(1, 2) / math.sqrt(8), -1)
        got = self_attention_effective_fn(X.clone())
        _close(got, _effective_reference(W), f"self-attention on input {seed - 34}", atol=1e-4)
    return passed("task 4")
