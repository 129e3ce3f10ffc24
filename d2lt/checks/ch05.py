"""Checks for the chapter-5 exercises (why self-attention: the complexity table).

Each check recomputes what it can by itself (FLOPs counted while real layers run,
searches over the tick model, exact integer arithmetic) and compares it with the
learner's answer on many inputs, never on one example. Failure messages say which
input went wrong and what came back, never the expected value.
"""
import functools
import math
import random

import torch
from torch import nn

from . import expect, is_int, not_none, passed
from .. import complexity
from ..attention import MultiHeadAttention

_HEADS = 4


def _call(fn, name, *args):
    """``fn(*args)``, with a learner's exception other than NotImplementedError named."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:  # a crash in the learner's code is a wrong answer, said plainly
        raise AssertionError(f"{name}{args} raised {type(err).__name__}: {err}") from err


def _expect_int(got, call, allow_none=False):
    ok = is_int(got) or (allow_none and got is None)
    expect(ok, f"{call} should return an int{' or None' if allow_none else ''}, "
               f"got {type(got).__name__} {got!r}")


# ----------------------------------------------------------------------------- task 1

def _lstm_by_hand(lstm, X):
    """``nn.LSTM``'s arithmetic with every product in the open (its CPU kernel hides them
    from the FLOP counter). Gates i, f, g, o stacked in ``weight_ih_l0``/``weight_hh_l0``."""
    W_ih, W_hh = lstm.weight_ih_l0, lstm.weight_hh_l0  # (4d, d_in), (4d, d)
    d = W_hh.shape[1]
    h = c = X.new_zeros(X.shape[0], d)
    outs = []
    for t in range(X.shape[1]):
        i, f, g, o = (X[:, t] @ W_ih.T + h @ W_hh.T).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, dim=1)


def _gru_by_hand(gru, X):
    """``nn.GRU``'s arithmetic with every product in the open. Gates r, z, n."""
    W_ih, W_hh = gru.weight_ih_l0, gru.weight_hh_l0  # (3d, d_in), (3d, d)
    d = W_hh.shape[1]
    h = X.new_zeros(X.shape[0], d)
    outs = []
    for t in range(X.shape[1]):
        xr, xz, xn = (X[:, t] @ W_ih.T).chunk(3, dim=-1)
        hr, hz, hn = (h @ W_hh.T).chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        h = (1 - z) * torch.tanh(xn + r * hn) + z * h
        outs.append(h)
    return torch.stack(outs, dim=1)


@functools.lru_cache(maxsize=None)
def _counted_rnn_flops(kind, n, d_in, d):
    """FLOPs of one ``nn.GRU`` / ``nn.LSTM`` layer on one sequence: counted while a step-by-step
    version runs, after checking that it computes what the torch layer computes."""
    cls, by_hand = {"gru": (nn.GRU, _gru_by_hand), "lstm": (nn.LSTM, _lstm_by_hand)}[kind]
    torch.manual_seed(n * 7919 + d_in * 31 + d)
    layer = cls(d_in, d, batch_first=True, bias=False)
    with torch.no_grad():
        X = torch.randn(2, n, d_in)
        torch.testing.assert_close(by_hand(layer, X), layer(X)[0], rtol=1e-4, atol=1e-5)
        return complexity.count_flops(by_hand, layer, X[:1])


def _task1_cases():
    rng = random.Random(51)
    cases = [(1, 1, 1), (5, 3, 7), (9, 16, 4)]  # n, d_in, d: widths on both sides of each other
    while len(cases) < 10:
        d_in, d = rng.randint(2, 96), rng.randint(2, 96)
        if d_in != d:
            cases.append((rng.randint(2, 40), d_in, d))
    return cases


def task1(gru_flops, lstm_flops):
    """FLOPs of one torch.nn.GRU and one torch.nn.LSTM layer (input width d_in, hidden d, n steps)."""
    not_none(gru_flops, "task 1 (gru_flops)")
    not_none(lstm_flops, "task 1 (lstm_flops)")
    for name, fn, kind in (("gru_flops", gru_flops, "gru"), ("lstm_flops", lstm_flops, "lstm")):
        for n, d_in, d in _task1_cases():
            got = _call(fn, name, n, d_in, d)
            call = f"{name}(n={n}, d_in={d_in}, d={d})"
            _expect_int(got, call)
            expect(got == _counted_rnn_flops(kind, n, d_in, d),
                   f"{call} returned {got:,}, which is not the number of FLOPs counted while "
                   f"nn.{kind.upper()} runs on such a sequence (two FLOPs per multiply-add; "
                   f"count every gate's input matrix and hidden matrix)")
    return passed("task 1")


# ----------------------------------------------------------------------------- task 2

@functools.lru_cache(maxsize=None)
def _counted_cheaper_up_to(d, f):
    """Longest n with Transformer-layer FLOPs < LSTM FLOPs, searched over counted FLOPs."""
    torch.manual_seed(d * 101 + f)
    mha = MultiHeadAttention(d, _HEADS, 0.0, query_size=d, key_size=d, value_size=d,
                             fused=False)
    ffn = nn.Sequential(nn.Linear(d, f, bias=False), nn.ReLU(), nn.Linear(f, d, bias=False))
    lstm = nn.LSTM(d, d, batch_first=True, bias=False)

    def counted(fn):
        def cost(n):
            with torch.no_grad():
                return complexity.count_flops(fn, torch.randn(1, n, d))
        return cost

    transformer = counted(lambda x: ffn(mha(x, x, x)))
    recurrent = counted(lambda x: _lstm_by_hand(lstm, x))
    first_dearer = complexity.break_even_length(transformer, recurrent, n_max=4 * d)
    if first_dearer is None:  # not expected: the n^2 term catches up before 2 d
        raise RuntimeError(f"no break-even found for d = {d}, f = {f} up to n = {4 * d}")
    return first_dearer - 1


def _task2_cases():
    cases = []
    for d in (8, 12, 20, 32):
        # widths around the interesting boundaries (2 d - 2, 2 d - 1, 2 d) and elsewhere
        cases += [(d, f) for f in (1, d // 2, d, 2 * d - 2, 2 * d - 1, 2 * d, 4 * d)]
    return cases


def task2(cheaper_up_to):
    """Longest n at which a Transformer layer (d, feed-forward width f) does fewer FLOPs than an LSTM."""
    not_none(cheaper_up_to, "task 2 (cheaper_up_to)")
    for d, f in _task2_cases():
        got = _call(cheaper_up_to, "cheaper_up_to", d, f)
        call = f"cheaper_up_to(d={d}, f={f})"
        _expect_int(got, call)
        expect(got >= 0, f"{call} returned {got}: a length cannot be negative (return 0 when "
                         f"the Transformer layer is never the cheaper one)")
        expect(got == _counted_cheaper_up_to(d, f),
               f"{call} returned {got}, but counting the FLOPs of the two layers at that length "
               f"and the next says otherwise (count the attention core, the four projections, "
               f"the two d x f matrices of the feed-forward part, and the LSTM's gates; "
               f"'cheaper' means strictly fewer FLOPs)")
    return passed("task 2")


# ----------------------------------------------------------------------------- task 3

def _measured_weight_bytes(batch, heads, n):
    """Bytes of the attention weights the explicit path of the package's layer keeps."""
    d = 2 * heads
    mha = MultiHeadAttention(d, heads, 0.0, query_size=d, key_size=d, value_size=d, fused=False)
    X = torch.randn(batch, n, d)
    with torch.no_grad():
        mha(X, X, X)
    w = mha.attention_weights
    return w.numel() * w.element_size()


def _task3_cases():
    rng = random.Random(53)
    cases = []
    for _ in range(12):
        b, h, L, s = rng.randint(1, 64), rng.choice([1, 8, 12, 16, 96]), rng.randint(1, 96), \
            rng.choice([2, 4])
        unit = b * h * L * s
        k = rng.choice([1, 7, 4096, 10 ** 5, 10 ** 7, 3 * 10 ** 8])
        # budgets exactly at a fit, one byte short of it, and in between
        cases += [(unit * k * k, b, h, L, s), (unit * k * k - 1, b, h, L, s),
                  (unit * k * k + rng.randint(0, unit * (2 * k + 1) - 1), b, h, L, s)]
    cases += [(0, 1, 1, 1, 4), (3, 1, 1, 1, 4), (4, 1, 1, 1, 4), (80 * 2 ** 30, 8, 16, 24, 2)]
    return cases


def task3(longest_fitting):
    """Longest n whose explicit attention weights (all layers) fit in a memory budget."""
    not_none(longest_fitting, "task 3 (longest_fitting)")
    # the model of the memory: batch * heads * n * n values per layer, as the layer stores them
    for b, h, n in ((1, 1, 5), (3, 4, 10), (2, 8, 17)):
        assert _measured_weight_bytes(b, h, n) == b * h * n * n * 4, "the layer changed"
    for budget, b, h, L, s in _task3_cases():
        call = (f"longest_fitting(budget_bytes={budget}, batch={b}, heads={h}, layers={L}, "
                f"bytes_per_value={s})")
        got = _call(longest_fitting, "longest_fitting", budget, b, h, L, s)
        _expect_int(got, call)

        def need(m):
            return b * h * L * m * m * s

        expect(got >= 0 and need(got) <= budget,
               f"{call} returned {got}: weights of that length do not fit the budget")
        expect(need(got + 1) > budget,
               f"{call} returned {got}: a longer sequence would still fit (the answer must be "
               f"exact for any budget; floating-point square roots round)")
    return passed("task 3")


# ----------------------------------------------------------------------------- task 4

def _ticks(work, steps, processors):
    return max(-(-work // processors), steps)


def _attention_first(n, d, P):
    """The tick model of the task: the attention core (2 n^2 d multiply-adds, 3 steps)
    against the Elman layer (2 n d^2 multiply-adds, n steps)."""
    return _ticks(2 * n * n * d, 3, P) < _ticks(2 * n * d * d, n, P)


@functools.lru_cache(maxsize=None)
def _searched_fewest_processors(n, d):
    """Smallest P with attention strictly first, found by searching the tick model."""
    if _attention_first(n, d, 1):
        return 1
    top = 2 * n * n * d  # from here on both layers are bound by their steps alone
    if not _attention_first(n, d, top):
        return None
    lo, hi = 1, 1
    while not _attention_first(n, d, hi):  # doubling ...
        lo, hi = hi, min(2 * hi, top)
    while hi - lo > 1:                     # ... then bisection (attention first from hi on)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _attention_first(n, d, mid) else (mid, hi)
    assert _attention_first(n, d, hi) and not _attention_first(n, d, hi - 1)
    return hi


def _task4_cases():
    rng = random.Random(54)
    cases = [(1024, 512), (1024, 1024), (2, 1), (3, 3), (3, 2), (4, 4), (5, 2), (2, 7),
             (10, 3), (11, 10), (65, 64)]  # (n, d), with both n < d and n >= d
    cases += [(rng.randint(4, 5000), rng.randint(1, 2048)) for _ in range(25)]
    return cases


def task4(ticks, fewest_processors):
    """The ideal parallel machine: ticks = max(ceil(work / P), steps); from which P attention wins."""
    not_none(ticks, "task 4 (ticks)")
    not_none(fewest_processors, "task 4 (fewest_processors)")
    rng = random.Random(41)
    cases = [(12, 1, 4), (12, 5, 4), (13, 1, 4), (1, 1, 10 ** 9), (10 ** 9, 3, 7)]
    cases += [(rng.randint(1, 10 ** 12), rng.randint(1, 5000), rng.choice([1, 7, 10 ** 3, 10 ** 6]))
              for _ in range(40)]
    for w, s, p in cases:
        call = f"ticks(work={w}, steps={s}, processors={p})"
        got = _call(ticks, "ticks", w, s, p)
        _expect_int(got, call)
        expect(got == _ticks(w, s, p), f"{call} returned {got}, which breaks one of the two "
                                       f"rules (P multiply-adds per tick; one tick per link of "
                                       f"the chain; work rounds up to whole ticks)")
    for n, d in _task4_cases():
        call = f"fewest_processors(n={n}, d={d})"
        got = _call(fewest_processors, "fewest_processors", n, d)
        _expect_int(got, call, allow_none=True)
        want = _searched_fewest_processors(n, d)
        if want is None:
            expect(got is None, f"{call} returned {got!r}, but with that many processors the "
                                f"attention core does not finish strictly first")
            continue
        expect(got is not None, f"{call} returned None, but some number of processors does "
                                f"let the attention core finish strictly first")
        expect(got >= 1 and _attention_first(n, d, got),
               f"{call} returned {got}: with that many processors the attention core does "
               f"not finish strictly first")
        expect(got == 1 or not _attention_first(n, d, got - 1),
               f"{call} returned {got}: fewer processors already suffice")
    return passed("task 4")


# ----------------------------------------------------------------------------- task 5

def _prefix_loop(mha, X):
    """Each position calls the layer on its whole prefix (keys and values recomputed)."""
    return torch.cat([mha(X[:, t:t + 1], X[:, :t + 1], X[:, :t + 1])
                      for t in range(X.shape[1])], dim=1)


def _cached_loop(mha, X):
    """Each position's key and value computed once and kept (a key-value cache)."""
    B, n, d = X.shape
    h = mha.num_heads

    def split(t):  # (B, T, d) -> (B, h, T, d / h)
        return t.view(B, -1, h, d // h).transpose(1, 2)

    K, V = X.new_empty(B, h, n, d // h), X.new_empty(B, h, n, d // h)
    outs = []
    for t in range(n):
        x = X[:, t:t + 1]
        K[:, :, t:t + 1], V[:, :, t:t + 1] = split(mha.W_k(x)), split(mha.W_v(x))
        q = split(mha.W_q(x))
        w = torch.softmax(q @ K[:, :, :t + 1].transpose(-2, -1) / math.sqrt(d // h), -1)
        outs.append(mha.W_o((w @ V[:, :, :t + 1]).transpose(1, 2).reshape(B, 1, d)))
    return torch.cat(outs, dim=1)


def _layer(d):
    return MultiHeadAttention(d, _HEADS, 0.0, query_size=d, key_size=d, value_size=d,
                              fused=False).eval()


@functools.lru_cache(maxsize=None)
def _counted_generation(n, d, cached):
    torch.manual_seed(n * 131 + d)
    mha = _layer(d)
    loop = _cached_loop if cached else _prefix_loop
    with torch.no_grad():
        return complexity.count_flops(lambda x: loop(mha, x), torch.randn(1, n, d))


def _task5_cases():
    rng = random.Random(55)
    return [(1, 4), (2, 8), (7, 4)] + [(rng.randint(3, 30), 4 * rng.randint(1, 12))
                                       for _ in range(7)]


def task5(generation_flops):
    """FLOPs of producing n positions one at a time, with and without a key-value cache."""
    not_none(generation_flops, "task 5 (generation_flops)")
    # the two loops compute what one causal call computes
    torch.manual_seed(5)
    mha, X = _layer(8), torch.randn(2, 9, 8)
    with torch.no_grad():
        ref = mha(X, X, X, is_causal=True)
        for loop in (_prefix_loop, _cached_loop):
            torch.testing.assert_close(loop(mha, X), ref, rtol=1e-4, atol=1e-5)
    for cached in (False, True):
        for n, d in _task5_cases():
            call = f"generation_flops(n={n}, d={d}, cached={cached})"
            got = _call(generation_flops, "generation_flops", n, d, cached)
            _expect_int(got, call)
            expect(got == _counted_generation(n, d, cached),
                   f"{call} returned {got:,}, which is not what the FLOP counter sees while "
                   f"the {'cached' if cached else 'prefix-by-prefix'} loop runs (step t "
                   f"attends to t keys; count every projection the step computes)")
    return passed("task 5")
