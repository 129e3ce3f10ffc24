"""Checks for the chapter-3 exercises (self-attention)."""
import torch

from . import expect, not_none, passed
from .. import attention


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _close(got, want, what, atol=1e-5):
    expect(torch.is_tensor(got), f"{what}: expected a tensor, got {type(got).__name__}")
    expect(got.shape == want.shape, f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
    expect(torch.allclose(got.float(), want.float(), atol=atol, rtol=1e-4),
           f"{what}: values differ from the reference by up to {(got.float() - want.float()).abs().max().item():.3g}")


def task1(masked_softmax_fn):
    """``masked_softmax_fn(X (B, Q, K), valid_lens)`` with valid_lens None, (B,) or (B, Q)."""
    not_none(masked_softmax_fn, "task 1")
    g = _gen(31)
    X = torch.randn(3, 4, 6, generator=g)
    cases = {"valid_lens=None": None,
             "valid_lens of shape (B,)": torch.tensor([1, 6, 3]),
             "valid_lens of shape (B, Q)": torch.randint(1, 7, (3, 4), generator=g)}
    for what, lens in cases.items():
        got = masked_softmax_fn(X.clone(), lens)
        _close(got, attention.masked_softmax(X, lens), what)
    got = masked_softmax_fn(X.clone(), torch.tensor([2, 2, 2]))
    expect(bool((got[..., 2:] == 0).all()), "masked keys must get weight exactly 0 (write -1e6 into their scores)")
    return passed("task 1")


def task2(attention_fn):
    """``attention_fn(queries, keys, values, valid_lens=None) -> (output, weights)``, scaled by 1/sqrt(d)."""
    not_none(attention_fn, "task 2")
    g = _gen(32)
    ref = attention.DotProductAttention(0.0)
    for Q, K, d, dv, lens in [(1, 5, 4, 3, None), (3, 7, 16, 2, torch.tensor([7, 2])),
                              (4, 4, 8, 8, torch.tensor([[1, 2, 3, 4], [4, 3, 2, 1]]))]:
        q, k, v = (torch.randn(2, n, w, generator=g) for n, w in ((Q, d), (K, d), (K, dv)))
        got = attention_fn(q, k, v, lens)
        expect(isinstance(got, tuple) and len(got) == 2, f"expected a tuple (output, weights), got {type(got).__name__}")
        want = ref(q, k, v, lens)
        unscaled = torch.softmax(q @ k.transpose(1, 2), -1)
        if lens is None and torch.is_tensor(got[1]) and got[1].shape == unscaled.shape:
            expect(not torch.allclose(got[1], unscaled, atol=1e-5), "the weights are not scaled: divide the scores by sqrt(d)")
        _close(got[1], ref.attention_weights, f"weights (Q={Q}, K={K}, d={d})")
        _close(got[0], want, f"output (Q={Q}, K={K}, d={d}, d_v={dv})")
    return passed("task 2")


def task3(answer):
    """``answer = {"slope": fitted log-log slope of Var(q.k) against d_k, "scaled_variance": Var at the largest d_k}``."""
    not_none(answer, "task 3")
    expect(isinstance(answer, dict) and {"slope", "scaled_variance"} <= set(answer),
           f"expected a dict with keys 'slope' and 'scaled_variance', got {answer!r}")
    slope, var = float(answer["slope"]), float(answer["scaled_variance"])
    expect(abs(slope - 1) < 0.1, f"the variance of q.k grows linearly with d_k: expected a slope near 1, got {slope:.3f}"
           + (" (did you fit the standard deviation? its slope is 1/2)" if abs(slope - 0.5) < 0.1 else ""))
    expect(abs(var - 1) < 0.15, f"after dividing by sqrt(d_k) the variance should be about 1, got {var:.3f}")
    return passed("task 3")


def task4(causal_self_attention_fn):
    """``causal_self_attention_fn(X (B, T, d)) -> (B, T, d)``: softmax(X X^T / sqrt(d)) X with a causal mask."""
    not_none(causal_self_attention_fn, "task 4")
    g = _gen(34)
    X = torch.randn(2, 6, 8, generator=g)
    got = causal_self_attention_fn(X.clone())
    want = attention.DotProductAttention(0.0)(X, X, X, is_causal=True)
    expect(torch.is_tensor(got) and got.shape == want.shape,
           f"expected a tensor of shape {tuple(want.shape)}, got {getattr(got, 'shape', got)}")
    X2 = X.clone()
    X2[:, -1] += 1
    later = causal_self_attention_fn(X2)
    expect(torch.allclose(got[:, :-1], later[:, :-1], atol=1e-6),
           "changing the last position changed earlier outputs: the future is not masked")
    _close(got, want, "output")
    return passed("task 4")


def task5(effective_number_fn, answer):
    """Feature selection: ``effective_number_fn(weights) = exp(entropy)`` per query, and a dict of findings.

    ``answer = {"selects": "tokens" or "features", "same_for_every_input": bool}``.
    """
    not_none(effective_number_fn, "task 5 (effective_number)")
    one_hot = torch.eye(5)[None]                       # (1, 5, 5)
    uniform = torch.full((1, 2, 8), 1 / 8)
    for W, want, what in [(one_hot, 1.0, "one-hot weights"), (uniform, 8.0, "uniform weights over 8 keys")]:
        got = effective_number_fn(W)
        expect(torch.is_tensor(got) and got.shape == W.shape[:-1],
               f"{what}: expected one number per query, shape {tuple(W.shape[:-1])}, got {getattr(got, 'shape', got)}")
        expect(torch.allclose(got, torch.full_like(got, want), atol=1e-4), f"{what}: expected {want}, got {got.flatten().tolist()}")
    g = _gen(35)
    W = torch.softmax(3 * torch.randn(2, 4, 6, generator=g), -1)
    want = torch.exp(-(W * W.log()).sum(-1))
    _close(effective_number_fn(W), want, "random weights", atol=1e-4)
    not_none(answer, "task 5 (answer)")
    expect(isinstance(answer, dict) and {"selects", "same_for_every_input"} <= set(answer),
           f"expected answer = {{'selects': ..., 'same_for_every_input': ...}}, got {answer!r}")
    expect(answer["selects"] == "tokens",
           "attention weights multiply whole rows of V: every feature of a token gets the same weight "
           f"(expected 'tokens', got {answer['selects']!r})")
    expect(answer["same_for_every_input"] is False,
           "the weights are recomputed from each input: feed two different inputs and compare "
           f"(expected False, got {answer['same_for_every_input']!r})")
    return passed("task 5")

