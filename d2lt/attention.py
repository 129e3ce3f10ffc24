"""Attention: masked softmax, dot-product, additive and multi-head attention, positions.

Shapes: B = batch, Q = number of queries, K = number of key-value pairs,
d = query/key width, h = heads, T = sequence length. Tensors are batch-first.

Scaled dot-product attention (chapter 3)::

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + mask) V

Multi-head attention (chapter 4) runs h such attentions on h subspaces of
width d/h and mixes their outputs with one more projection::

    head_i = Attention(X_q W_q^(i), X_k W_k^(i), X_v W_v^(i)),
    MHA(X_q, X_k, X_v) = concat(head_1, ..., head_h) W_o.

Masks. A *padding mask* comes from ``valid_lens``: either one length per
batch row, shape ``(B,)``, or one length per query, shape ``(B, Q)``; key
positions at or beyond the length are masked. A *causal mask* lets position
``i`` attend to positions ``<= i`` only. Boolean masks follow
``scaled_dot_product_attention``: ``True`` means "may attend".

Valid lengths are whole numbers in ``[0, K]``: an integer tensor, or a float
tensor holding whole numbers (``d2l``'s BERT data stores lengths as floats).
Anything else -- a negative, fractional, NaN or infinite length, one longer
than the number of keys, a list instead of a tensor, a wrong shape -- is an
error, never a silently different mask. A length of ``0`` masks *every* key:
that query has nothing to attend to. The explicit matrix form then gives it
uniform weights ``1/K`` (every score is -1e6, as in ``d2l``; never NaN), so its
output is the mean of the values; the fused kernel of
:class:`MultiHeadAttention` gives zeros. Such a query is padding itself:
whatever it returns must be ignored downstream.

Two ways to compute the same attention. The explicit matrix form
(``masked_softmax`` of the scores, then a batched product) is what the
chapters derive, and it exposes the weights. ``MultiHeadAttention`` defaults
to the fused kernel ``torch.nn.functional.scaled_dot_product_attention``
(``fused=True``: flash / memory-efficient on GPU, never materialising the
weights) and keeps the explicit form as ``fused=False``; its
``.attention_weights`` are recomputed from the last call's queries and keys
only when someone reads them, so plotting works on either path.

Names and call signatures follow ``d2l`` (Dive into Deep Learning) so that the
book's code runs unchanged; the tests check every class against ``d2l`` and
``torch.nn.MultiheadAttention``.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check

MASK_VALUE = -1e6  # what d2l writes into masked scores before the softmax

__all__ = [
    "masked_softmax", "softmax_with_mask", "padding_mask", "causal_mask", "transpose_qkv", "transpose_output",
    "DotProductAttention", "AdditiveAttention", "MultiHeadAttention", "mha_from_torch",
    "PositionalEncoding", "LearnedPositionalEncoding", "sinusoidal_table",
]


# ------------------------------------------------------------------------ input checks
# The generic checks live in d2lt.validate; these are about attention's own contracts
# (lengths, masks, devices of layers), shared with d2lt.seq2seq and d2lt.bahdanau
# (imports run tasks -> models -> attention). Each check looks at shapes, dtypes and
# devices only, except the lengths and ids checks, which take one min/max reduction per call.

_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _shape(x):
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__


def _opt_size(v, name):
    """None (infer the width at the first call) or a positive int."""
    return None if v is None else check.integer(v, name, low=1)


def _check_lengths(lens, name, shapes, expected, low, high, why=""):
    """Check a tensor of lengths: shape one of ``shapes``, whole values in ``[low, high]``.

    ``expected`` describes the allowed shapes for the message, ``why`` the range. Integer
    tensors, and float tensors holding whole numbers, are lengths; bool and complex are not.
    One reduction (and one host sync) per call; none for an empty tensor.
    """
    if not isinstance(lens, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape {expected}, got {check.describe(lens)}")
    if tuple(lens.shape) not in shapes:
        raise ValueError(f"{name} must be a tensor of shape {expected}, got {check.describe(lens)}")
    if lens.dtype not in _INT_DTYPES and not lens.is_floating_point():
        raise TypeError(f"{name} must hold integer lengths (an integer tensor), got {check.describe(lens)}")
    if lens.numel() == 0:
        return
    lo, hi = torch.aminmax(lens)
    if lens.is_floating_point():
        not_whole = lens != lens.floor()  # True at fractions and at NaN
        lo, hi, frac = torch.stack([lo, hi, not_whole.any().to(lens.dtype)]).tolist()
        if frac:
            bad = lens[not_whole][0].item()
            raise ValueError(f"{name} must hold whole numbers (lengths), got {bad!r} in {check.describe(lens)}")
    else:
        lo, hi = torch.stack([lo, hi]).tolist()
    if lo < low or hi > high:
        raise ValueError(f"{name} must lie in [{low}, {high}]{why}, got min {lo:g}, max {hi:g}")


def _check_device(x, name, param, owner):
    """``x`` is on the device of ``param`` (a layer's weight). Dtypes are left to torch: under
    ``torch.autocast`` float16 inputs meet float32 weights by design."""
    if isinstance(param, nn.parameter.UninitializedParameter):
        return
    if x.device != param.device:
        raise ValueError(f"{name} is on {x.device} but {owner} is on {param.device}: move one of them "
                         f"with .to(...)")


# ----------------------------------------------------------------------------- masks

def _lens_expected(B, Q):
    return f"({B},) (one length per batch row) or ({B}, {Q}) (one per query)"


def padding_mask(valid_lens, num_queries: int, num_keys: int) -> torch.Tensor:
    """Boolean mask from lengths, ``True`` where a query may attend to a key.

    ``valid_lens`` of shape ``(B,)`` gives ``(B, 1, K)`` (one length for every
    query of a row, broadcast over queries); shape ``(B, Q)`` gives ``(B, Q, K)``.
    Lengths are whole numbers in ``[0, K]``; a length of 0 masks every key of its row.
    """
    Q = check.integer(num_queries, "num_queries", low=0)
    K = check.integer(num_keys, "num_keys", low=1)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError(f"valid_lens must be a tensor of shape (B,) or (B, {Q}) (one length per row, "
                        f"or per query), got {check.describe(valid_lens)}")
    if not (valid_lens.dim() == 1 or (valid_lens.dim() == 2 and valid_lens.shape[1] == Q)):
        raise ValueError(f"valid_lens must have shape (B,) or (B, {Q}) (one length per row, "
                         f"or per query), got {_shape(valid_lens)}")
    B = valid_lens.shape[0]
    _check_lengths(valid_lens, "valid_lens", ((B,), (B, Q)), _lens_expected(B, Q), 0, K,
                   f" (0 masks every key; there are {K} keys)")
    keys = torch.arange(K, device=valid_lens.device)  # (K,)
    if valid_lens.dim() == 1:
        return keys < valid_lens[:, None, None]  # (B, 1, K)
    return keys < valid_lens[:, :, None]  # (B, Q, K)


def causal_mask(T: int, device=None, num_keys: int | None = None) -> torch.Tensor:
    """Boolean ``(T, K)`` mask, ``True`` on and below the diagonal: position i sees keys <= i.

    With ``num_keys = K > T`` the T queries are the *last* T positions of K
    (aligned to the lower right, as when decoding with a key-value cache):
    query i sees keys ``<= i + K - T``. ``K`` defaults to ``T``.
    """
    T = check.integer(T, "T", low=0)
    K = T if num_keys is None else check.integer(num_keys, "num_keys", low=0)
    if K < T:
        raise ValueError(f"causal_mask needs 0 <= T <= num_keys, got T={T}, num_keys={K}")
    device = check.device(device)
    q = torch.arange(T, device=device)[:, None] + (K - T)  # absolute position of each query
    return torch.arange(K, device=device)[None, :] <= q  # (T, K)


def _check_valid_lens(valid_lens, B, Q, K):
    """Raise unless ``valid_lens`` is None, or ``(B,)`` / ``(B, Q)`` whole numbers in ``[0, K]``."""
    if valid_lens is None:
        return
    expected = _lens_expected(B, Q)
    if not isinstance(valid_lens, torch.Tensor):
        raise TypeError(f"valid_lens must be None or a tensor of shape {expected}, got {check.describe(valid_lens)}")
    if valid_lens.shape not in ((B,), (B, Q)):
        raise ValueError(f"valid_lens must be None or a tensor of shape {expected}, got {_shape(valid_lens)}")
    _check_lengths(valid_lens, "valid_lens", ((B,), (B, Q)), expected, 0, K,
                   f" (0 masks every key; there are {K} keys)")


def _make_mask(valid_lens, Q, K, is_causal, device):
    """The boolean mask (True = attend) for checked valid_lens and/or causality, or None."""
    mask = None
    if valid_lens is not None:
        keys = torch.arange(K, device=device)
        lens = valid_lens.to(device)
        mask = keys < (lens[:, None, None] if lens.dim() == 1 else lens[:, :, None])  # (B, 1|Q, K)
    if is_causal:
        c = causal_mask(Q, device, num_keys=K)  # (Q, K)
        mask = c if mask is None else mask & c
    return mask


def softmax_with_mask(scores, mask):
    """Softmax over the last axis; where the boolean ``mask`` is False (``None``: keep all) the
    score is first replaced by MASK_VALUE (or the dtype's lowest value where -1e6 does not fit,
    as in float16), so a fully masked row gets uniform weights, never NaN.

    ``mask`` must be a bool tensor on the device of ``scores`` that broadcasts to its shape.
    """
    if not isinstance(scores, torch.Tensor) or scores.dim() < 1:
        raise TypeError(f"scores must be a tensor with at least one dimension, got {check.describe(scores)}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating-point tensor, got {check.describe(scores)}")
    if scores.shape[-1] == 0:
        raise ValueError(f"scores has no keys (last dimension 0): nothing to take a softmax over, "
                         f"got {check.describe(scores)}")
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be None or a bool tensor (True = may attend), got {check.describe(mask)}")
        try:
            fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
                             f"{tuple(scores.shape)}")
        if mask.device != scores.device:
            raise ValueError(f"mask is on {mask.device} but scores are on {scores.device}")
        scores = scores.masked_fill(~mask, max(MASK_VALUE, torch.finfo(scores.dtype).min))
    return F.softmax(scores, dim=-1)


def masked_softmax(X, valid_lens=None):
    """Softmax over the last axis of ``X`` (B, Q, K), ignoring keys past ``valid_lens``.

    ``valid_lens`` is None, ``(B,)`` (per batch row) or ``(B, Q)`` (per query),
    whole numbers in ``[0, K]``. Masked scores are replaced by -1e6 (as in
    ``d2l.masked_softmax``), so their weight is 0; a row of length 0 (no valid
    key) gets uniform weights ``1/K``. ``X`` is not modified (``d2l``'s version
    writes into it).
    """
    check.tensor(X, "X", dims=3, shape="(B, Q, K)", kind="float")
    B, Q, K = X.shape
    if K == 0:
        raise ValueError(f"X has no keys (K = 0): nothing to take a softmax over, got {check.describe(X)}")
    _check_valid_lens(valid_lens, B, Q, K)
    return softmax_with_mask(X, _make_mask(valid_lens, Q, K, False, X.device))


def _check_qkv(queries, keys, values, same_width=True):
    for name, t in (("queries", queries), ("keys", keys), ("values", values)):
        check.tensor(t, name, dims=3, shape="(batch, n, width)", kind="float")
    if not (queries.shape[0] == keys.shape[0] == values.shape[0]):
        raise ValueError(f"queries, keys and values must have the same batch size, got "
                         f"{tuple(queries.shape)}, {tuple(keys.shape)}, {tuple(values.shape)}")
    if keys.shape[1] != values.shape[1]:
        raise ValueError(f"keys and values must have the same number of items, got keys "
                         f"{tuple(keys.shape)} and values {tuple(values.shape)}")
    if keys.shape[1] == 0:
        raise ValueError(f"keys must hold at least one item to attend to, got shape {tuple(keys.shape)}")
    if same_width and queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"queries and keys must have the same width to take dot products, got "
                         f"queries {tuple(queries.shape)} and keys {tuple(keys.shape)}")
    if not (queries.device == keys.device == values.device):
        raise ValueError(f"queries, keys and values must be on one device, got {queries.device}, "
                         f"{keys.device}, {values.device}")


# ---------------------------------------------------------------- single-head attention

class DotProductAttention(nn.Module):
    """Scaled dot-product attention, ``softmax(Q K^T / sqrt(d)) V`` (explicit matrix form).

    ``forward(queries (B, Q, d), keys (B, K, d), values (B, K, v), valid_lens=None,
    is_causal=False) -> (B, Q, v)``. The weights ``(B, Q, K)`` of the last call are
    kept in ``.attention_weights`` (before dropout, which acts only in training).
    """

    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(check.dropout(dropout))
        self.attention_weights = None

    def forward(self, queries, keys, values, valid_lens=None, is_causal=False):
        _check_qkv(queries, keys, values)
        check.boolean(is_causal, "is_causal")
        B, Q, d = queries.shape
        K = keys.shape[1]
        _check_valid_lens(valid_lens, B, Q, K)
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (B, Q, K)
        mask = _make_mask(valid_lens, Q, K, is_causal, queries.device)
        self.attention_weights = softmax_with_mask(scores, mask)  # (B, Q, K)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, v)


def _linear(in_features, out_features, bias):
    """nn.Linear when the input width is known, else nn.LazyLinear (as in d2l)."""
    if in_features is None:
        return nn.LazyLinear(out_features, bias=bias)
    return nn.Linear(in_features, out_features, bias=bias)


def _check_widths(inputs, owner):
    """Each ``(name, x, layer)``: ``x`` fits ``layer`` (width, device) unless the layer is lazy."""
    for name, x, layer in inputs:
        w = layer.weight
        if isinstance(w, nn.parameter.UninitializedParameter):
            continue
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"{name} must have width {w.shape[1]} (the input width of {owner}.W_"
                             f"{name[0]}), got shape {tuple(x.shape)}")
        _check_device(x, name, w, f"{owner}.W_{name[0]}")


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: ``score(q, k) = w_v^T tanh(W_q q + W_k k)``.

    Queries and keys may have different widths. ``AdditiveAttention(num_hiddens,
    dropout)`` infers them at the first call (lazy layers, as in ``d2l``); give
    ``query_size``/``key_size`` to build the layers at once.
    ``forward(queries (B, Q, q), keys (B, K, k), values (B, K, v), valid_lens) -> (B, Q, v)``.
    """

    def __init__(self, num_hiddens, dropout=0.0, query_size=None, key_size=None):
        super().__init__()
        num_hiddens = check.integer(num_hiddens, "num_hiddens", low=1)
        dropout = check.dropout(dropout)
        query_size, key_size = _opt_size(query_size, "query_size"), _opt_size(key_size, "key_size")
        self.W_k = _linear(key_size, num_hiddens, bias=False)
        self.W_q = _linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, queries, keys, values, valid_lens=None):
        _check_qkv(queries, keys, values, same_width=False)
        _check_widths((("queries", queries, self.W_q), ("keys", keys, self.W_k)), "AdditiveAttention")
        _check_valid_lens(valid_lens, queries.shape[0], queries.shape[1], keys.shape[1])
        queries, keys = self.W_q(queries), self.W_k(keys)  # (B, Q, H), (B, K, H)
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))  # (B, Q, K, H)
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        self.attention_weights = softmax_with_mask(
            scores, _make_mask(valid_lens, scores.shape[1], scores.shape[2], False, scores.device))
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, v)


# ------------------------------------------------------------------ multi-head attention

def _check_heads_input(X, num_heads, what):
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a tensor of shape {what}, got {check.describe(X)}")
    if X.dim() != 3:
        raise ValueError(f"X must be a tensor of shape {what}, got {check.describe(X)}")
    return check.integer(num_heads, "num_heads", low=1)


def transpose_qkv(X, num_heads):
    """``(B, T, h*dh) -> (B*h, T, dh)``: split the width into heads, heads into the batch (d2l)."""
    num_heads = _check_heads_input(X, num_heads, "(B, T, num_heads * head_width)")
    B, T, D = X.shape
    if D % num_heads:
        raise ValueError(f"width {D} of X {tuple(X.shape)} is not divisible by num_heads={num_heads}")
    X = X.reshape(B, T, num_heads, D // num_heads).permute(0, 2, 1, 3)  # (B, h, T, dh)
    return X.reshape(B * num_heads, T, D // num_heads)


def transpose_output(X, num_heads):
    """Inverse of :func:`transpose_qkv`: ``(B*h, T, dh) -> (B, T, h*dh)``."""
    num_heads = _check_heads_input(X, num_heads, "(B * num_heads, T, head_width)")
    Bh, T, dh = X.shape
    if Bh % num_heads:
        raise ValueError(f"first dimension of X {tuple(X.shape)} is not divisible by num_heads={num_heads}")
    X = X.reshape(Bh // num_heads, num_heads, T, dh).permute(0, 2, 1, 3)  # (B, T, h, dh)
    return X.reshape(X.shape[0], T, num_heads * dh)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with ``num_heads`` heads of width ``num_hiddens / num_heads``.

    ``forward(queries (B, Q, q), keys (B, K, k), values (B, K, v), valid_lens=None,
    is_causal=False) -> (B, Q, num_hiddens)``.

    Two paths compute the same function:

    * ``fused=True`` (default): ``torch.nn.functional.scaled_dot_product_attention``,
      the fast kernel (flash / memory-efficient on GPU). It never forms the
      weight matrix; masks are passed only when needed.
    * ``fused=False``: the explicit matrix form ``masked_softmax(Q K^T / sqrt(dh)) V``,
      as in ``d2l``, for teaching and inspection.

    ``.attention_weights`` (shape ``(B, h, Q, K)``, before dropout) is always
    available after a call: the explicit path stores the matrix it computed; after
    a fused call the weights are recomputed on first access from the projected
    queries and keys of that call (no cost unless you look at them).

    Input widths: ``query_size``/``key_size``/``value_size`` build ``nn.Linear``
    layers at once; left as None the layers are lazy and infer the widths at the
    first call (``d2l``'s behaviour). ``is_causal=True`` lets query i attend to
    keys <= i (with more keys than queries, the queries are the last positions).
    Dropout acts on the attention weights, in training only. A query with no key
    to attend to (a length of 0) gets zeros on the fused path and the mean of the
    values on the explicit path; the two paths agree whenever every length >= 1.
    """

    def __init__(self, num_hiddens, num_heads, dropout=0.0, bias=False, *, query_size=None,
                 key_size=None, value_size=None, fused=True):
        super().__init__()
        num_hiddens = check.integer(num_hiddens, "num_hiddens", low=1)
        num_heads = check.integer(num_heads, "num_heads", low=1)
        if num_hiddens % num_heads:
            raise ValueError(f"num_hiddens must be divisible by num_heads, got num_hiddens={num_hiddens}, "
                             f"num_heads={num_heads}")
        dropout, bias = check.dropout(dropout), check.boolean(bias, "bias")
        sizes = [_opt_size(s, n) for s, n in ((query_size, "query_size"), (key_size, "key_size"),
                                              (value_size, "value_size"))]
        self.num_hiddens, self.num_heads = num_hiddens, num_heads
        self.fused = check.boolean(fused, "fused")
        self.W_q = _linear(sizes[0], num_hiddens, bias)
        self.W_k = _linear(sizes[1], num_hiddens, bias)
        self.W_v = _linear(sizes[2], num_hiddens, bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self._weights = None  # weights of the last explicit call
        self._last = None     # (q, k, mask, causal) of the last fused call, detached

    # d2l's method names, for readers of the book
    def transpose_qkv(self, X):
        return transpose_qkv(X, self.num_heads)

    def transpose_output(self, X):
        return transpose_output(X, self.num_heads)

    def _split(self, X):  # (B, T, h*dh) -> (B, h, T, dh), a view: no copy
        B, T, _ = X.shape
        return X.view(B, T, self.num_heads, -1).transpose(1, 2)

    def _check_inputs(self, queries, keys, values):
        _check_qkv(queries, keys, values, same_width=False)
        _check_widths((("queries", queries, self.W_q), ("keys", keys, self.W_k),
                       ("values", values, self.W_v)), "MultiHeadAttention")

    def forward(self, queries, keys, values, valid_lens=None, is_causal=False):
        self._check_inputs(queries, keys, values)
        check.boolean(is_causal, "is_causal")
        B, Q, _ = queries.shape
        K = keys.shape[1]
        _check_valid_lens(valid_lens, B, Q, K)
        q = self._split(self.W_q(queries))  # (B, h, Q, dh)
        k = self._split(self.W_k(keys))     # (B, h, K, dh)
        v = self._split(self.W_v(values))   # (B, h, K, dh)
        # Pass a mask only when needed; a plain causal mask with Q == K uses the kernel's flag.
        kernel_causal = is_causal and valid_lens is None and Q == K
        mask = None if kernel_causal else _make_mask(valid_lens, Q, K, is_causal, queries.device)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (B, 1, 1|Q, K): the same mask for every head
        if self.fused:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=kernel_causal,
                dropout_p=self.dropout.p if self.training else 0.0)  # (B, h, Q, dh)
            self._weights, self._last = None, (q.detach(), k.detach(), mask, kernel_causal)
        else:
            weights = self._explicit_weights(q, k, mask, kernel_causal)  # (B, h, Q, K)
            self._weights, self._last = weights, None
            out = self.dropout(weights) @ v  # (B, h, Q, dh)
        out = out.transpose(1, 2).reshape(B, Q, self.num_hiddens)  # (B, Q, h*dh)
        return self.W_o(out)

    @staticmethod
    def _explicit_weights(q, k, mask, causal=False):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, h, Q, K)
        if causal:
            mask = causal_mask(q.shape[-2], q.device, num_keys=k.shape[-2])
        return softmax_with_mask(scores, mask)

    @property
    def attention_weights(self):
        """Weights ``(B, h, Q, K)`` of the last call (recomputed lazily after a fused call)."""
        if self._weights is None and self._last is not None:
            with torch.no_grad():
                self._weights = self._explicit_weights(*self._last)
            self._last = None
        return self._weights

    def extra_repr(self):
        return f"num_hiddens={self.num_hiddens}, num_heads={self.num_heads}, fused={self.fused}"


def mha_from_torch(torch_mha: nn.MultiheadAttention, fused=True) -> MultiHeadAttention:
    """A :class:`MultiHeadAttention` with the weights of a ``torch.nn.MultiheadAttention``.

    torch stacks ``[W_q; W_k; W_v]`` in ``in_proj_weight`` (or keeps them apart
    when key/value widths differ) and calls the output layer ``out_proj``. The
    result always takes ``batch_first`` tensors ``(B, T, d)``, whatever the torch
    module's ``batch_first``: a module built with ``batch_first=False`` reads
    ``(T, B, d)``, so transpose its inputs and outputs to compare the two.
    Biases must be all present (``bias=True``) or all absent: d2lt's module has one
    ``bias`` switch for the four projections.
    """
    if not isinstance(torch_mha, nn.MultiheadAttention):
        raise TypeError(f"torch_mha must be a torch.nn.MultiheadAttention, got {type(torch_mha).__name__}")
    m = torch_mha
    check.boolean(fused, "fused")
    if m.bias_k is not None or m.add_zero_attn:
        raise ValueError("add_bias_kv and add_zero_attn have no counterpart in d2lt.MultiHeadAttention")
    d, bias = m.embed_dim, m.in_proj_bias is not None
    if bias != (m.out_proj.bias is not None):
        raise ValueError(f"torch_mha has {'an' if bias else 'no'} input-projection bias but "
                         f"{'an' if m.out_proj.bias is not None else 'no'} out_proj bias: d2lt's "
                         f"MultiHeadAttention has biases on all four projections or on none")
    ours = MultiHeadAttention(d, m.num_heads, m.dropout, bias=bias, query_size=d, key_size=m.kdim,
                              value_size=m.vdim, fused=fused)
    if m._qkv_same_embed_dim:
        Wq, Wk, Wv = m.in_proj_weight.chunk(3)
    else:
        Wq, Wk, Wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    with torch.no_grad():
        for layer, W, i in ((ours.W_q, Wq, 0), (ours.W_k, Wk, 1), (ours.W_v, Wv, 2)):
            layer.weight.copy_(W)
            if bias:
                layer.bias.copy_(m.in_proj_bias[i * d:(i + 1) * d])
        ours.W_o.weight.copy_(m.out_proj.weight)
        if bias:
            ours.W_o.bias.copy_(m.out_proj.bias)
    return ours.to(device=m.out_proj.weight.device, dtype=m.out_proj.weight.dtype)


# ------------------------------------------------------------------------- positions

def sinusoidal_table(max_len: int, num_hiddens: int) -> torch.Tensor:
    """The sinusoidal position table ``(max_len, num_hiddens)``.

    ``P[pos, 2i] = sin(pos / 10000^(2i/d))``, ``P[pos, 2i+1] = cos(pos / 10000^(2i/d))``.
    """
    max_len = check.integer(max_len, "max_len", low=1)
    num_hiddens = check.integer(num_hiddens, "num_hiddens", low=1)
    pos = torch.arange(max_len, dtype=torch.float32).reshape(-1, 1)
    angles = pos / torch.pow(10000, torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
    P = torch.zeros(max_len, num_hiddens)
    P[:, 0::2] = torch.sin(angles)
    P[:, 1::2] = torch.cos(angles[:, :num_hiddens // 2])  # odd widths: one fewer cosine
    return P


def _check_positions_input(X, P, kind):
    """``X`` (B, T <= max_len, d) fits the table ``P`` (1, max_len, d): shape, float dtype, device."""
    _, max_len, d = P.shape
    expected = f"(B, T <= {max_len}, {d})"
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a tensor of shape {expected}, got {check.describe(X)}")
    if X.dim() != 3 or X.shape[-1] != d:
        raise ValueError(f"X must have shape {expected}, got {_shape(X)}")
    if X.shape[1] > max_len:
        raise ValueError(f"X must have shape {expected}, got {_shape(X)}: {X.shape[1]} positions, but this "
                         f"{kind} was built for max_len={max_len}; build it with max_len >= {X.shape[1]}")
    if not X.is_floating_point():
        raise TypeError(f"X must be a floating-point tensor (embeddings), got {check.describe(X)}")
    if X.device != P.device:
        raise ValueError(f"X is on {X.device} but the {kind} table is on {P.device}: move the module "
                         f"with .to({str(X.device)!r})")


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to ``X`` (B, T, num_hiddens), then dropout (as ``d2l``).

    ``P`` (1, max_len, num_hiddens) is a buffer: it follows ``.to(device)`` and is
    not saved in the state dict (it is a function of the sizes). Inputs longer than
    ``max_len`` positions are refused (build the module with a larger ``max_len``).
    """

    def __init__(self, num_hiddens, dropout=0.0, max_len=1000):
        super().__init__()
        self.dropout = nn.Dropout(check.dropout(dropout))
        self.register_buffer("P", sinusoidal_table(max_len, num_hiddens).unsqueeze(0), persistent=False)

    def forward(self, X):
        _check_positions_input(X, self.P, "PositionalEncoding")
        return self.dropout(X + self.P[:, :X.shape[1]].to(X.dtype))


class LearnedPositionalEncoding(nn.Module):
    """Adds a trained vector per position (BERT, GPT): ``X + E[0:T]``, then dropout.

    Holds ``max_len`` positions; longer inputs are refused.
    """

    def __init__(self, num_hiddens, dropout=0.0, max_len=1000):
        super().__init__()
        num_hiddens = check.integer(num_hiddens, "num_hiddens", low=1)
        max_len = check.integer(max_len, "max_len", low=1)
        self.dropout = nn.Dropout(check.dropout(dropout))
        self.P = nn.Parameter(torch.randn(1, max_len, num_hiddens) * 0.02)

    def forward(self, X):
        _check_positions_input(X, self.P, "LearnedPositionalEncoding")
        return self.dropout(X + self.P[:, :X.shape[1]].to(X.dtype))  # (B, T, d), in X's dtype
