"""T5: an encoder-decoder Transformer pretrained by span corruption (chapter 9; Raffel et al., 2020).

Shapes: B = batch, S = source steps, T = target steps, D = ``d_model``,
h = ``num_heads``, d = ``d_kv`` (the width of one head), V = ``vocab_size``.

*Span corruption.* Some spans of the input are replaced, each by one sentinel
token; the target lists the dropped spans, each after its sentinel, and ends
with one more sentinel. With the sentinels spelled as in T5's vocabulary
(``<extra_id_0>``, ``<extra_id_1>``, ...; the figure of the paper writes
``<X>``, ``<Y>``, ``<Z>``) and the mask on "love", "red" and "car"::

    tokens   I love this red car
    inputs   I <extra_id_0> this <extra_id_1>
    targets  <extra_id_0> love <extra_id_1> red car <extra_id_2>

:func:`random_span_mask` draws the mask as T5 does (``random_spans_noise_mask``
of the T5 code base): ``round(n * noise_density)`` noise tokens (at least 1,
at most ``n - 1``) in ``round(noise / mean_span_length)`` spans (at least 1);
noise and non-noise tokens are each cut into that many non-empty runs at
random, and the runs alternate, starting with a non-noise run.

*The model* differs from chapter 6's Transformer in four places: a
LayerNorm that only rescales (RMSNorm: no mean, no bias, epsilon 1e-6)
placed *before* each sub-layer (pre-norm) with a final one after the last
block; no biases in any linear layer; no scaling of the attention scores by
``1/sqrt(d)`` (T5 folds it into the initialisation); and no position
embeddings -- each self-attention adds a learned scalar per head to the score
of query i and key j, looked up by the *bucket* of ``j - i``
(:func:`relative_position_bucket`). The bias table lives in the first block
and is shared by all blocks of the stack (the encoder's is bidirectional, the
decoder's causal); cross-attention gets none. With a tied output head
(original T5) the decoder output is multiplied by ``d_model ** -0.5`` before
the head; T5 v1.1 unties the head and drops the rescaling.

:func:`from_hf` copies a ``transformers`` ``T5ForConditionalGeneration``;
the tests check the logits to 1e-4.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .gpt import gelu_tanh
from .llama import RMSNorm

__all__ = ["span_corrupt", "random_span_mask", "sentinel", "relative_position_bucket", "T5Config", "T5",
           "from_hf", "shift_right"]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "gelu_new": gelu_tanh, "silu": F.silu}


# ----------------------------------------------------------------------------- span corruption

def sentinel(i: int) -> str:
    """The ``i``-th sentinel token, spelled as in T5's vocabulary: ``<extra_id_i>``."""
    i = check.integer(i, "i", 0)
    return f"<extra_id_{i}>"


def _check_tokens_and_mask(tokens, mask):
    tokens = check.sequence(tokens, "tokens", "a list of tokens (str or int)",
                            hint="split the text into tokens first, e.g. text.split()")
    if isinstance(mask, torch.Tensor):
        check.tensor(mask, "mask", dims=1, shape=f"({len(tokens)},)", kind="bool")
        mask = mask.tolist()
    else:
        mask = check.sequence(mask, "mask", "a list of bools, one per token")
        for i, m in enumerate(mask):
            if not isinstance(m, bool):
                raise TypeError(f"mask must hold True/False, one per token; mask[{i}] is {check.describe(m)}")
    if len(mask) != len(tokens):
        raise ValueError(f"mask must have one bool per token: {len(tokens)} tokens, {len(mask)} mask values")
    kinds = {type(t) for t in tokens}
    ok = all(isinstance(t, str) for t in tokens) or all(check.is_int(t) for t in tokens)
    if not ok:
        raise TypeError(f"tokens must be all str or all int, got {sorted(k.__name__ for k in kinds)}")
    return tokens, mask


def span_corrupt(tokens, mask, sentinels=None):
    """``(inputs, targets)``: each masked span of ``tokens`` replaced by a sentinel, and the dropped spans.

    ``tokens`` is a list of tokens (str, or int ids); ``mask`` one bool per
    token (a list or a bool tensor), True where the token is dropped. A run of
    consecutive masked tokens is one span. The k-th span becomes sentinel k in
    ``inputs``; ``targets`` is ``sentinel 0, span 0, sentinel 1, span 1, ...,
    sentinel m`` (m = the number of spans; with no span it is just sentinel 0).
    Sentinels are ``sentinels(k)``; by default :func:`sentinel` (``<extra_id_k>``)
    for str tokens. Int tokens need ``sentinels`` (e.g. ``lambda k: V - 1 - k``,
    T5's ids); a sentinel must not be one of the tokens.

    >>> inputs, targets = span_corrupt("I love this red car".split(), [False, True, False, True, True])
    >>> inputs
    ['I', '<extra_id_0>', 'this', '<extra_id_1>']
    >>> targets
    ['<extra_id_0>', 'love', '<extra_id_1>', 'red', 'car', '<extra_id_2>']
    """
    tokens, mask = _check_tokens_and_mask(tokens, mask)
    ints = bool(tokens) and check.is_int(tokens[0])
    if sentinels is None:
        if ints:
            raise TypeError("int tokens need sentinels=, a function from the span number k to its "
                            "sentinel id (T5: lambda k: vocab_size - 1 - k)")
        sentinels = sentinel
    elif not callable(sentinels):
        raise TypeError(f"sentinels must be None or a callable k -> token, got {check.describe(sentinels)}")
    vocab = set(tokens)
    inputs, targets, k = [], [], 0
    for i, (tok, m) in enumerate(zip(tokens, mask)):
        if m:
            if i == 0 or not mask[i - 1]:  # a new span starts
                s = sentinels(k)
                if s in vocab:
                    raise ValueError(f"sentinel {s!r} (span {k}) is also one of the tokens")
                inputs.append(s)
                targets.append(s)
                k += 1
            targets.append(tok)
        else:
            inputs.append(tok)
    last = sentinels(k)
    if last in vocab:
        raise ValueError(f"sentinel {last!r} (span {k}) is also one of the tokens")
    targets.append(last)
    return inputs, targets


def _segment(num_items: int, num_segments: int, generator) -> torch.Tensor:
    """Cut ``num_items`` into ``num_segments`` non-empty parts at random; their lengths ``(num_segments,)``."""
    first = torch.zeros(num_items, dtype=torch.long)
    cuts = torch.randperm(num_items - 1, generator=generator)[:num_segments - 1] + 1
    first[cuts] = 1  # item i starts a new segment
    segment_id = torch.cumsum(first, 0)
    return torch.bincount(segment_id, minlength=num_segments)


def random_span_mask(n: int, noise_density: float = 0.15, mean_span_length: float = 3.0, generator=None):
    """T5's random span mask: a bool tensor ``(n,)``, True on the tokens to drop.

    Exactly ``num_noise = min(max(round(n * noise_density), 1), n - 1)``
    tokens are True, in exactly ``max(round(num_noise / mean_span_length), 1)``
    spans; the first token is never dropped. ``n >= 2``;
    ``generator`` (a ``torch.Generator``) makes it reproducible.
    """
    n = check.integer(n, "n", 2)
    noise_density = check.number(noise_density, "noise_density", 0, 1, strict=True,
                                 what="a number in (0, 1)")
    if noise_density >= 1:
        raise ValueError(f"noise_density must be a number in (0, 1), got {noise_density}")
    mean_span_length = check.number(mean_span_length, "mean_span_length", 1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be None or a torch.Generator, got {check.describe(generator)}")
    num_noise = min(max(int(round(n * noise_density)), 1), n - 1)
    num_spans = max(int(round(num_noise / mean_span_length)), 1)
    num_spans = min(num_spans, n - num_noise)  # each span needs a non-noise run before it
    noise = _segment(num_noise, num_spans, generator)
    nonnoise = _segment(n - num_noise, num_spans, generator)
    lengths = torch.stack([nonnoise, noise], 1).reshape(-1)  # non-noise, noise, non-noise, ...
    is_noise = torch.arange(2 * num_spans) % 2 == 1
    return torch.repeat_interleave(is_noise, lengths)


# ----------------------------------------------------------------------------- relative positions

def relative_position_bucket(relative_position, bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128):
    """T5's bucket of each relative position ``j - i`` (key minus query), a long tensor of its shape.

    Bidirectional: half of the buckets for ``j > i``, half for ``j <= i``.
    Causal (``bidirectional=False``): positive offsets (the future) all fall
    into bucket 0 with offset 0. Within a half, the first half of its buckets
    are exact offsets 0, 1, ...; the rest grow logarithmically up to
    ``max_distance``, beyond which everything shares the last bucket.
    """
    check.tensor(relative_position, "relative_position", kind="int")
    check.boolean(bidirectional, "bidirectional")
    num_buckets = check.integer(num_buckets, "num_buckets", 2 if not bidirectional else 4)
    max_distance = check.integer(max_distance, "max_distance", 1)
    rel = relative_position.long()
    out = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        out = out + (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.clamp(rel, max=0)
    max_exact = num_buckets // 2
    if max_distance <= max_exact:
        raise ValueError(f"max_distance must exceed the {max_exact} exact buckets, got {max_distance}")
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return out + torch.where(is_small, rel, large)


# ----------------------------------------------------------------------------- config

@dataclass
class T5Config:
    """Sizes of a T5 (defaults: T5-small, 60M parameters).

    ``num_decoder_layers`` None: as many as the encoder. ``activation``: the
    feed-forward non-linearity; ``gated`` uses two input matrices (T5 v1.1's
    ``gated-gelu``: ``act(x W_0) * (x W_1)``). ``tie_weights``: the head is the
    shared embedding matrix; ``scale_output``: multiply the decoder output by
    ``d_model ** -0.5`` before the head (None: the same as ``tie_weights``).
    ``pad_id`` doubles as the decoder's start token (as in T5).
    """

    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: int | None = None
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout: float = 0.1
    layer_norm_eps: float = 1e-6
    activation: str = "relu"
    gated: bool = False
    tie_weights: bool = True
    scale_output: bool | None = None
    pad_id: int = 0
    eos_id: int = 1

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                     "relative_attention_num_buckets", "relative_attention_max_distance"):
            setattr(self, name, check.integer(getattr(self, name), name, 1))
        self.num_decoder_layers = check.integer(self.num_decoder_layers, "num_decoder_layers", 1,
                                                allow_none=True)
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        if self.relative_attention_num_buckets < 4:
            raise ValueError(f"relative_attention_num_buckets must be >= 4, got "
                             f"{self.relative_attention_num_buckets}")
        self.dropout = check.dropout(self.dropout)
        self.layer_norm_eps = check.number(self.layer_norm_eps, "layer_norm_eps", 0, strict=True)
        check.string(self.activation, "activation", choices=sorted(ACTIVATIONS))
        check.boolean(self.gated, "gated")
        check.boolean(self.tie_weights, "tie_weights")
        check.boolean(self.scale_output, "scale_output", allow_none=True)
        if self.scale_output is None:
            self.scale_output = self.tie_weights
        for name in ("pad_id", "eos_id"):
            check.integer(getattr(self, name), name, 0, self.vocab_size - 1,
                          what=f"a token id in [0, {self.vocab_size})")

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- model

class T5Attention(nn.Module):
    """Multi-head attention without biases or score scaling, with an optional relative-position table."""

    def __init__(self, config: T5Config, has_relative_bias: bool = False, bidirectional: bool = True):
        super().__init__()
        inner = config.num_heads * config.d_kv
        self.h, self.d = config.num_heads, config.d_kv
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        self.bidirectional = bidirectional
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.dropout = config.dropout
        self.relative_attention_bias = (nn.Embedding(self.num_buckets, self.h) if has_relative_bias
                                        else None)

    def compute_bias(self, Q: int, K: int, device=None):
        """The position bias ``(1, h, Q, K)``: table entry of the bucket of ``j - i``."""
        rel = torch.arange(K, device=device)[None, :] - torch.arange(Q, device=device)[:, None]
        buckets = relative_position_bucket(rel, self.bidirectional, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]

    def forward(self, x, kv, bias):
        """Queries from ``x (B, Q, D)``, keys and values from ``kv (B, K, D)``; ``bias`` broadcasts to
        ``(B, h, Q, K)`` (position bias plus ``-inf`` where masked)."""
        B, Q, _ = x.shape
        K = kv.shape[1]
        q = self.q(x).view(B, Q, self.h, self.d).transpose(1, 2)
        k = self.k(kv).view(B, K, self.h, self.d).transpose(1, 2)
        v = self.v(kv).view(B, K, self.h, self.d).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.o(y.transpose(1, 2).reshape(B, Q, self.h * self.d))


class T5FF(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.gated = config.gated
        if config.gated:
            self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
            self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        else:
            self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.act = ACTIVATIONS[config.activation]
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        h = self.act(self.wi_0(x)) * self.wi_1(x) if self.gated else self.act(self.wi(x))
        return self.wo(self.dropout(h))


class T5Block(nn.Module):
    """Pre-norm block: self-attention, (decoder) cross-attention, feed-forward network, each residual."""

    def __init__(self, config: T5Config, is_decoder: bool, has_relative_bias: bool):
        super().__init__()
        self.is_decoder = is_decoder
        self.ln_self = RMSNorm(config.d_model, config.layer_norm_eps)
        self.self_attn = T5Attention(config, has_relative_bias, bidirectional=not is_decoder)
        if is_decoder:
            self.ln_cross = RMSNorm(config.d_model, config.layer_norm_eps)
            self.cross_attn = T5Attention(config)
        self.ln_ff = RMSNorm(config.d_model, config.layer_norm_eps)
        self.ff = T5FF(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, self_bias, enc=None, cross_bias=None):
        h = self.ln_self(x)
        x = x + self.dropout(self.self_attn(h, h, self_bias))
        if self.is_decoder:
            x = x + self.dropout(self.cross_attn(self.ln_cross(x), enc, cross_bias))
        return x + self.dropout(self.ff(self.ln_ff(x)))


class T5Stack(nn.Module):
    """The encoder or the decoder: blocks, a final RMSNorm; the first block's bias table is shared."""

    def __init__(self, config: T5Config, is_decoder: bool):
        super().__init__()
        n = config.num_decoder_layers if is_decoder else config.num_layers
        self.is_decoder = is_decoder
        self.blocks = nn.ModuleList([T5Block(config, is_decoder, i == 0) for i in range(n)])
        self.final_norm = RMSNorm(config.d_model, config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, mask=None, enc=None, enc_mask=None):
        """``x (B, L, D)`` embedded tokens; ``mask (B, L)`` / ``enc_mask (B, S)``: True on real tokens."""
        B, L, _ = x.shape
        bias = self.blocks[0].self_attn.compute_bias(L, L, x.device).to(x.dtype)  # (1, h, L, L)
        neg = torch.finfo(x.dtype).min
        if self.is_decoder:
            bias = bias.masked_fill(~torch.ones(L, L, dtype=torch.bool, device=x.device).tril(), neg)
        if mask is not None:
            bias = bias.masked_fill(~mask[:, None, None, :], neg)
        cross = None
        if self.is_decoder:
            S = enc.shape[1]
            cross = torch.zeros(1, 1, 1, S, dtype=x.dtype, device=x.device)
            if enc_mask is not None:
                cross = cross.masked_fill(~enc_mask[:, None, None, :], neg)
        x = self.dropout(x)
        for blk in self.blocks:
            x = blk(x, bias, enc, cross)
        return self.dropout(self.final_norm(x))


def shift_right(labels, start_id: int = 0, ignore_index: int = -100):
    """Decoder inputs from targets: ``start_id`` then ``labels[:, :-1]`` (ignored positions become ``start_id``)."""
    check.tensor(labels, "labels", dims=2, shape="(B, T)", kind="int", nonempty=True)
    start_id = check.integer(start_id, "start_id", 0)
    out = torch.full_like(labels, start_id)
    out[:, 1:] = labels[:, :-1]
    return out.masked_fill(out == ignore_index, start_id)


def _check_mask(mask, ids, name):
    if mask is None:
        return None
    check.tensor(mask, name, dims=2, shape=f"{tuple(ids.shape)} (like the ids)")
    if mask.shape != ids.shape:
        raise ValueError(f"{name} must have the shape of the ids {tuple(ids.shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_floating_point() or bool(((mask != 0) & (mask != 1)).any()):
            raise ValueError(f"{name} must hold 1/True on real tokens and 0/False on padding")
        mask = mask.bool()
    if not bool(mask.any(1).all()):
        raise ValueError(f"every row of {name} needs at least one real token")
    return mask


class T5(nn.Module):
    """A T5 encoder-decoder; ``model(input_ids, decoder_input_ids) -> logits (B, T, V)``."""

    def __init__(self, config: T5Config):
        super().__init__()
        if not isinstance(config, T5Config):
            raise TypeError(f"config must be a d2lt.t5.T5Config, got {check.describe(config)}")
        self.config = config
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, is_decoder=False)
        self.decoder = T5Stack(config, is_decoder=True)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self._init_weights()
        if config.tie_weights:
            self.lm_head.weight = self.shared.weight

    def _init_weights(self):
        """T5's initialisation (Mesh TensorFlow): the ``1/sqrt(d)`` of the scores moves into W_q."""
        c, D, d, h = self.config, self.config.d_model, self.config.d_kv, self.config.num_heads
        nn.init.normal_(self.shared.weight, 0.0, 1.0)
        nn.init.normal_(self.lm_head.weight, 0.0, D ** -0.5)
        for m in self.modules():
            if isinstance(m, T5Attention):
                nn.init.normal_(m.q.weight, 0.0, (D * d) ** -0.5)
                nn.init.normal_(m.k.weight, 0.0, D ** -0.5)
                nn.init.normal_(m.v.weight, 0.0, D ** -0.5)
                nn.init.normal_(m.o.weight, 0.0, (h * d) ** -0.5)
                if m.relative_attention_bias is not None:
                    nn.init.normal_(m.relative_attention_bias.weight, 0.0, D ** -0.5)
            elif isinstance(m, T5FF):
                for lin in ([m.wi_0, m.wi_1] if m.gated else [m.wi]):
                    nn.init.normal_(lin.weight, 0.0, D ** -0.5)
                nn.init.normal_(m.wo.weight, 0.0, c.d_ff ** -0.5)

    def _check_ids(self, ids, name):
        check.tensor(ids, name, dims=2, shape="(B, L)", kind="int", nonempty=True)
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(f"{name} must hold token ids in [0, {self.config.vocab_size}), "
                             f"got values in [{lo}, {hi}]")

    def encode(self, input_ids, attention_mask=None):
        """The encoder's output ``(B, S, D)``; ``attention_mask (B, S)``: 1/True on real tokens."""
        self._check_ids(input_ids, "input_ids")
        attention_mask = _check_mask(attention_mask, input_ids, "attention_mask")
        return self.encoder(self.shared(input_ids), attention_mask)

    def decode(self, decoder_input_ids, enc, attention_mask=None):
        """Logits ``(B, T, V)`` of the decoder over the encoder output ``enc (B, S, D)``."""
        self._check_ids(decoder_input_ids, "decoder_input_ids")
        check.tensor(enc, "enc", dims=3, shape="(B, S, D)", kind="float")
        if enc.shape[0] != decoder_input_ids.shape[0] or enc.shape[2] != self.config.d_model:
            raise ValueError(f"enc must have shape ({decoder_input_ids.shape[0]}, S, {self.config.d_model}), "
                             f"got {tuple(enc.shape)}")
        if attention_mask is not None and attention_mask.dtype != torch.bool:
            attention_mask = attention_mask.bool()
        y = self.decoder(self.shared(decoder_input_ids), None, enc, attention_mask)
        if self.config.scale_output:
            y = y * self.config.d_model ** -0.5
        return self.lm_head(y)

    def forward(self, input_ids, decoder_input_ids, attention_mask=None):
        """Logits ``(B, T, V)``: ``decoder_input_ids`` start with ``pad_id`` (see :func:`shift_right`)."""
        self._check_ids(input_ids, "input_ids")
        self._check_ids(decoder_input_ids, "decoder_input_ids")
        if decoder_input_ids.shape[0] != input_ids.shape[0]:
            raise ValueError(f"input_ids and decoder_input_ids must have the same batch size, got "
                             f"{input_ids.shape[0]} and {decoder_input_ids.shape[0]}")
        mask = _check_mask(attention_mask, input_ids, "attention_mask")
        return self.decode(decoder_input_ids, self.encode(input_ids, mask), mask)

    def loss(self, input_ids, labels, attention_mask=None, ignore_index: int = -100):
        """Cross entropy of the logits against ``labels (B, T)`` (teacher forcing, ``ignore_index`` skipped)."""
        check.tensor(labels, "labels", dims=2, shape="(B, T)", kind="int", nonempty=True)
        logits = self(input_ids, shift_right(labels, self.config.pad_id, ignore_index), attention_mask)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                               ignore_index=ignore_index)

    @torch.no_grad()
    def generate(self, input_ids, max_new_tokens: int, attention_mask=None):
        """Greedy decoding (no cache): ``(B, L)`` ids after the start token, ``eos_id`` then ``pad_id`` once ended."""
        max_new_tokens = check.integer(max_new_tokens, "max_new_tokens", 1)
        was_training = self.training
        self.eval()
        try:
            mask = _check_mask(attention_mask, input_ids, "attention_mask")
            enc = self.encode(input_ids, mask)
            B = input_ids.shape[0]
            out = torch.full((B, 1), self.config.pad_id, dtype=torch.long, device=input_ids.device)
            done = torch.zeros(B, dtype=torch.bool, device=input_ids.device)
            for _ in range(max_new_tokens):
                nxt = self.decode(out, enc, mask)[:, -1].argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, self.config.pad_id), nxt)
                out = torch.cat([out, nxt[:, None]], 1)
                done |= nxt == self.config.eos_id
                if bool(done.all()):
                    break
        finally:
            self.train(was_training)
        return out[:, 1:]


# ----------------------------------------------------------------------------- transformers


def _hf_key(key: str, is_decoder: bool) -> str:
    """Our parameter name for a ``transformers`` T5 stack parameter name (without the stack prefix)."""
    if key == "final_layer_norm.weight":
        return "final_norm.weight"
    _, i, rest = key.split(".", 2)  # block.i.rest
    ff = "layer.2" if is_decoder else "layer.1"
    table = {"layer.0.SelfAttention.": "self_attn.", "layer.0.layer_norm.": "ln_self.",
             f"{ff}.DenseReluDense.": "ff.", f"{ff}.layer_norm.": "ln_ff."}
    if is_decoder:
        table.update({"layer.1.EncDecAttention.": "cross_attn.", "layer.1.layer_norm.": "ln_cross."})
    for theirs, ours in table.items():
        if rest.startswith(theirs):
            return f"blocks.{i}.{ours}{rest[len(theirs):]}"
    raise ValueError(f"cannot map the T5 parameter {key!r}")


def from_hf(model) -> T5:
    """A :class:`T5` with the weights of a ``transformers`` ``T5ForConditionalGeneration``.

    A tied head (the same matrix as the shared embedding) and the rescaling
    of the decoder output by ``d_model ** -0.5`` are read from the model and its
    config (``scale_decoder_outputs``, else ``tie_word_embeddings``).
    """
    from transformers import T5ForConditionalGeneration

    if not isinstance(model, T5ForConditionalGeneration):
        raise TypeError(f"model must be a transformers T5ForConditionalGeneration, got {check.describe(model)}")
    hc = model.config
    act = hc.dense_act_fn
    if act not in ACTIVATIONS:
        raise ValueError(f"from_hf supports the activations {sorted(ACTIVATIONS)}, got {act!r}")
    shared, head = model.shared.weight, model.lm_head.weight
    tied = head is shared or head.data_ptr() == shared.data_ptr()
    scale = getattr(hc, "scale_decoder_outputs", None)
    if scale is None:
        scale = bool(getattr(hc, "tie_word_embeddings", True))
    config = T5Config(vocab_size=hc.vocab_size, d_model=hc.d_model, d_kv=hc.d_kv, d_ff=hc.d_ff,
                      num_layers=hc.num_layers, num_decoder_layers=hc.num_decoder_layers,
                      num_heads=hc.num_heads, relative_attention_num_buckets=hc.relative_attention_num_buckets,
                      relative_attention_max_distance=hc.relative_attention_max_distance,
                      dropout=float(hc.dropout_rate), layer_norm_eps=float(hc.layer_norm_epsilon),
                      activation=act, gated=bool(hc.is_gated_act), tie_weights=bool(tied),
                      scale_output=bool(scale), pad_id=hc.pad_token_id if hc.pad_token_id is not None else 0,
                      eos_id=(hc.eos_token_id if isinstance(hc.eos_token_id, int) else 1))
    ours = T5(config)
    sd = {"shared.weight": shared.detach()}
    if not tied:
        sd["lm_head.weight"] = head.detach()
    for stack, is_dec in (("encoder", False), ("decoder", True)):
        for k, v in getattr(model, stack).state_dict().items():
            if k == "embed_tokens.weight":
                continue
            sd[f"{stack}.{_hf_key(k, is_dec)}"] = v
    missing, unexpected = ours.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not (tied and m == "lm_head.weight")]
    if missing or unexpected:
        raise ValueError(f"cannot map this T5ForConditionalGeneration: missing {missing}, "
                         f"unexpected {unexpected}")
    return ours.to(device=shared.device, dtype=shared.dtype).train(model.training)
