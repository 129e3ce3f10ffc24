"""The RNN encoder-decoder with attention (Bahdanau et al., 2015): chapter 2.

Chapter 1's decoder sees one fixed context ``c = h_T``. Here the decoder looks
at *every* encoder state at every step. Its previous hidden state is the query,
the encoder states are keys and values, and additive attention pools them into
a context that changes from step to step:

    e_{t,j} = w_v^T tanh(W_q s_{t-1} + W_k h_j)          (score of source position j)
    a_{t,j} = softmax_j(e_{t,j})   over real source tokens only (padding masked)
    c_t     = sum_j a_{t,j} h_j                            (context, a weighted mean)
    s_t     = GRU(s_{t-1}, [c_t; e(y_{t-1})]),   p(y_t | y_<t, x) = softmax(W s_t + b).

The weights ``a_{t,:}`` are kept per step in ``decoder.attention_weights``: row
``t`` says where in the source the decoder looked to write target token ``t``
(an *alignment*).

Cost. The query changes at every step (it is the previous state), so the
decoder must loop over target steps. The key projection ``W_k h_j`` does not
depend on the step: it is computed once per sentence in :meth:`init_state`
instead of once per step (the same numbers, ``T`` times fewer matrix products).

Names and signatures follow the ``d2l`` book (``Seq2SeqAttentionDecoder``); the
tensors are batch-first like the rest of :mod:`d2lt.seq2seq`.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from . import validate as check
from .attention import AdditiveAttention, softmax_with_mask
from .seq2seq import (Decoder, EncoderDecoder, Seq2SeqConfig, _check_encoder_outputs, _check_ids, _check_lens,
                      _check_model, _check_sizes, _check_vocab, _check_vocab_fits, _model_device, greedy_decode,
                      init_seq2seq, rnn_seq2seq)
from .text import Vocab, encode, tokenize

__all__ = ["AttentionState", "Seq2SeqAttentionDecoder", "attention_seq2seq", "align"]


class AttentionState(NamedTuple):
    """What the attention decoder carries from step to step."""

    enc_outputs: torch.Tensor      # (B, Ts, H) encoder states: the values
    keys: torch.Tensor             # (B, Ts, H) W_k h_j, projected once per sentence
    mask: torch.Tensor | None      # (B, 1, Ts) True at real source tokens, or None (no padding)
    hidden: torch.Tensor           # (L, B, H) decoder GRU state


class Seq2SeqAttentionDecoder(Decoder):
    """GRU decoder with additive attention over the encoder states (``d2l``'s name and signature).

    ``init_state((enc_outputs (B, Ts, H), enc_state (L, B, H)), enc_valid_lens (B,) or None)``
    then ``forward(X (B, T), state) -> (logits (B, T, V), state)``. After a call,
    ``attention_weights`` is a list of ``T`` tensors ``(B, 1, Ts)``, one per step.
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.attention = AdditiveAttention(num_hiddens, dropout, query_size=num_hiddens, key_size=num_hiddens)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        # the GRU reads [context; embedding] (the book's order)
        self.rnn = nn.GRU(num_hiddens + embed_size, num_hiddens, num_layers, dropout=dropout,
                          batch_first=True)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.apply(init_seq2seq)
        self._attention_weights = []

    @property
    def attention_weights(self):
        """Attention weights of the last ``forward``: a list of ``(B, 1, Ts)``, one per target step."""
        return self._attention_weights

    def init_state(self, enc_all_outputs, enc_valid_lens=None) -> AttentionState:
        B, Ts = _check_encoder_outputs(enc_all_outputs, self.num_layers, self.num_hiddens,
                                       self.attention.W_k.weight)
        enc_outputs, hidden = enc_all_outputs
        _check_lens(enc_valid_lens, B, Ts, "enc_valid_lens")
        keys = self.attention.W_k(enc_outputs)  # (B, Ts, H), once per sentence, not once per step
        mask = None
        if enc_valid_lens is not None:  # (B, 1, Ts), True at real source tokens
            lens = enc_valid_lens.to(enc_outputs.device)
            mask = torch.arange(Ts, device=enc_outputs.device) < lens[:, None, None]
        return AttentionState(enc_outputs, keys, mask, hidden)

    def attend(self, query, state: AttentionState):
        """One attention step: ``query`` (B, H) -> ``(context (B, 1, H), weights (B, 1, Ts))``.

        Equal to ``self.attention(query[:, None], enc_outputs, enc_outputs, enc_valid_lens)``
        but reuses the keys projected in :meth:`init_state`.
        """
        if not isinstance(state, AttentionState):
            raise TypeError(f"state must come from init_state (an AttentionState), got {type(state).__name__}")
        B, H = state.hidden.shape[1], self.num_hiddens
        if not isinstance(query, torch.Tensor):
            raise TypeError(f"query must be a tensor of shape ({B}, {H}) (the decoder state), "
                            f"got {check.describe(query)}")
        if tuple(query.shape) != (B, H):
            raise ValueError(f"query must be a tensor of shape ({B}, {H}) (the decoder state), "
                             f"got {check.describe(query)}")
        if query.device != state.keys.device:
            raise ValueError(f"query is on {query.device} but the state is on {state.keys.device}")
        return self._attend(query, state)

    def _attend(self, query, state: AttentionState):
        """:meth:`attend` without the argument checks: the step loop of :meth:`forward`, whose
        query and state are built here and checked once per call, not once per step."""
        q = self.attention.W_q(query)  # (B, H)
        features = torch.tanh(state.keys + q.unsqueeze(1))  # (B, Ts, H)
        scores = self.attention.w_v(features).transpose(1, 2)  # (B, 1, Ts)
        weights = softmax_with_mask(scores, state.mask)  # (B, 1, Ts); mask (B, 1, Ts) or None
        context = torch.bmm(self.attention.dropout(weights), state.enc_outputs)  # (B, 1, H)
        return context, weights

    def forward(self, X, state: AttentionState):
        _check_ids(X, "X", self.embedding, "the decoder")
        if not isinstance(state, AttentionState):
            raise TypeError(f"state must come from init_state (an AttentionState), got {type(state).__name__}")
        if X.shape[0] != state.hidden.shape[1]:
            raise ValueError(f"X has batch size {X.shape[0]} but the state was built for {state.hidden.shape[1]}")
        if tuple(state.hidden.shape[::2]) != (self.num_layers, self.num_hiddens):
            raise ValueError(f"state.hidden must have shape ({self.num_layers}, B, {self.num_hiddens}), got "
                             f"{tuple(state.hidden.shape)}")
        if state.hidden.device != X.device:
            raise ValueError(f"X is on {X.device} but the state is on {state.hidden.device}")
        embs = self.embedding(X)  # (B, T, E)
        hidden = state.hidden
        outputs, self._attention_weights = [], []
        for t in range(X.shape[1]):
            context, weights = self._attend(hidden[-1], state)  # query: the top layer's previous state
            x = torch.cat([context, embs[:, t:t + 1]], dim=-1)  # (B, 1, H + E)
            out, hidden = self.rnn(x, hidden)  # (B, 1, H), (L, B, H)
            outputs.append(out)
            self._attention_weights.append(weights)
        logits = self.dense(torch.cat(outputs, dim=1))  # (B, T, V)
        return logits, state._replace(hidden=hidden)


def attention_seq2seq(cfg: Seq2SeqConfig) -> EncoderDecoder:
    """Chapter 1's GRU encoder with the attention decoder, built from a :class:`Seq2SeqConfig`."""
    return rnn_seq2seq(cfg, Seq2SeqAttentionDecoder)


@torch.no_grad()
def align(model: EncoderDecoder, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab, src_steps: int,
          max_steps: int):
    """Translate one sentence greedily and return its alignment.

    Returns ``(src_tokens, out_tokens, weights)``: the source tokens (``<eos>``
    included), the generated tokens (``<eos>`` included if it was written) and the
    attention weights ``(len(out_tokens), len(src_tokens))`` -- row ``t`` is where
    the decoder looked when it wrote token ``t``.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    _check_model(model)
    if not hasattr(model.decoder, "attention_weights"):
        raise TypeError(f"the model's decoder ({type(model.decoder).__name__}) keeps no attention weights")
    _check_vocab(src_vocab, "src_vocab")
    _check_vocab(tgt_vocab, "tgt_vocab")
    _check_vocab_fits(model, src_vocab, tgt_vocab)
    src_steps = check.integer(src_steps, "src_steps", low=1)
    max_steps = check.integer(max_steps, "max_steps", low=1)
    device = _model_device(model)
    src, src_len = encode([tokenize(sentence)], src_vocab, src_steps, eos=True)
    ids, attn = greedy_decode(model, src.to(device), src_len.to(device), tgt_vocab.bos, tgt_vocab.eos,
                              max_steps, save_attention=True)
    n = int(src_len[0])
    ids = ids[0].tolist()
    if tgt_vocab.eos in ids:
        ids = ids[: ids.index(tgt_vocab.eos) + 1]
    src_tokens = src_vocab.to_tokens(src[0, :n].tolist())
    weights = torch.stack([a[0, :n] for a in attn[: len(ids)]])  # (len(ids), n)
    return src_tokens, tgt_vocab.to_tokens(ids), weights
