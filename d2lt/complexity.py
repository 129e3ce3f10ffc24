"""Why self-attention (chapter 5): the complexity table, and tools to measure it.

Vaswani et al. (2017, "Attention Is All You Need", Table 1) compare layer types
that map a sequence of ``n`` vectors of width ``d`` to another such sequence
(``k`` = convolution kernel width, ``r`` = neighbourhood of restricted attention):

    layer                         cost per layer   sequential ops   max path length
    self-attention                O(n^2 d)         O(1)             O(1)
    recurrent                     O(n d^2)         O(n)             O(n)
    convolutional                 O(k n d^2)       O(1)             O(log_k n)
    self-attention (restricted)   O(r n d)         O(1)             O(n / r)

and, in their Section 4, a separable convolution costs O(k n d + n d^2).

Every public function checks its inputs and raises ``TypeError`` (wrong type) or
``ValueError`` (wrong shape, out of range, NaN/inf, empty) saying what it expected and
what it got.

This module turns every column into something a notebook can count or time:

* :func:`layer_flops` -- the leading-term FLOPs of each layer (2 per multiply-add,
  the convention of ``torch.utils.flop_counter.FlopCounterMode``), :func:`count_flops`
  to count them while code runs, and :func:`break_even_length` to search where one
  cost catches up with another;
* :func:`op_depth` -- the critical path of the operations a function dispatches
  (the *minimum number of sequential operations*);
* :func:`connectivity` / :func:`max_path_length` -- hops from the first to the
  last position through a stack of layers;
* :func:`gradient_reach` -- ``||d y_last / d x_i||`` for every position ``i``;
* :func:`time_call`, :func:`measure_scaling`, :func:`activation_bytes`,
  :func:`cuda_peak_bytes` -- wall time and memory; :func:`local_slopes` -- the slope of
  a log-log curve between neighbouring sizes;
* :func:`benchmark_attention` -- ``d2lt.attention.MultiHeadAttention`` against
  ``torch.nn.MultiheadAttention`` and plain ``scaled_dot_product_attention``.
"""
from __future__ import annotations

import math
import numbers
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check

KINDS = ("self_attention", "recurrent", "convolutional", "separable", "restricted")

# Quoted from Vaswani et al. (2017), Table 1. The separable convolution's cost is quoted from
# their Section 4; its other two entries are those of any convolution (derived here, not quoted).
_T1, _S4 = "Vaswani et al. 2017, Table 1", "cost: Vaswani et al. 2017, Sec. 4; rest: as convolution"
TABLE = (
    {"layer": "self-attention", "complexity per layer": "O(n^2 d)",
     "sequential operations": "O(1)", "maximum path length": "O(1)", "source": _T1},
    {"layer": "recurrent", "complexity per layer": "O(n d^2)",
     "sequential operations": "O(n)", "maximum path length": "O(n)", "source": _T1},
    {"layer": "convolutional", "complexity per layer": "O(k n d^2)",
     "sequential operations": "O(1)", "maximum path length": "O(log_k n)", "source": _T1},
    {"layer": "separable convolution", "complexity per layer": "O(k n d + n d^2)",
     "sequential operations": "O(1)", "maximum path length": "O(log_k n)", "source": _S4},
    {"layer": "self-attention (restricted)", "complexity per layer": "O(r n d)",
     "sequential operations": "O(1)", "maximum path length": "O(n / r)", "source": _T1},
)


# The generic checks (integers, numbers, booleans, strings, sequences, tensors, devices) live
# in d2lt.validate; those below are this module's own contracts.

def _check_callable(fn, name="fn"):
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {check.describe(fn)}")


def _check_tensor(t, name, dims=None, min_dims=None, shape_text=None):
    """A non-empty floating-point tensor with ``dims`` (or at least ``min_dims``) axes and finite
    values (not checked on the ``meta`` device, which holds no values)."""
    shape_text = shape_text or (f"{dims}-D" if dims else f"at least {min_dims}-D")
    check.tensor(t, name, dims=dims, shape=shape_text, kind="float")
    if min_dims is not None and t.dim() < min_dims:
        raise ValueError(f"{name} must be a tensor of shape {shape_text}, got {check.describe(t)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if t.device.type != "meta" and not _all_finite(t):
        raise ValueError(f"{name} must hold finite values, got NaN or inf")


def _all_finite(t):
    """``torch.isfinite(t).all()``, hidden from dispatch modes (FLOP counter, ``op_depth``), so
    that checking an input never shows up in what is being measured (which is why this module
    does not use ``check.tensor(..., finite=True)``)."""
    from torch.utils._python_dispatch import _disable_current_modes
    with _disable_current_modes():
        return bool(torch.isfinite(t.detach()).all())


def _check_sequence_batch(X, d, name="X"):
    """``X`` of shape (B, n, d): the input every layer of this module takes."""
    _check_tensor(X, name, dims=3, shape_text=f"(batch, n, {d})")
    if X.shape[-1] != d:
        raise ValueError(f"{name} must have width {d} (the layer's d), got shape {tuple(X.shape)}")


def _check_device(device):
    """``None`` or something ``torch.device`` accepts, naming a device that is present."""
    dev = check.device(device)
    if dev is None:
        return None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} asked for, but MPS is not available here")
    return dev


def complexity_table():
    """Table 1 of Vaswani et al. (2017) as a pandas DataFrame (quoted, not measured)."""
    import pandas as pd
    return pd.DataFrame(list(TABLE)).set_index("layer")


# ----------------------------------------------------------------------------- cost per layer

def layer_flops(kind: str, n: int, d: int, k: int = 3, r: int = 16) -> int:
    """Leading-term FLOPs (2 per multiply-add) of one layer on one sequence of ``n`` vectors of width ``d``.

    * ``self_attention``: scores ``Q K^T`` (n*n*d) and the weighted sum ``A V`` (n*n*d):
      ``4 n^2 d``. The projections ``X W_q`` etc. are not counted, as in Table 1.
    * ``recurrent``: ``h_t = tanh(W_xh x_t + W_hh h_{t-1})``, two d*d products per step: ``4 n d^2``.
    * ``convolutional``: each output reads ``k`` inputs through a d*d matrix each: ``2 k n d^2``.
    * ``separable``: depthwise (k*n*d) then pointwise (n*d*d): ``2 (k n d + n d^2)``.
    * ``restricted``: each query scores and sums ``r`` neighbours: ``4 r n d``.
    """
    check.string(kind, "kind", choices=KINDS)
    n, d, k, r = (check.integer(v, name, 1) for v, name in ((n, "n"), (d, "d"), (k, "k"), (r, "r")))
    macs = {
        "self_attention": 2 * n * n * d,
        "recurrent": 2 * n * d * d,
        "convolutional": k * n * d * d,
        "separable": k * n * d + n * d * d,
        "restricted": 2 * r * n * d,
    }[kind]
    return 2 * macs


def crossover_length(d: int) -> int:
    """The length ``n`` where the attention core and an Elman layer cost the same FLOPs.

    Counted as Table 1 counts them (the core without its projections, the recurrent layer
    with both of its matrices): ``4 n^2 d = 4 n d^2`` gives ``n = d``; shorter sequences
    make attention the cheaper layer. Other conventions move the break-even; see
    :func:`break_even_length` for a search on any pair of costs.
    """
    return check.integer(d, "d", 1)


def break_even_length(cost_a, cost_b, n_max: int):
    """The smallest ``n`` in ``1 .. n_max`` with ``cost_a(n) >= cost_b(n)``, or None if there is none.

    ``cost_a`` and ``cost_b`` map a length to a cost (FLOPs counted while a layer runs,
    seconds, bytes). The search doubles ``n`` until ``cost_a`` catches up, then bisects, so it
    evaluates each cost about ``2 log2(n)`` times; it assumes the difference changes sign at
    most once (true when ``cost_a`` has the higher power of ``n``, as ``n^2`` against ``n``).
    A result of 1 means ``cost_a`` is never the smaller one.
    """
    _check_callable(cost_a, "cost_a")
    _check_callable(cost_b, "cost_b")
    n_max = check.integer(n_max, "n_max", 1)

    def caught_up(n):
        a, b = cost_a(n), cost_b(n)
        for value, name in ((a, "cost_a"), (b, "cost_b")):
            if not check.is_number(value) or not math.isfinite(value):
                raise TypeError(f"{name}({n}) must return a finite real number, got {check.describe(value)}")
        return a >= b

    lo, hi = 0, 1  # invariant: cost_a < cost_b at lo (or lo == 0); hi is the next length tried
    while not caught_up(hi):
        if hi == n_max:
            return None
        lo, hi = hi, min(2 * hi, n_max)
    while hi - lo > 1:  # cost_a < cost_b at lo, cost_a >= cost_b at hi
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if caught_up(mid) else (mid, hi)
    return hi


def count_flops(fn, *args, **kwargs) -> int:
    """FLOPs of ``fn(*args, **kwargs)`` as counted by ``torch.utils.flop_counter.FlopCounterMode``.

    Only matrix products and convolutions are counted (2 FLOPs per multiply-add). Run on
    tensors of the ``meta`` device, the count costs no arithmetic at all; it also sees
    through kernels that hide their products on a given device (``nn.LSTM`` on a CPU).
    """
    from torch.utils.flop_counter import FlopCounterMode
    _check_callable(fn)
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------- the five layers

def _attention_core(Q, K, V, mask=None):
    from .attention import softmax_with_mask  # imported here: attention does not need this module
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])  # (..., n, m)
    return softmax_with_mask(scores, mask) @ V  # (..., n, d_v)


def _check_qkv(Q, K, V):
    for t, name in ((Q, "Q"), (K, "K"), (V, "V")):
        _check_tensor(t, name, min_dims=2, shape_text="(..., n, d)")
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(f"Q and K must have the same width d to take dot products, got Q "
                         f"{tuple(Q.shape)} and K {tuple(K.shape)}")
    if K.shape[-2] != V.shape[-2]:
        raise ValueError(f"K and V must have the same number of positions, got K {tuple(K.shape)} "
                         f"and V {tuple(V.shape)}")
    try:
        torch.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    except RuntimeError as err:
        raise ValueError(f"the leading axes of Q, K and V must broadcast, got {tuple(Q.shape)}, "
                         f"{tuple(K.shape)}, {tuple(V.shape)}") from err


def attention_core(Q, K, V, mask=None):
    """Scaled dot-product attention, the part Table 1 counts: ``softmax(Q K^T / sqrt(d)) V``.

    ``Q``: ``(..., n, d)``, ``K``: ``(..., m, d)``, ``V``: ``(..., m, d_v)``; ``mask`` (boolean,
    broadcastable to ``(..., n, m)``, True = keep) optional. Masked scores become
    ``attention.MASK_VALUE`` (-1e6, as in d2l), not ``-inf``, so a row with every key masked
    gives uniform weights instead of NaN.
    """
    _check_qkv(Q, K, V)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be None or a boolean tensor (True = keep), got {check.describe(mask)}")
        scores_shape = torch.Size((*torch.broadcast_shapes(Q.shape[:-2], K.shape[:-2]),
                                   Q.shape[-2], K.shape[-2]))
        try:
            if torch.broadcast_shapes(mask.shape, scores_shape) != scores_shape:
                raise RuntimeError
        except RuntimeError as err:
            raise ValueError(f"mask must broadcast to the scores' shape {tuple(scores_shape)}, got "
                             f"{tuple(mask.shape)}") from err
    return _attention_core(Q, K, V, mask)


def restricted_attention(Q, K, V, r: int):
    """Self-attention restricted to a window of ``r`` keys centred on each query: O(r n d).

    ``Q, K, V``: one shape ``(B, n, d)``. Only the ``r`` neighbours are gathered (``unfold``),
    so the ``n x n`` matrix never exists.
    """
    r = check.integer(r, "r", 1)
    for t, name in ((Q, "Q"), (K, "K"), (V, "V")):
        _check_tensor(t, name, dims=3, shape_text="(B, n, d)")
    if Q.shape != K.shape or K.shape != V.shape:
        raise ValueError(f"Q, K, V must share one shape (B, n, d), got {tuple(Q.shape)}, "
                         f"{tuple(K.shape)}, {tuple(V.shape)}")
    return _restricted_attention(Q, K, V, r)


def _restricted_attention(Q, K, V, r):
    B, n, d = Q.shape
    left = (r - 1) // 2
    right = r - 1 - left

    def windows(X):  # (B, n, d) -> (B, n, r, d)
        X = F.pad(X, (0, 0, left, right))  # (B, n + r - 1, d)
        return X.unfold(1, r, 1).transpose(-1, -2)

    Kw, Vw = windows(K), windows(V)
    idx = torch.arange(n, device=Q.device)[:, None] + torch.arange(-left, right + 1, device=Q.device)
    inside = (idx >= 0) & (idx < n)  # (n, r): False where the window hangs over an edge
    scores = torch.einsum("bnd,bnrd->bnr", Q, Kw) / math.sqrt(d)  # (B, n, r)
    weights = torch.softmax(scores.masked_fill(~inside, float("-inf")), dim=-1)
    return torch.einsum("bnr,bnrd->bnd", weights, Vw)  # (B, n, d)


class CausalConv1d(nn.Module):
    """Causal convolution over time: output ``i`` reads inputs ``i-k+1 .. i`` (zeros before 0).

    With ``separable`` it is a depthwise convolution (one width-``k`` kernel per channel,
    k*n*d multiply-adds) followed by a pointwise d x d map (n*d*d); otherwise one full
    convolution with a d x d matrix per tap (k*n*d*d).
    """

    def __init__(self, d: int, k: int, separable: bool = False):
        super().__init__()
        self.d, self.k = check.integer(d, "d", 1), check.integer(k, "k", 1)
        check.boolean(separable, "separable")
        self.conv = nn.Conv1d(d, d, k, groups=d if separable else 1, bias=False)
        self.pointwise = nn.Conv1d(d, d, 1, bias=False) if separable else nn.Identity()

    def forward(self, X):  # X: (B, n, d)
        _check_sequence_batch(X, self.d)
        X = F.pad(X.transpose(1, 2), (self.k - 1, 0))  # (B, d, n + k - 1): zeros on the left only
        return self.pointwise(self.conv(X)).transpose(1, 2)  # (B, n, d)


class SelfAttention(nn.Module):
    """Single-head self-attention ``softmax(X W_q (X W_k)^T / sqrt(d)) X W_v`` (no biases).

    With ``projections=False`` it is the bare core with ``Q = K = V = X``.
    """

    def __init__(self, d: int, projections: bool = True):
        super().__init__()
        self.d = check.integer(d, "d", 1)
        check.boolean(projections, "projections")
        make = (lambda: nn.Linear(d, d, bias=False)) if projections else nn.Identity
        self.W_q, self.W_k, self.W_v = make(), make(), make()

    def forward(self, X):  # X: (B, n, d)
        _check_sequence_batch(X, self.d)
        return _attention_core(self.W_q(X), self.W_k(X), self.W_v(X))  # (B, n, d)


class RestrictedSelfAttention(SelfAttention):
    """Self-attention over a window of ``r`` positions around each query."""

    def __init__(self, d: int, r: int, projections: bool = True):
        super().__init__(d, projections)
        self.r = check.integer(r, "r", 1)

    def forward(self, X):  # X: (B, n, d)
        _check_sequence_batch(X, self.d)
        return _restricted_attention(self.W_q(X), self.W_k(X), self.W_v(X), self.r)


class Recurrent(nn.Module):
    """An Elman RNN layer ``h_t = tanh(W_xh x_t + W_hh h_{t-1})`` returning every ``h_t``: (B, n, d)."""

    def __init__(self, d: int):
        super().__init__()
        self.d = check.integer(d, "d", 1)
        self.rnn = nn.RNN(d, d, batch_first=True, bias=False)

    def forward(self, X):  # X: (B, n, d)
        _check_sequence_batch(X, self.d)
        return self.rnn(X)[0]


def make_layer(kind: str, d: int, k: int = 3, r: int = 16, projections: bool = True) -> nn.Module:
    """A bias-free layer ``(B, n, d) -> (B, n, d)`` of one of the kinds in Table 1 (default init).

    ``projections`` applies to the two attention kinds (``False``: the bare core Table 1 counts).
    """
    check.string(kind, "kind", choices=KINDS)
    d, k, r = check.integer(d, "d", 1), check.integer(k, "k", 1), check.integer(r, "r", 1)
    check.boolean(projections, "projections")
    if kind == "self_attention":
        return SelfAttention(d, projections)
    if kind == "restricted":
        return RestrictedSelfAttention(d, r, projections)
    if kind == "recurrent":
        return Recurrent(d)
    return CausalConv1d(d, k, separable=kind == "separable")


# ----------------------------------------------------------------------------- sequential operations

@dataclass(frozen=True)
class OpCount:
    """What :func:`op_depth` counted: all operations, and the longest chain of dependent ones."""
    ops: int
    depth: int


_FREE = ("_unsafe_view", "detach", "alias", "lift_fresh")


def op_depth(fn, *args, **kwargs) -> OpCount:
    """Run ``fn`` and return the number of ``aten`` operations and their critical path.

    Every operation gets ``depth = 1 + max(depth of its tensor inputs)`` (inputs of ``fn``
    have depth 0; views and other metadata-only operations add nothing). The largest depth
    is the *minimum number of sequential operations*: with unlimited parallel hardware no
    schedule can finish in fewer steps, because each one waits for the previous.
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    _check_callable(fn)
    depth, keep = {}, []  # id(tensor) -> depth; keep tensors alive so ids are not reused

    ops = [0]

    class _Tracker(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
            free = getattr(func, "is_view", False) or any(s in str(func) for s in _FREE)
            level = max((depth.get(id(t), 0) for t in ins), default=0) + (0 if free or not ins else 1)
            ops[0] += 0 if free else 1
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    depth[id(t)] = level  # an in-place op updates the depth of its tensor
                    keep.append(t)
            return out

    with _Tracker():
        fn(*args, **kwargs)
    return OpCount(ops=ops[0], depth=max(depth.values(), default=0))


# ----------------------------------------------------------------------------- path length

def connectivity(kind: str, n: int, k: int = 3, r: int = 16, layer: int = 0, dilated: bool = True):
    """Boolean ``(n, n)`` matrix ``M`` of one layer: ``M[i, j]`` is True when output ``i`` reads input ``j``.

    ``recurrent``: one time step, ``h_i`` reads ``h_{i-1}`` and ``x_i``. ``convolutional`` and
    ``separable``: a causal kernel of width ``k`` (``i`` reads ``i-k+1 .. i``); with ``dilated``
    the ``layer``-th layer of a stack (counted from 0) uses dilation ``k**layer`` (as in
    WaveNet), else every layer is contiguous.
    ``restricted``: a window of ``r`` positions around ``i``.
    """
    check.string(kind, "kind", choices=KINDS)
    n, k, r = check.integer(n, "n", 1), check.integer(k, "k", 1), check.integer(r, "r", 1)
    layer = check.integer(layer, "layer", 0)
    check.boolean(dilated, "dilated")
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    if kind == "self_attention":
        return torch.ones(n, n, dtype=torch.bool)
    if kind == "recurrent":
        return (j == i) | (j == i - 1)
    if kind == "restricted":
        left = (r - 1) // 2
        return (j >= i - left) & (j <= i + r - 1 - left)
    dil = k ** layer if dilated else 1
    back = i - j  # how far back output i looks
    return (back % dil == 0) & (back >= 0) & (back <= (k - 1) * dil)


def max_path_length(kind: str, n: int, k: int = 3, r: int = 16, dilated: bool = True,
                    max_hops: int | None = None) -> int:
    """Measured: the fewest layers (time steps, for ``recurrent``) through which position 0 reaches position n-1.

    Follows the connectivity graph hop by hop (breadth-first search); for a convolution stack
    the ``l``-th hop uses the ``l``-th layer's dilation. A convolution needs ``k >= 2`` and a
    restricted window ``r >= 3`` to reach further at all (``n = 1`` needs no hop: 0).
    """
    check.string(kind, "kind", choices=KINDS)
    n, k, r = check.integer(n, "n", 1), check.integer(k, "k", 1), check.integer(r, "r", 1)
    check.boolean(dilated, "dilated")
    max_hops = 4 * n if max_hops is None else check.integer(max_hops, "max_hops", 1)
    if n > 1 and kind in ("convolutional", "separable") and k < 2:
        raise ValueError(f"a convolution of width k = {k} never reaches another position; k must be >= 2")
    if n > 1 and kind == "restricted" and r < 3:
        raise ValueError(f"a window of r = {r} never reaches a later position; r must be >= 3")
    if n == 1:
        return 0
    reach = torch.zeros(n, dtype=torch.bool)
    reach[0] = True
    for hop in range(1, max_hops + 1):
        M = connectivity(kind, n, k, r, layer=hop - 1, dilated=dilated)
        reach = (M.float() @ reach.float()) > 0  # output i is reached if it reads a reached input
        if reach[n - 1]:
            return hop
    raise ValueError(f"position {n - 1} is not reached from 0 within max_hops = {max_hops} hops; "
                     f"allow more hops")


# ----------------------------------------------------------------------------- gradient reach

def gradient_reach(layer, X: torch.Tensor) -> torch.Tensor:
    """``g[i] = || d y_{n-1} / d x_i ||_F`` for a layer mapping ``(B, n, d_in) -> (B, n, d_out)``.

    ``X`` is one sequence ``(n, d_in)``. The full Jacobian of the last output comes from a
    single backward pass: the sequence is copied ``d_out`` times along the batch and copy
    ``b`` back-propagates only component ``b`` of its last output (rows are independent,
    so the layer must not mix the batch, e.g. no batch norm, no dropout).
    """
    _check_callable(layer, "layer")
    _check_tensor(X, "X", dims=2, shape_text="(n, d_in), one sequence")
    n = X.shape[0]
    with torch.no_grad():
        probe = layer(X[None])
    if not isinstance(probe, torch.Tensor) or probe.dim() != 3 or tuple(probe.shape[:2]) != (1, n):
        raise ValueError(f"layer must map (B, n, d_in) to (B, n, d_out); on (1, {n}, {X.shape[1]}) it "
                         f"returned {check.describe(probe)}")
    d_out = probe.shape[-1]
    Xs = X.detach()[None].repeat(d_out, 1, 1).requires_grad_(True)  # (d_out, n, d_in)
    Y = layer(Xs)  # (d_out, n, d_out)
    Y[:, -1, :].diagonal().sum().backward()
    return Xs.grad.pow(2).sum(dim=(0, 2)).sqrt()  # (n,)


# ----------------------------------------------------------------------------- time and memory

def _sync(device):
    """Wait for queued kernels, so that a clock reading covers the work (CUDA and MPS run asynchronously)."""
    kind = torch.device(device).type if device is not None else "cpu"
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def _clock(fn, number, device):
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    _sync(device)
    return time.perf_counter() - t0


def _calibrate(fn, min_time, device):
    """Calls per sample so that one sample lasts at least ``min_time`` seconds."""
    number = 1
    while True:
        t = _clock(fn, number, device)
        if t >= min_time or number >= 2 ** 20:
            return number
        number = max(2 * number, int(1.2 * number * min_time / max(t, 1e-9)))


def time_call(fn, repeats: int = 5, min_time: float = 2e-3, device=None) -> float:
    """Median seconds per call of ``fn()`` over ``repeats`` samples of at least ``min_time`` each."""
    _check_callable(fn)
    repeats = check.integer(repeats, "repeats", 1)
    min_time = check.number(min_time, "min_time", 0.0)
    device = _check_device(device)
    fn()  # warm-up
    number = _calibrate(fn, min_time, device)
    return statistics.median(_clock(fn, number, device) / number for _ in range(repeats))


def measure_scaling(builders: dict, sizes, repeats: int = 5, min_time: float = 2e-3, device=None) -> dict:
    """Time ``builders[label](size)()`` for every label and size, interleaved.

    ``builders``: ``{label: make}`` where ``make(size)`` returns a zero-argument callable
    (inputs built once, outside the timing). Each of the ``repeats`` rounds times every
    (size, label) pair once, so a burst of load on a shared machine hits all of them
    alike; the result is the median per pair: ``{label: (sizes, seconds)}``.
    """
    if not isinstance(builders, dict) or not builders:
        raise TypeError(f"builders must be a non-empty dict {{label: make(size) -> callable}}, got "
                        f"{check.describe(builders)}")
    for label, make in builders.items():
        _check_callable(make, f"builders[{label!r}]")
    sizes = check.sequence(sizes, "sizes", "a list of sizes", nonempty=True)
    repeats = check.integer(repeats, "repeats", 1)
    min_time = check.number(min_time, "min_time", 0.0)
    device = _check_device(device)
    calls, numbers = {}, {}
    for label, make in builders.items():
        for s in sizes:
            fn = make(s)
            _check_callable(fn, f"builders[{label!r}]({s!r})")
            fn()  # warm-up
            calls[label, s] = fn
            numbers[label, s] = _calibrate(fn, min_time, device)
    samples = {key: [] for key in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            samples[key].append(_clock(fn, numbers[key], device) / numbers[key])
    return {label: (sizes, [statistics.median(samples[label, s]) for s in sizes]) for label in builders}


def local_slopes(xs, ys):
    """Slopes of a log-log curve between neighbouring points: ``log(y[i+1]/y[i]) / log(x[i+1]/x[i])``.

    One fitted slope over a whole range averages these; where they drift (fixed costs at
    small sizes, cache effects at large ones) the local values show it. ``xs`` strictly
    increasing, ``xs`` and ``ys`` positive and finite, at least two points. Returns a list of
    ``len(xs) - 1`` floats.
    """
    import numpy as np
    arrays = []
    for values, name in ((xs, "xs"), (ys, "ys")):
        if isinstance(values, (str, bytes, dict)) or isinstance(values, numbers.Number):
            raise TypeError(f"{name} must be a 1-D sequence of numbers, got {check.describe(values)}")
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        try:
            a = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a 1-D sequence of numbers, got {check.describe(values)}") from err
        if a.ndim != 1 or len(a) < 2:
            raise ValueError(f"{name} must be 1-D with at least 2 points, got shape {a.shape}")
        if not np.isfinite(a).all() or (a <= 0).any():
            raise ValueError(f"{name} must be positive and finite, got {a.tolist()}")
        arrays.append(a)
    x, y = arrays
    check.same_length(x, y, "xs", "ys")
    if (np.diff(x) <= 0).any():
        raise ValueError(f"xs must be strictly increasing, got {x.tolist()}")
    return (np.diff(np.log(y)) / np.diff(np.log(x))).tolist()


def activation_bytes(fn, *args, exclude=(), **kwargs) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of ``fn(*args)`` (activations).

    Counted portably with ``torch.autograd.graph.saved_tensors_hooks``: every saved tensor is
    traced to its storage and each storage counted once. The storages of ``args`` and of
    ``exclude`` (e.g. ``module.parameters()``) are left out: they exist whatever the length.
    """
    _check_callable(fn)
    if isinstance(exclude, torch.Tensor) or not hasattr(exclude, "__iter__"):
        raise TypeError(f"exclude must be an iterable of tensors (e.g. module.parameters()), got "
                        f"{check.describe(exclude)}")
    exclude = list(exclude)
    bad = [t for t in exclude if not isinstance(t, torch.Tensor)]
    if bad:
        raise TypeError(f"exclude must hold tensors only, got {check.describe(bad[0])}")

    def ptr(t):
        return t.untyped_storage().data_ptr()

    skip = {ptr(t) for t in (*args, *exclude) if isinstance(t, torch.Tensor)}
    seen = {}

    def pack(t):
        if t.layout == torch.strided and t.device.type != "meta":
            p = ptr(t)
            if p not in skip:
                seen[p] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*args, **kwargs)
    del out
    return int(sum(seen.values()))


def cuda_peak_bytes(fn, *args, **kwargs) -> int:
    """Peak CUDA memory allocated while ``fn(*args)`` runs, above what was allocated before (CUDA only)."""
    _check_callable(fn)
    if not torch.cuda.is_available():
        raise RuntimeError("cuda_peak_bytes needs a CUDA device; on CPU use activation_bytes")
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = fn(*args, **kwargs)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del out
    return int(peak)


# ----------------------------------------------------------------------------- attention benchmark

def sdpa_attention(X, W_q, W_k, W_v, W_o, num_heads, valid_lens=None):
    """Multi-head self-attention from plain ``F.linear`` and ``F.scaled_dot_product_attention``.

    ``X``: ``(B, n, D)``; ``W_*``: ``(D, D)`` weight matrices as in ``nn.Linear`` (no biases);
    ``valid_lens``: optional ``(B,)`` integer lengths in ``1 .. n`` (keys beyond are ignored).
    """
    _check_tensor(X, "X", dims=3, shape_text="(B, n, D)")
    B, n, D = X.shape
    h = check.integer(num_heads, "num_heads", 1)
    if D % h:
        raise ValueError(f"the width D must be divisible by num_heads, got D = {D}, num_heads = {h}")
    for W, name in ((W_q, "W_q"), (W_k, "W_k"), (W_v, "W_v"), (W_o, "W_o")):
        _check_tensor(W, name, dims=2, shape_text=f"({D}, {D})")
        if tuple(W.shape) != (D, D):
            raise ValueError(f"{name} must have shape ({D}, {D}), got {tuple(W.shape)}")
    mask = None
    if valid_lens is not None:
        if not isinstance(valid_lens, torch.Tensor) or valid_lens.dtype.is_floating_point \
                or valid_lens.dtype == torch.bool or valid_lens.is_complex():
            raise TypeError(f"valid_lens must be None or an integer tensor of shape ({B},), got "
                            f"{check.describe(valid_lens)}")
        if tuple(valid_lens.shape) != (B,):
            raise ValueError(f"valid_lens must have shape ({B},), got {tuple(valid_lens.shape)}")
        if bool(((valid_lens < 1) | (valid_lens > n)).any()):
            raise ValueError(f"valid_lens must lie in 1 .. {n}, got {valid_lens.tolist()}")
        mask = (torch.arange(n, device=X.device)[None, :] < valid_lens.to(X.device)[:, None])
        mask = mask[:, None, None, :]  # (B, 1, 1, n)

    def heads(t):  # (B, n, D) -> (B, h, n, D / h)
        return t.view(B, n, h, D // h).transpose(1, 2)

    q, k, v = heads(F.linear(X, W_q)), heads(F.linear(X, W_k)), heads(F.linear(X, W_v))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, n, D / h)
    return F.linear(out.transpose(1, 2).reshape(B, n, D), W_o)


def _torch_mha_from(mha_d2lt, num_heads):
    """A ``torch.nn.MultiheadAttention(bias=False)`` carrying the same weights as a d2lt one."""
    W = [m.weight for m in (mha_d2lt.W_q, mha_d2lt.W_k, mha_d2lt.W_v, mha_d2lt.W_o)]
    D = W[0].shape[1]
    ref = nn.MultiheadAttention(D, num_heads, bias=False, batch_first=True).to(W[0].device)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat(W[:3], dim=0))
        ref.out_proj.weight.copy_(W[3])
    return ref


def benchmark_attention(batch_size: int = 8, num_steps: int = 256, num_hiddens: int = 256,
                        num_heads: int = 8, repeats: int = 7, min_time: float = 0.02,
                        device=None, backward: bool = True, seed: int = 0) -> dict:
    """Forward (+ backward) time of four multi-head self-attention implementations on one input.

    * ``d2lt fused``    -- ``d2lt.attention.MultiHeadAttention`` on its fused path;
    * ``d2lt explicit`` -- the same module on its explicit (matrix-form) path;
    * ``torch.nn.MultiheadAttention`` -- ``bias=False``, the same weights mapped across;
    * ``F.scaled_dot_product_attention`` -- the same projections by hand.

    All four are first checked to give the same output, then timed in interleaved rounds;
    returns ``{"seconds": {name: median}, "ratio": {name: median / torch.nn median}, "config": {...}}``.
    """
    from . import attention  # imported here: the rest of this module does not need it

    for value, name in ((batch_size, "batch_size"), (num_steps, "num_steps"),
                        (num_hiddens, "num_hiddens"), (num_heads, "num_heads"), (repeats, "repeats")):
        check.integer(value, name, 1)
    min_time = check.number(min_time, "min_time", 0.0)
    check.boolean(backward, "backward")
    seed = check.integer(seed, "seed", 0)
    if num_hiddens % num_heads:
        raise ValueError(f"num_hiddens must be divisible by num_heads, got {num_hiddens} and {num_heads}")
    device = _check_device(device) or torch.device("cpu")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X = torch.randn(batch_size, num_steps, num_hiddens, generator=gen).to(device)
    ours = attention.MultiHeadAttention(num_hiddens, num_heads, dropout=0.0, bias=False).to(device).eval()
    with torch.no_grad():
        ours(X, X, X)  # materialises lazy input layers, if any
    ref = _torch_mha_from(ours, num_heads).eval()
    W = [m.weight for m in (ours.W_q, ours.W_k, ours.W_v, ours.W_o)]
    X.requires_grad_(backward)

    impls = {
        "d2lt fused": lambda: _d2lt_forward(ours, X, fused=True),
        "d2lt explicit": lambda: _d2lt_forward(ours, X, fused=False),
        "torch.nn.MultiheadAttention": lambda: ref(X, X, X, need_weights=False)[0],
        "F.scaled_dot_product_attention": lambda: sdpa_attention(X, *W, num_heads),
    }
    with torch.no_grad():
        expected = impls["torch.nn.MultiheadAttention"]()
        for name, f in impls.items():
            torch.testing.assert_close(f(), expected, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")

    def step(f):
        def run():
            out = f()
            if backward:
                out.sum().backward()
        return run

    builders = {name: (lambda _, f=f: step(f)) for name, f in impls.items()}
    timed = measure_scaling(builders, [num_steps], repeats=repeats, min_time=min_time, device=device)
    seconds = {name: ts[0] for name, (_, ts) in timed.items()}
    base = seconds["torch.nn.MultiheadAttention"]
    return {
        "seconds": seconds,
        "ratio": {name: s / base for name, s in seconds.items()},
        "config": dict(batch_size=batch_size, num_steps=num_steps, num_hiddens=num_hiddens,
                       num_heads=num_heads, repeats=repeats, backward=backward, device=str(device),
                       threads=torch.get_num_threads(), torch=torch.__version__),
    }


def _d2lt_forward(mha, X, fused):
    """Self-attention through a d2lt ``MultiHeadAttention`` on its fused or explicit path."""
    mha.fused = fused
    return mha(X, X, X)
