"""The Transformer encoder-decoder (chapter 6; Vaswani et al., 2017, "Attention Is All You Need").

Shapes: B = batch, T = target steps, S = source steps, D = ``num_hiddens``
(the paper's d_model), F = ``ffn_num_hiddens`` (d_ff), h = heads, V = vocabulary.

Every sub-layer (self-attention, cross-attention, feed-forward network) is
wrapped in a residual connection followed by layer normalisation ("post-norm",
as in the paper)::

    AddNorm(X, Y) = LayerNorm(X + Dropout(Y)),      FFN(x) = W_2 ReLU(W_1 x + b_1) + b_2

    encoder block:  Y = AddNorm(X, MHA(X, X, X));  out = AddNorm(Y, FFN(Y))
    decoder block:  Y = AddNorm(X, MHA_causal(X, X, X))
                    Z = AddNorm(Y, MHA(Y, enc, enc))        (cross-attention)
                    out = AddNorm(Z, FFN(Z))

Token embeddings are multiplied by sqrt(D) before the sinusoidal positions
are added (the paper, section 3.4).

Class names, signatures and submodule names follow the ``d2l`` book
(``PositionWiseFFN(ffn_num_hiddens, ffn_num_outputs)``, ``AddNorm(norm_shape,
dropout)``, ``TransformerEncoderBlock``/``TransformerEncoder``, and the book's
``TransformerDecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout, i)``
and ``TransformerDecoder``), so the book's code runs unchanged; the tests check
them against ``d2l`` and against ``torch.nn.TransformerEncoderLayer`` /
``TransformerDecoderLayer`` with the weights mapped.

Two differences from ``d2l``'s decoder, both fixes: (1) while decoding step by
step, the new token gets the position it actually has (``d2l`` adds position 0
to every new token); (2) the decoder keeps a real key-value cache -- each
block stores the projected keys and values of its self-attention and the
projected encoder keys and values of its cross-attention -- instead of the
block inputs, so a new token costs one projection, not one per earlier token.

The decoder state is ``d2l``'s list ``[enc_outputs, enc_valid_lens, cache]``
with one cache entry per block. In training mode the decoder attends with a
causal mask and leaves the cache alone; in eval mode every call appends the
new tokens' keys and values to the cache (a fresh ``init_state`` starts an
empty one), so :func:`d2lt.seq2seq.greedy_decode` can feed one token at a time.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .attention import (MultiHeadAttention, PositionalEncoding, causal_mask,
                        padding_mask)
from .seq2seq import Decoder, Encoder, EncoderDecoder, _check_ids, _check_lens, sequence_loss
from .train import ScheduledStep

__all__ = [
    "PositionWiseFFN", "AddNorm", "TransformerEncoderBlock", "TransformerEncoder",
    "TransformerDecoderBlock", "TransformerDecoder", "TransformerConfig", "transformer_seq2seq",
    "init_transformer", "trim_batch", "transformer_step", "NoamAdam", "noam_lr", "count_parameters",
    "encoder_layer_from_torch", "decoder_layer_from_torch", "verse_transformer",
]


# The generic checks live in d2lt.validate (imported as ``check``); those below are about the
# Transformer's own contracts: feature widths, token ids against an embedding, the decoder state.

def _check_features(X, width, name="X"):
    """``X`` is a float tensor ``(batch, steps, width)`` (``width`` None: any width)."""
    check.tensor(X, name, dims=3, shape=f"(batch, steps, {width})", kind="float")
    if width is not None and X.shape[-1] != width:
        raise ValueError(f"{name} must have width {width} (num_hiddens), got shape {tuple(X.shape)}")


def _check_tokens(X, embedding, owner):
    """``X`` is a ``(batch, steps)`` tensor of token ids in ``embedding``'s range, on its device
    (:func:`d2lt.seq2seq._check_ids`): a bad id is named here rather than surfacing as torch's
    "index out of range in self" or a CUDA device-side assert."""
    _check_ids(X, "X", embedding, owner)


# ----------------------------------------------------------------------------- sub-layers

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU,  # GELU: the exact (erf) form BERT uses
               "gelu_tanh": lambda: nn.GELU(approximate="tanh")}  # GPT-2's approximation


def activation_module(name) -> nn.Module:
    """The activation ``name`` (one of :data:`ACTIVATIONS`) as a module."""
    check.string(name, "activation", choices=sorted(ACTIVATIONS))
    return ACTIVATIONS[name]()


class PositionWiseFFN(nn.Module):
    """The same two-layer network at every position: ``dense2(act(dense1(X)))``.

    ``X (B, T, d_in) -> (B, T, ffn_num_outputs)``. Like ``d2l`` the first layer
    infers ``d_in`` at the first call; ``num_inputs`` builds it at once. The
    activation is ReLU as in the original Transformer (module ``relu``, d2l's
    name) or ``activation="gelu"`` as in BERT and GPT (module ``gelu``).
    """

    def __init__(self, ffn_num_hiddens, ffn_num_outputs, num_inputs=None, activation="relu"):
        super().__init__()
        ffn_num_hiddens = check.integer(ffn_num_hiddens, "ffn_num_hiddens", 1)
        ffn_num_outputs = check.integer(ffn_num_outputs, "ffn_num_outputs", 1)
        if num_inputs is None:
            self.dense1 = nn.LazyLinear(ffn_num_hiddens)
        else:
            self.dense1 = nn.Linear(check.integer(num_inputs, "num_inputs", 1), ffn_num_hiddens)
        self._act = "relu" if activation == "relu" else "gelu"
        setattr(self, self._act, activation_module(activation))
        self.dense2 = nn.Linear(ffn_num_hiddens, ffn_num_outputs)

    def forward(self, X):
        w = self.dense1.weight
        width = None if isinstance(w, nn.parameter.UninitializedParameter) else w.shape[1]
        check.tensor(X, "X", shape="(..., width)", kind="float")
        if X.dim() < 2:
            raise ValueError(f"X must be a float tensor of shape (..., width), got {check.describe(X)}")
        if width is not None and X.shape[-1] != width:
            raise ValueError(f"X must have width {width}, got shape {tuple(X.shape)}")
        return self.dense2(getattr(self, self._act)(self.dense1(X)))  # (B, T, F) -> (B, T, outputs)


class AddNorm(nn.Module):
    """Residual connection, then layer norm: ``LayerNorm(X + Dropout(Y))`` (post-norm)."""

    def __init__(self, norm_shape, dropout, eps=1e-5):
        super().__init__()
        self.dropout = nn.Dropout(check.dropout(dropout))
        self.ln = nn.LayerNorm(norm_shape, eps=check.number(eps, "eps", low=0, strict=True))

    def forward(self, X, Y):
        check.tensor(X, "X")
        check.tensor(Y, "Y")
        if X.shape != Y.shape:
            raise ValueError(f"X and Y must be tensors of the same shape, got {check.describe(X)} and "
                             f"{check.describe(Y)}")
        return self.ln(self.dropout(Y) + X)


def _mha(num_hiddens, num_heads, dropout, use_bias):
    return MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias, query_size=num_hiddens,
                              key_size=num_hiddens, value_size=num_hiddens)


def _check_block_sizes(num_hiddens, ffn_num_hiddens, num_heads, dropout):
    num_hiddens = check.integer(num_hiddens, "num_hiddens", 1)
    ffn_num_hiddens = check.integer(ffn_num_hiddens, "ffn_num_hiddens", 1)
    num_heads = check.integer(num_heads, "num_heads", 1)
    if num_hiddens % num_heads:
        raise ValueError(f"num_hiddens must be divisible by num_heads, got {num_hiddens} and {num_heads}")
    return num_hiddens, ffn_num_hiddens, num_heads, check.dropout(dropout)


# ----------------------------------------------------------------------------- encoder

class TransformerEncoderBlock(nn.Module):
    """Self-attention and a feed-forward network, each inside :class:`AddNorm`.

    ``forward(X (B, S, D), valid_lens (B,) or None) -> (B, S, D)``.
    """

    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias=False, *,
                 activation="relu", norm_eps=1e-5):
        super().__init__()
        num_hiddens, ffn_num_hiddens, num_heads, dropout = _check_block_sizes(
            num_hiddens, ffn_num_hiddens, num_heads, dropout)
        self.num_hiddens = num_hiddens
        self.attention = _mha(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout, norm_eps)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens, num_inputs=num_hiddens,
                                   activation=activation)
        self.addnorm2 = AddNorm(num_hiddens, dropout, norm_eps)

    def forward(self, X, valid_lens=None):
        _check_features(X, self.num_hiddens)
        _check_lens(valid_lens, X.shape[0], X.shape[1])
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))  # (B, S, D)
        return self.addnorm2(Y, self.ffn(Y))  # (B, S, D)


class TransformerEncoder(Encoder):
    """Embedding * sqrt(D) + sinusoidal positions, then ``num_blks`` encoder blocks.

    ``forward(X (B, S) ids, valid_lens (B,)) -> (B, S, D)``; ``attention_weights``
    lists each block's self-attention weights ``(B, h, S, S)`` of the last call.
    """

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 use_bias=False, max_len=1000):
        super().__init__()
        self.vocab_size = check.integer(vocab_size, "vocab_size", 1)
        num_blks = check.integer(num_blks, "num_blks", 1)
        self.num_hiddens = _check_block_sizes(num_hiddens, ffn_num_hiddens, num_heads, dropout)[0]
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout, check.integer(max_len, "max_len", 1))
        self.blks = nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module("block" + str(i), TransformerEncoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias))

    def forward(self, X, valid_lens=None):
        _check_tokens(X, self.embedding, "the encoder")
        _check_lens(valid_lens, X.shape[0], X.shape[1])
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))  # (B, S, D)
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X

    @property
    def attention_weights(self):
        """Per block, the self-attention weights ``(B, h, S, S)`` of the last call."""
        return [blk.attention.attention_weights for blk in self.blks]


# ----------------------------------------------------------------------------- decoder

def _cached_attention(mha: MultiHeadAttention, X, past, new_kv, mask, causal):
    """Multi-head attention of queries ``X`` over cached keys/values plus new ones.

    ``past`` is None or ``(k, v)`` each ``(B, h, K0, dh)``; ``new_kv`` the input
    ``(B, K1, D)`` whose projected keys and values are appended (None: nothing
    new, as for cross-attention after the first step). Returns the output
    ``(B, Q, D)`` and the cache ``(k, v)``. Leaves ``mha.attention_weights``
    readable (recomputed on first access), as after an ordinary call.
    """
    B, Q, _ = X.shape
    q = mha._split(mha.W_q(X))  # (B, h, Q, dh)
    if new_kv is not None:
        k_new, v_new = mha._split(mha.W_k(new_kv)), mha._split(mha.W_v(new_kv))  # (B, h, K1, dh)
        k, v = (k_new, v_new) if past is None else (torch.cat([past[0], k_new], 2),
                                                     torch.cat([past[1], v_new], 2))
    else:
        k, v = past
    K = k.shape[2]
    if causal and Q > 1:  # one new query may see every cached key: no mask needed
        c = causal_mask(Q, X.device, num_keys=K)  # (Q, K)
        mask = c if mask is None else mask & c
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, Q, dh)
    mha._weights, mha._last = None, (q.detach(), k.detach(), mask, False)
    return mha.W_o(out.transpose(1, 2).reshape(B, Q, mha.num_hiddens)), (k, v)


class TransformerDecoderBlock(nn.Module):
    """The ``i``-th decoder block: causal self-attention, cross-attention, feed-forward network.

    ``forward(X (B, T, D), state) -> (out (B, T, D), state)`` with ``state =
    [enc_outputs (B, S, D), enc_valid_lens (B,) or None, cache]``. In training
    mode it attends causally over ``X``; in eval mode it uses and extends
    ``cache[i]`` (the projected self-attention keys/values of all earlier
    positions and the projected encoder keys/values), so ``X`` may hold only the
    new positions.
    """

    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, i, use_bias=False):
        super().__init__()
        num_hiddens, ffn_num_hiddens, num_heads, dropout = _check_block_sizes(
            num_hiddens, ffn_num_hiddens, num_heads, dropout)
        self.i = check.integer(i, "i", 0, what="an int >= 0 (the block's index)")
        self.num_hiddens = num_hiddens
        self.attention1 = _mha(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.attention2 = _mha(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens, num_inputs=num_hiddens)
        self.addnorm3 = AddNorm(num_hiddens, dropout)

    def forward(self, X, state):
        _check_features(X, self.num_hiddens)
        enc_outputs, enc_valid_lens, cache = _check_state(state, X.shape[0], self.num_hiddens)
        if self.i >= len(cache):
            raise ValueError(f"state's cache has {len(cache)} entries, block {self.i} needs one")
        if self.training:
            X2 = self.attention1(X, X, X, is_causal=True)  # (B, T, D)
            Y = self.addnorm1(X, X2)
            Y2 = self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens)
        else:
            entry = cache[self.i] or {}
            X2, entry_self = _cached_attention(self.attention1, X, entry.get("self"), X, None, True)
            Y = self.addnorm1(X, X2)
            mask = None
            if enc_valid_lens is not None:
                mask = padding_mask(enc_valid_lens.to(X.device), Y.shape[1], enc_outputs.shape[1])
                mask = mask.unsqueeze(1)  # (B, 1, 1, S): every head, every query
            cross = entry.get("cross")
            Y2, cross = _cached_attention(self.attention2, Y, cross, enc_outputs if cross is None else None,
                                          mask, False)
            cache[self.i] = {"self": entry_self, "cross": cross}
        Z = self.addnorm2(Y, Y2)
        return self.addnorm3(Z, self.ffn(Z)), state  # (B, T, D)


def _check_state(state, batch, width):
    if not isinstance(state, list) or len(state) != 3 or not isinstance(state[2], list):
        raise ValueError("state must be the list [enc_outputs, enc_valid_lens, cache] made by "
                         f"TransformerDecoder.init_state, got {type(state).__name__}")
    enc_outputs, enc_valid_lens, cache = state
    _check_features(enc_outputs, width, "enc_outputs")
    if enc_outputs.shape[0] != batch:
        raise ValueError(f"enc_outputs has batch size {enc_outputs.shape[0]}, the decoder input {batch}")
    _check_lens(enc_valid_lens, batch, enc_outputs.shape[1], "enc_valid_lens")
    return enc_outputs, enc_valid_lens, cache


class TransformerDecoder(Decoder):
    """Embedding * sqrt(D) + positions, ``num_blks`` decoder blocks, a linear layer to logits.

    ``init_state(enc_outputs, enc_valid_lens) -> [enc_outputs, enc_valid_lens,
    [None] * num_blks]``; ``forward(X (B, T) ids, state) -> (logits (B, T, V), state)``.
    ``attention_weights`` is ``[self-attention weights per block, cross-attention
    weights per block]`` of the last call, each ``(B, h, T, K)``.
    """

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 use_bias=False, max_len=1000):
        super().__init__()
        self.vocab_size = check.integer(vocab_size, "vocab_size", 1)
        self.num_blks = check.integer(num_blks, "num_blks", 1)
        self.num_hiddens = _check_block_sizes(num_hiddens, ffn_num_hiddens, num_heads, dropout)[0]
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout, check.integer(max_len, "max_len", 1))
        self.blks = nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module("block" + str(i), TransformerDecoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, dropout, i, use_bias))
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens=None):
        if isinstance(enc_outputs, tuple):  # an encoder that returns (outputs, state)
            enc_outputs = enc_outputs[0]
        _check_features(enc_outputs, self.num_hiddens, "enc_outputs")
        _check_lens(enc_valid_lens, enc_outputs.shape[0], enc_outputs.shape[1], "enc_valid_lens")
        return [enc_outputs, enc_valid_lens, [None] * self.num_blks]

    @staticmethod
    def cached_steps(state) -> int:
        """How many target positions the state's key-value cache holds (0 for a fresh state)."""
        entry = state[2][0] if isinstance(state, list) and len(state) == 3 and state[2] else None
        return 0 if not entry else entry["self"][0].shape[2]

    def forward(self, X, state):
        _check_tokens(X, self.embedding, "the decoder")
        _check_state(state, X.shape[0], self.num_hiddens)
        start = 0 if self.training else self.cached_steps(state)
        P = self.pos_encoding.P
        if start + X.shape[1] > P.shape[1]:
            raise ValueError(f"the decoder handles at most {P.shape[1]} positions (max_len), "
                             f"asked for {start + X.shape[1]}")
        emb = self.embedding(X) * math.sqrt(self.num_hiddens)  # (B, T, D)
        X = self.pos_encoding.dropout(emb + P[:, start:start + X.shape[1]].to(emb.dtype))  # (B, T, D)
        for blk in self.blks:
            X, state = blk(X, state)
        return self.dense(X), state  # (B, T, V)

    @property
    def attention_weights(self):
        """``[[self-attention (B, h, T, K) per block], [cross-attention (B, h, T, S) per block]]``."""
        return [[blk.attention1.attention_weights for blk in self.blks],
                [blk.attention2.attention_weights for blk in self.blks]]


# ----------------------------------------------------------------------------- the model

@dataclass
class TransformerConfig:
    """Sizes of a Transformer encoder-decoder (the paper's base model: 512, 2048, 8, 6, 0.1).

    ``share_embeddings`` makes the encoder and decoder use one embedding table
    (needs one vocabulary for both sides, ``src_vocab == tgt_vocab``);
    ``tie_output`` makes the decoder's output layer reuse the target embedding
    matrix (the paper shares all three, section 3.4).
    """

    src_vocab: int
    tgt_vocab: int
    num_hiddens: int = 128
    ffn_num_hiddens: int = 512
    num_heads: int = 4
    num_blks: int = 2
    dropout: float = 0.1
    use_bias: bool = True
    share_embeddings: bool = False
    tie_output: bool = True
    max_len: int = 1000

    def __post_init__(self):
        for name in ("src_vocab", "tgt_vocab", "num_hiddens", "ffn_num_hiddens", "num_heads", "num_blks",
                     "max_len"):
            check.integer(getattr(self, name), name, 1)
        _check_block_sizes(self.num_hiddens, self.ffn_num_hiddens, self.num_heads, self.dropout)
        for name in ("use_bias", "share_embeddings", "tie_output"):
            check.boolean(getattr(self, name), name)
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError(f"share_embeddings needs one vocabulary for both sides, got src_vocab="
                             f"{self.src_vocab} and tgt_vocab={self.tgt_vocab}")

    def to_dict(self):
        return asdict(self)

    @classmethod
    def base(cls, vocab_size: int = 37000):
        """The paper's base model: 6 + 6 blocks, d_model 512, 8 heads, d_ff 2048, shared vocabulary."""
        return cls(vocab_size, vocab_size, 512, 2048, 8, 6, 0.1, True, True, True)


def init_transformer(module):
    """Xavier-uniform linear weights, zero biases; embeddings N(0, 1/D) so that sqrt(D) * e has unit scale."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, m.embedding_dim ** -0.5)


def transformer_seq2seq(cfg: TransformerConfig) -> EncoderDecoder:
    """A Transformer :class:`~d2lt.seq2seq.EncoderDecoder` from a config, initialised."""
    if not isinstance(cfg, TransformerConfig):
        raise TypeError(f"cfg must be a d2lt.transformer.TransformerConfig, got {type(cfg).__name__}")
    sizes = (cfg.num_hiddens, cfg.ffn_num_hiddens, cfg.num_heads, cfg.num_blks, cfg.dropout, cfg.use_bias,
             cfg.max_len)
    model = EncoderDecoder(TransformerEncoder(cfg.src_vocab, *sizes), TransformerDecoder(cfg.tgt_vocab, *sizes))
    init_transformer(model)
    if cfg.share_embeddings:
        model.decoder.embedding = model.encoder.embedding
    if cfg.tie_output:
        model.decoder.dense.weight = model.decoder.embedding.weight  # (V, D) both
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of distinct trainable parameters (a tied matrix counts once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)  # parameters() skips repeats


def trim_batch(batch, pad_id: int):
    """Cut the padding columns that no row of the batch needs (the loss is unchanged).

    ``batch = (src (B, S), src_len (B,), dec_in (B, T), tgt (B, T))``: the source is
    cut to the longest ``src_len``, the target side to the last non-padding target
    column. Attention masks source padding and the decoder is causal, so the real
    positions see exactly what they saw before; a Transformer's cost grows with
    the padded length, an RNN's packed sequences never pay for it.
    """
    if not isinstance(batch, (list, tuple)) or len(batch) != 4:
        raise ValueError(f"batch must be (src, src_len, dec_in, tgt), got {type(batch).__name__} "
                         f"of length {len(batch) if isinstance(batch, (list, tuple)) else '?'}")
    src, src_len, dec_in, tgt = batch
    _check_ids(src, "src")
    _check_ids(dec_in, "dec_in")
    _check_ids(tgt, "tgt")
    _check_lens(src_len, src.shape[0], src.shape[1], "src_len")
    if dec_in.shape != tgt.shape or dec_in.shape[0] != src.shape[0]:
        raise ValueError(f"dec_in and tgt must have the same shape (B, T) with the batch size of src "
                         f"{tuple(src.shape)}, got {tuple(dec_in.shape)} and {tuple(tgt.shape)}")
    S = int(src_len.max()) if src.shape[0] else src.shape[1]
    real = (tgt != pad_id).any(0).nonzero()
    T = int(real.max()) + 1 if real.numel() else tgt.shape[1]
    return src[:, :S], src_len, dec_in[:, :T], tgt[:, :T]


def transformer_step(model, batch, pad_id: int, label_smoothing: float = 0.1):
    """Teacher-forced loss with label smoothing (the paper uses 0.1), averaged over real tokens.

    ``batch = (src, src_len, dec_in, tgt)`` as :meth:`d2lt.seq2seq.PairTensors.loader` yields.
    With ``label_smoothing = e`` the target distribution puts ``1 - e`` on the
    true token and spreads ``e`` evenly over the vocabulary.
    """
    label_smoothing = check.probability(label_smoothing, "label_smoothing", allow_one=False)
    src, src_len, dec_in, tgt = trim_batch(batch, pad_id)
    logits = model(src, dec_in, src_len)  # (B, T, V)
    if label_smoothing == 0:
        return sequence_loss(logits, tgt, pad_id)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt.reshape(-1),
                           ignore_index=pad_id, label_smoothing=float(label_smoothing))


# ----------------------------------------------------------------------------- warm-up schedule

def noam_lr(step: int, num_hiddens: int, warmup: int = 4000, factor: float = 1.0) -> float:
    """The paper's learning rate (section 5.3): ``factor * D^-0.5 * min(s^-0.5, s * warmup^-1.5)``.

    It rises linearly for ``warmup`` steps, then decays as ``1/sqrt(step)``;
    ``step`` counts from 1.
    """
    step = check.integer(step, "step", 1)
    num_hiddens = check.integer(num_hiddens, "num_hiddens", 1)
    warmup = check.integer(warmup, "warmup", 1)
    factor = check.number(factor, "factor", 0, strict=True)
    return factor * num_hiddens ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


class NoamAdam(ScheduledStep, torch.optim.Adam):
    """Adam (beta2 = 0.98, eps = 1e-9, as in the paper) whose learning rate follows :func:`noam_lr`.

    Each ``step()`` first sets the learning rate for the step about to be
    taken, so it works with any loop that calls ``step()`` (``d2lt.train.fit``
    included). ``warmup=None`` keeps the rate fixed at ``lr``: the same
    optimizer without the schedule, for comparisons.
    """

    def __init__(self, params, num_hiddens, warmup=4000, factor=1.0, lr=1e-3, start_step=0):
        super().__init__(params, lr=lr, betas=(0.9, 0.98), eps=1e-9)
        self.num_hiddens = check.integer(num_hiddens, "num_hiddens", 1)
        self.warmup = None if warmup is None else check.integer(warmup, "warmup", 1)
        self.factor = factor
        self.steps_taken = check.integer(start_step, "start_step", 0)
        if self.warmup is not None:
            noam_lr(1, self.num_hiddens, self.warmup, factor)  # checks factor

    def current_lr(self) -> float:
        """The learning rate the next ``step()`` will use."""
        if self.warmup is None:
            return self.param_groups[0]["lr"]
        return noam_lr(self.steps_taken + 1, self.num_hiddens, self.warmup, self.factor)


# ----------------------------------------------------------------------------- torch's layers

def _copy_mha(ours: MultiHeadAttention, theirs: nn.MultiheadAttention):
    d = theirs.embed_dim
    W = theirs.in_proj_weight
    b = theirs.in_proj_bias
    for j, layer in enumerate((ours.W_q, ours.W_k, ours.W_v)):
        layer.weight.copy_(W[j * d:(j + 1) * d])
        if layer.bias is not None:
            layer.bias.copy_(b[j * d:(j + 1) * d])
    ours.W_o.weight.copy_(theirs.out_proj.weight)
    if ours.W_o.bias is not None:
        ours.W_o.bias.copy_(theirs.out_proj.bias)


def _check_torch_layer(layer, cls):
    if not isinstance(layer, cls):
        raise TypeError(f"layer must be a torch.nn.{cls.__name__}, got {type(layer).__name__}")
    if layer.norm_first:
        raise ValueError("layer has norm_first=True (pre-norm); the course's blocks are post-norm, as in "
                         "the paper")
    act = getattr(layer, "activation", None)
    if not (act is F.relu or isinstance(act, nn.ReLU)):
        raise ValueError("layer must use the ReLU activation, as the paper's feed-forward network does")
    if layer.linear1.bias is None:
        raise ValueError("layer was built with bias=False, which also drops the biases of its "
                         "feed-forward and layer-norm layers; the course's blocks keep those (use_bias "
                         "switches the attention biases only, as in d2l)")


def encoder_layer_from_torch(layer: nn.TransformerEncoderLayer) -> TransformerEncoderBlock:
    """A :class:`TransformerEncoderBlock` holding the weights of a post-norm ReLU ``nn.TransformerEncoderLayer``.

    torch's names map as ``self_attn -> attention``, ``linear1/linear2 ->
    ffn.dense1/dense2``, ``norm1/norm2 -> addnorm1/addnorm2.ln``.
    """
    _check_torch_layer(layer, nn.TransformerEncoderLayer)
    d, h = layer.self_attn.embed_dim, layer.self_attn.num_heads
    ours = TransformerEncoderBlock(d, layer.linear1.out_features, h, layer.dropout.p,
                                   use_bias=layer.self_attn.in_proj_bias is not None)
    with torch.no_grad():
        _copy_mha(ours.attention, layer.self_attn)
        ours.ffn.dense1.load_state_dict(layer.linear1.state_dict())
        ours.ffn.dense2.load_state_dict(layer.linear2.state_dict())
        ours.addnorm1.ln.load_state_dict(layer.norm1.state_dict())
        ours.addnorm2.ln.load_state_dict(layer.norm2.state_dict())
    return ours


def decoder_layer_from_torch(layer: nn.TransformerDecoderLayer, i: int = 0) -> TransformerDecoderBlock:
    """A :class:`TransformerDecoderBlock` holding the weights of a post-norm ReLU ``nn.TransformerDecoderLayer``.

    ``self_attn -> attention1``, ``multihead_attn -> attention2``, ``linear1/2 ->
    ffn.dense1/2``, ``norm1/2/3 -> addnorm1/2/3.ln``.
    """
    _check_torch_layer(layer, nn.TransformerDecoderLayer)
    d, h = layer.self_attn.embed_dim, layer.self_attn.num_heads
    ours = TransformerDecoderBlock(d, layer.linear1.out_features, h, layer.dropout.p, i,
                                   use_bias=layer.self_attn.in_proj_bias is not None)
    with torch.no_grad():
        _copy_mha(ours.attention1, layer.self_attn)
        _copy_mha(ours.attention2, layer.multihead_attn)
        ours.ffn.dense1.load_state_dict(layer.linear1.state_dict())
        ours.ffn.dense2.load_state_dict(layer.linear2.state_dict())
        for k in (1, 2, 3):
            getattr(ours, f"addnorm{k}").ln.load_state_dict(getattr(layer, f"norm{k}").state_dict())
    return ours


# ----------------------------------------------------------------------------- the verse model

#: The chapter-6 verse checkpoint and how it was trained (scripts/train_transformer_checkpoint.py).
VERSE_CHECKPOINT = "ch06_transformer_verses.pt"
VERSE_TRAINING = {"batch_size": 64, "warmup": 400, "factor": 0.6, "label_smoothing": 0.1}


def verse_transformer(task):
    """The chapter-6 verse model for a :class:`d2lt.tasks.TranslationTask` (chapters 1-2's verse task).

    D = 128, F = 512, 4 heads, 2 + 2 blocks, dropout 0.1, output layer tied to
    the target embedding (the two vocabularies differ, so the source embedding
    cannot be shared). Returns ``(model, config, checkpoint_path)``, as
    :func:`d2lt.tasks.verse_model` does for the RNN models.
    """
    from . import train

    for name in ("src_vocab", "tgt_vocab", "settings"):
        if not hasattr(task, name):
            raise TypeError(f"task must be a d2lt.tasks.TranslationTask, got {type(task).__name__}")
    cfg = TransformerConfig(len(task.src_vocab), len(task.tgt_vocab), num_hiddens=128, ffn_num_hiddens=512,
                            num_heads=4, num_blks=2, dropout=0.1)
    config = {**cfg.to_dict(), **task.settings(), **VERSE_TRAINING}
    return transformer_seq2seq(cfg), config, train.course_checkpoint(VERSE_CHECKPOINT)
