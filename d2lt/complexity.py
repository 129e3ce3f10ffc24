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

This module turns every column into something a notebook can count or time:

* :func:`layer_flops` -- the leading-term FLOPs of each layer (2 per multiply-add,
  the convention of ``torch.utils.flop_counter.FlopCounterMode``);
* :func:`op_depth` -- the critical path of the operations a function dispatches
  (the *minimum number of sequential operations*);
* :func:`connectivity` / :func:`max_path_length` -- hops from the first to the
  last position through a stack of layers;
* :func:`gradient_reach` -- ``||d y_last / d x_i||`` for every position ``i``;
* :func:`time_call`, :func:`measure_scaling`, :func:`activation_bytes`,
  :func:`cuda_peak_bytes` -- wall time and memory;
* :func:`benchmark_attention` -- ``d2lt.attention.MultiHeadAttention`` against
  ``torch.nn.MultiheadAttention`` and plain ``scaled_dot_product_attention``.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

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


def _check_pos_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


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
    _check_kind(kind)
    for value, name in ((n, "n"), (d, "d"), (k, "k"), (r, "r")):
        _check_pos_int(value, name)
    macs = {
        "self_attention": 2 * n * n * d,
        "recurrent": 2 * n * d * d,
        "convolutional": k * n * d * d,
        "separable": k * n * d + n * d * d,
        "restricted": 2 * r * n * d,
    }[kind]
    return 2 * macs


def crossover_length(d: int) -> int:
    """The length ``n`` where self-attention and a recurrent layer cost the same FLOPs.

    ``4 n^2 d = 4 n d^2``  gives  ``n = d``: for shorter sequences attention is cheaper.
    """
    _check_pos_int(d, "d")
    return d


def count_flops(fn, *args, **kwargs) -> int:
    """FLOPs of ``fn(*args, **kwargs)`` as counted by ``torch.utils.flop_counter.FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------- the five layers

def attention_core(Q, K, V, mask=None):
    """Scaled dot-product attention, the part Table 1 counts: ``softmax(Q K^T / sqrt(d)) V``.

    ``Q, K, V``: ``(..., n, d)``; ``mask`` (broadcastable to ``(..., n, n)``, True = keep) optional.
    Masked scores become ``attention.MASK_VALUE`` (-1e6, as in d2l), not ``-inf``, so a row
    with every key masked gives uniform weights instead of NaN.
    """
    from .attention import softmax_with_mask  # imported here: attention does not need this module
    for t, name in ((Q, "Q"), (K, "K"), (V, "V")):
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            raise ValueError(f"{name} must be a tensor of shape (..., n, d), got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])  # (..., n, n)
    return softmax_with_mask(scores, mask) @ V  # (..., n, d)


def restricted_attention(Q, K, V, r: int):
    """Self-attention restricted to a window of ``r`` keys centred on each query: O(r n d).

    Only the ``r`` neighbours are gathered (``unfold``), so the ``n x n`` matrix never exists.
    """
    _check_pos_int(r, "r")
    if Q.shape != K.shape or K.shape != V.shape or Q.dim() != 3:
        raise ValueError(f"Q, K, V must share one shape (B, n, d), got {tuple(Q.shape)}, "
                         f"{tuple(K.shape)}, {tuple(V.shape)}")
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
    """Causal convolution over time: output ``i`` reads inputs ``i-k+1 .. i``.

    With ``separable`` it is a depthwise convolution (one width-``k`` kernel per channel,
    k*n*d multiply-adds) followed by a pointwise d x d map (n*d*d); otherwise one full
    convolution with a d x d matrix per tap (k*n*d*d).
    """

    def __init__(self, d: int, k: int, separable: bool = False):
        super().__init__()
        _check_pos_int(d, "d")
        _check_pos_int(k, "k")
        self.k = k
        self.conv = nn.Conv1d(d, d, k, groups=d if separable else 1, bias=False)
        self.pointwise = nn.Conv1d(d, d, 1, bias=False) if separable else nn.Identity()

    def forward(self, X):  # X: (B, n, d)
        X = F.pad(X.transpose(1, 2), (self.k - 1, 0))  # (B, d, n + k - 1)
        return self.pointwise(self.conv(X)).transpose(1, 2)  # (B, n, d)


class SelfAttention(nn.Module):
    """Single-head self-attention ``softmax(X W_q (X W_k)^T / sqrt(d)) X W_v`` (no biases).

    With ``projections=False`` it is the bare core with ``Q = K = V = X``.
    """

    def __init__(self, d: int, projections: bool = True):
        super().__init__()
        _check_pos_int(d, "d")
        make = (lambda: nn.Linear(d, d, bias=False)) if projections else nn.Identity
        self.W_q, self.W_k, self.W_v = make(), make(), make()

    def forward(self, X):  # X: (B, n, d)
        return attention_core(self.W_q(X), self.W_k(X), self.W_v(X))  # (B, n, d)


class RestrictedSelfAttention(SelfAttention):
    """Self-attention over a window of ``r`` positions around each query."""

    def __init__(self, d: int, r: int, projections: bool = True):
        super().__init__(d, projections)
        _check_pos_int(r, "r")
        self.r = r

    def forward(self, X):  # X: (B, n, d)
        return restricted_attention(self.W_q(X), self.W_k(X), self.W_v(X), self.r)


class Recurrent(nn.Module):
    """An Elman RNN layer ``h_t = tanh(W_xh x_t + W_hh h_{t-1})`` returning every ``h_t``: (B, n, d)."""

    def __init__(self, d: int):
        super().__init__()
        _check_pos_int(d, "d")
        self.rnn = nn.RNN(d, d, batch_first=True, bias=False)

    def forward(self, X):  # X: (B, n, d)
        return self.rnn(X)[0]


def make_layer(kind: str, d: int, k: int = 3, r: int = 16, projections: bool = True) -> nn.Module:
    """A bias-free layer ``(B, n, d) -> (B, n, d)`` of one of the kinds in Table 1 (default init).

    ``projections`` applies to the two attention kinds (``False``: the bare core Table 1 counts).
    """
    _check_kind(kind)
    _check_pos_int(d, "d")
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

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
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
    the ``layer``-th layer of a stack uses dilation ``k**layer`` (as in WaveNet), else every
    layer is contiguous.
    ``restricted``: a window of ``r`` positions around ``i``.
    """
    _check_kind(kind)
    for value, name in ((n, "n"), (k, "k"), (r, "r")):
        _check_pos_int(value, name)
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
    the ``l``-th hop uses the ``l``-th layer's dilation.
    """
    _check_kind(kind)
    _check_pos_int(n, "n")
    reach = torch.zeros(n, dtype=torch.bool)
    reach[0] = True
    max_hops = max_hops or 4 * n
    for hop in range(1, max_hops + 1):
        M = connectivity(kind, n, k, r, layer=hop - 1, dilated=dilated)
        reach = (M.float() @ reach.float()) > 0  # output i is reached if it reads a reached input
        if reach[n - 1]:
            return hop
    raise RuntimeError(f"position {n - 1} not reached from 0 within {max_hops} hops")


# ----------------------------------------------------------------------------- gradient reach

def gradient_reach(layer, X: torch.Tensor) -> torch.Tensor:
    """``g[i] = || d y_{n-1} / d x_i ||_F`` for a layer mapping ``(B, n, d_in) -> (B, n, d_out)``.

    ``X`` is one sequence ``(n, d_in)``. The full Jacobian of the last output comes from a
    single backward pass: the sequence is copied ``d_out`` times along the batch and copy
    ``b`` back-propagates only component ``b`` of its last output (rows are independent,
    so the layer must not mix the batch, e.g. no batch norm, no dropout).
    """
    if not isinstance(X, torch.Tensor) or X.dim() != 2:
        raise ValueError(f"X must be one sequence of shape (n, d_in), got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    with torch.no_grad():
        d_out = layer(X[None]).shape[-1]
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
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _check_pos_int(repeats, "repeats")
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
        raise TypeError("builders must be a non-empty dict {label: make(size) -> callable}")
    sizes = list(sizes)
    if not sizes:
        raise ValueError("sizes must not be empty")
    _check_pos_int(repeats, "repeats")
    calls, numbers = {}, {}
    for label, make in builders.items():
        for s in sizes:
            fn = make(s)
            fn()  # warm-up
            calls[label, s] = fn
            numbers[label, s] = _calibrate(fn, min_time, device)
    samples = {key: [] for key in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            samples[key].append(_clock(fn, numbers[key], device) / numbers[key])
    return {label: (sizes, [statistics.median(samples[label, s]) for s in sizes]) for label in builders}


def activation_bytes(fn, *args, exclude=(), **kwargs) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of ``fn(*args)`` (activations).

    Counted portably with ``torch.autograd.graph.saved_tensors_hooks``: every saved tensor is
    traced to its storage and each storage counted once. The storages of ``args`` and of
    ``exclude`` (e.g. ``module.parameters()``) are left out: they exist whatever the length.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")

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

    ``X``: ``(B, n, D)``; ``W_*``: ``(D, D)`` weight matrices as in ``nn.Linear`` (no biases).
    """
    B, n, D = X.shape
    h = num_heads

    def heads(t):  # (B, n, D) -> (B, h, n, D / h)
        return t.view(B, n, h, D // h).transpose(1, 2)

    q, k, v = heads(F.linear(X, W_q)), heads(F.linear(X, W_k)), heads(F.linear(X, W_v))
    mask = None
    if valid_lens is not None:
        mask = (torch.arange(n, device=X.device)[None, :] < valid_lens[:, None])[:, None, None, :]
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
        _check_pos_int(value, name)
    if num_hiddens % num_heads:
        raise ValueError(f"num_hiddens must be divisible by num_heads, got {num_hiddens} and {num_heads}")
    device = torch.device(device) if device is not None else torch.device("cpu")
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
