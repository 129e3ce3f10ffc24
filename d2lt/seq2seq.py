"""The RNN encoder-decoder (chapter 1) and the pieces every seq2seq model shares.

Shapes use B = batch, T = time steps, H = hidden width, V = vocabulary size.
Tensors are batch-first throughout: token ids ``(B, T)``, logits ``(B, T, V)``.

The encoder squeezes a whole source sentence into its final hidden state
``c = h_T``; the decoder sees ``c`` at every step (concatenated with the
previous target token's embedding) and nothing else of the source:

    h_t = GRU(h_{t-1}, x_t),   c = h_T,   s_t = GRU(s_{t-1}, [e(y_{t-1}); c]),
    p(y_t | y_<t, x) = softmax(W s_t + b).

Inputs are checked where they enter, so a mistake is named rather than surfacing deep inside
torch (or as a CUDA device-side assert): token ids are int64/int32 ``(B, T)`` tensors with ids
in ``[0, vocab_size)`` on the model's device; valid lengths are whole numbers in ``[1, T]``
(an integer tensor, or a float tensor of whole numbers); sizes are positive ints and dropout
lies in ``[0, 1)``. Each forward call pays one min/max per checked tensor.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, asdict

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .attention import _check_device, _check_lengths, _shape
from .text import Vocab, decode, encode, tokenize

_ID_DTYPES = (torch.int64, torch.int32)  # what nn.Embedding takes


def _vocab_size(module):
    """Rows of ``module.embedding`` (its vocabulary size), or None when it has no such layer."""
    emb = getattr(module, "embedding", None)
    return emb.num_embeddings if isinstance(emb, nn.Embedding) else None


def _check_ids(X, name="X", embedding=None, owner="the model"):
    """``X`` is a non-empty int64/int32 ``(batch, steps)`` tensor; with ``embedding`` (an
    ``nn.Embedding``), ``X`` is on its device and the ids lie in ``[0, num_embeddings)`` (one
    min/max per call), so a bad id is named here rather than surfacing as torch's "index out of
    range in self" or a CUDA device-side assert."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be an integer tensor of shape (batch, steps) holding token ids, "
                        f"got {check.describe(X)}")
    if X.dim() != 2:
        raise ValueError(f"{name} must be an integer tensor of shape (batch, steps), got {check.describe(X)}")
    if X.dtype not in _ID_DTYPES:
        raise TypeError(f"{name} must be an integer tensor of shape (batch, steps) (int64 or int32 token "
                        f"ids), got {check.describe(X)}")
    if X.numel() == 0:
        raise ValueError(f"{name} is empty: expected at least one sentence and one step, got {check.describe(X)}")
    if embedding is not None:
        _check_device(X, name, embedding.weight, owner)
        vocab_size = embedding.num_embeddings
        lo, hi = torch.stack(tuple(torch.aminmax(X))).tolist()
        if lo < 0 or hi >= vocab_size:
            raise ValueError(f"{name} must hold token ids in [0, {vocab_size - 1}] (the embedding has "
                             f"{vocab_size} rows; was the vocabulary built for this model?), got min {lo}, "
                             f"max {hi}")


def _check_lens(valid_lens, batch, steps, name="valid_lens"):
    """None, or ``(batch,)`` whole numbers in ``[1, steps]``: every sentence holds at least one token."""
    if valid_lens is None:
        return
    _check_lengths(valid_lens, name, ((batch,),), f"({batch},)", 1, steps,
                   f" (every sentence has at least 1 token and at most the {steps} steps of the batch)")


def _check_vocab(vocab, name):
    if not isinstance(vocab, Vocab):
        raise TypeError(f"{name} must be a d2lt.text.Vocab, got {check.describe(vocab)}")


def _check_pairs(pairs, name="pairs"):
    """A non-empty sequence of ``(source, target, ...)`` with two strings in front."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"{name} must be a list of (source, target) string pairs, got {check.describe(pairs)}")
    if len(pairs) == 0:
        raise ValueError(f"{name} is empty: expected a list of (source, target) strings")
    for i, p in enumerate(pairs):
        if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) < 2:
            raise TypeError(f"{name}[{i}] must be a (source, target, ...) tuple of strings, got {check.describe(p)}")
        if not (isinstance(p[0], str) and isinstance(p[1], str)):
            raise TypeError(f"{name}[{i}] must start with two strings (source, target), got "
                            f"({type(p[0]).__name__}, {type(p[1]).__name__})")


def _check_model(model):
    """An encoder-decoder: ``.encoder`` and ``.decoder`` modules, the decoder with ``init_state``."""
    if not (isinstance(model, nn.Module) and isinstance(getattr(model, "encoder", None), nn.Module)
            and callable(getattr(getattr(model, "decoder", None), "init_state", None))):
        raise TypeError(f"model must be an encoder-decoder (d2lt.seq2seq.EncoderDecoder), got {check.describe(model)}")


def _model_device(model):
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _check_vocab_fits(model, src_vocab, tgt_vocab):
    """The vocabularies have the sizes of the model's embeddings (the model was built for them:
    ``Seq2SeqConfig(len(src_vocab), len(tgt_vocab), ...)``); else source ids could run past the
    embedding, and generated ids past the target vocabulary."""
    for side, vocab, module in (("src_vocab", src_vocab, model.encoder), ("tgt_vocab", tgt_vocab, model.decoder)):
        V = _vocab_size(module)
        if V is not None and len(vocab) != V:
            raise ValueError(f"{side} has {len(vocab)} tokens but the model's {side[:3]} embedding has {V} "
                             f"rows: was the model built for this vocabulary?")


def init_seq2seq(module):
    """Xavier-uniform initialisation of linear and GRU weights (as ``d2l.init_seq2seq``)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"init_seq2seq initialises a torch.nn.Module (use model.apply(init_seq2seq)), "
                        f"got {check.describe(module)}")
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    if isinstance(module, nn.GRU):
        for name, p in module.named_parameters():
            if "weight" in name:
                nn.init.xavier_uniform_(p)


def _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout):
    for name, v in (("vocab_size", vocab_size), ("embed_size", embed_size),
                    ("num_hiddens", num_hiddens), ("num_layers", num_layers)):
        check.integer(v, name, low=1)
    check.dropout(dropout)


class Encoder(nn.Module):
    """Base class: ``forward(X, *args) -> enc_outputs``."""


class Decoder(nn.Module):
    """Base class: ``init_state(enc_outputs, *args)`` then ``forward(X, state) -> (logits, state)``."""

    def init_state(self, enc_all_outputs, *args):
        raise NotImplementedError


class Seq2SeqEncoder(Encoder):
    """GRU encoder. Returns ``(outputs (B, T, H), state (L, B, H))``.

    With ``valid_lens`` the GRU runs over packed sequences, so ``state`` holds
    each sentence's hidden state at its own last real token, not at padding.
    ``X`` holds ids in ``[0, vocab_size)``; ``valid_lens`` (B,) whole numbers in ``[1, T]``.
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout, batch_first=True)
        self.apply(init_seq2seq)

    def forward(self, X, valid_lens=None):
        _check_ids(X, "X", self.embedding, "the encoder")
        _check_lens(valid_lens, X.shape[0], X.shape[1])
        embs = self.embedding(X)  # (B, T, E)
        if valid_lens is None:
            return self.rnn(embs)  # (B, T, H), (L, B, H)
        packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens.cpu().long(), batch_first=True,
                                                   enforce_sorted=False)
        outputs, state = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=X.shape[1])
        return outputs, state  # (B, T, H) with zeros at padding, (L, B, H)


def _check_encoder_outputs(enc_all_outputs, L, H, weight):
    """``(outputs (B, Ts, H), state (L, B, H))`` from the encoder, on the device of the decoder's
    ``weight``; returns ``(B, Ts)``."""
    if not (isinstance(enc_all_outputs, (tuple, list)) and len(enc_all_outputs) == 2):
        raise TypeError("enc_all_outputs must be the encoder's (outputs (B, Ts, H), state (L, B, H)), "
                        f"got {check.describe(enc_all_outputs)}")
    enc_outputs, hidden = enc_all_outputs
    if not isinstance(enc_outputs, torch.Tensor) or enc_outputs.dim() != 3 or enc_outputs.shape[-1] != H:
        raise ValueError(f"encoder outputs must have shape (B, Ts, {H}), got {_shape(enc_outputs)}")
    B, Ts, _ = enc_outputs.shape
    if not isinstance(hidden, torch.Tensor) or tuple(hidden.shape) != (L, B, H):
        raise ValueError(f"encoder state must have shape ({L}, {B}, {H}) (layers, batch, hidden), "
                         f"got {_shape(hidden)}")
    if hidden.device != enc_outputs.device:
        raise ValueError(f"encoder outputs are on {enc_outputs.device} but the encoder state is on "
                         f"{hidden.device}")
    _check_device(hidden, "the encoder state", weight, "the decoder")
    return B, Ts


class Seq2SeqDecoder(Decoder):
    """GRU decoder that sees the context ``c`` (the encoder's last top-layer state) at every step."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout,
                          batch_first=True)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.apply(init_seq2seq)

    def init_state(self, enc_all_outputs, enc_valid_lens=None):
        B, Ts = _check_encoder_outputs(enc_all_outputs, self.rnn.num_layers, self.rnn.hidden_size,
                                       self.embedding.weight)
        _check_lens(enc_valid_lens, B, Ts, "enc_valid_lens")
        enc_outputs, hidden = enc_all_outputs
        return hidden[-1], hidden  # context (B, H), decoder state (L, B, H)

    def forward(self, X, state):
        _check_ids(X, "X", self.embedding, "the decoder")
        L, H = self.rnn.num_layers, self.rnn.hidden_size
        if not (isinstance(state, (tuple, list)) and len(state) == 2
                and all(isinstance(t, torch.Tensor) for t in state)):
            raise TypeError(f"state must come from init_state: (context (B, {H}), hidden ({L}, B, {H})), "
                            f"got {check.describe(state)}")
        context, hidden = state
        B = X.shape[0]
        if tuple(context.shape) != (B, H) or tuple(hidden.shape) != (L, B, H):
            raise ValueError(f"state must hold context ({B}, {H}) and hidden ({L}, {B}, {H}) for X of batch "
                             f"size {B}, got {tuple(context.shape)} and {tuple(hidden.shape)}")
        if context.device != X.device or hidden.device != X.device:
            raise ValueError(f"X is on {X.device} but the state is on {hidden.device}")
        embs = self.embedding(X)  # (B, T, E)
        context_t = context.unsqueeze(1).expand(-1, X.shape[1], -1)  # (B, T, H)
        outputs, hidden = self.rnn(torch.cat([embs, context_t], dim=-1), hidden)
        return self.dense(outputs), (context, hidden)  # (B, T, V)


class EncoderDecoder(nn.Module):
    """Encoder + decoder: ``forward(enc_X, dec_X, enc_valid_lens) -> logits (B, T, V)``."""

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module (a d2lt.seq2seq.Encoder), "
                            f"got {check.describe(encoder)}")
        if not (isinstance(decoder, nn.Module) and callable(getattr(decoder, "init_state", None))):
            raise TypeError(f"decoder must be a torch.nn.Module with init_state (a d2lt.seq2seq.Decoder), "
                            f"got {check.describe(decoder)}")
        self.encoder, self.decoder = encoder, decoder

    def forward(self, enc_X, dec_X, enc_valid_lens=None):
        both = isinstance(enc_X, torch.Tensor) and isinstance(dec_X, torch.Tensor)
        if both and enc_X.dim() == dec_X.dim() == 2 and enc_X.shape[0] != dec_X.shape[0]:
            raise ValueError(f"enc_X and dec_X must have the same batch size, got {tuple(enc_X.shape)} and "
                             f"{tuple(dec_X.shape)}")
        enc_all_outputs = self.encoder(enc_X, enc_valid_lens)
        state = self.decoder.init_state(enc_all_outputs, enc_valid_lens)
        return self.decoder(dec_X, state)[0]


@dataclass
class Seq2SeqConfig:
    """The sizes of an RNN encoder-decoder: positive ints, and dropout in [0, 1)."""

    src_vocab: int
    tgt_vocab: int
    embed_size: int = 64
    num_hiddens: int = 128
    num_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raise TypeError/ValueError unless every size is a positive int and dropout is in [0, 1)."""
        for name in ("src_vocab", "tgt_vocab", "embed_size", "num_hiddens", "num_layers"):
            check.integer(getattr(self, name), f"Seq2SeqConfig.{name}", low=1)
        check.dropout(self.dropout, "Seq2SeqConfig.dropout")
        return self

    def to_dict(self):
        return asdict(self)


def rnn_seq2seq(cfg: Seq2SeqConfig, decoder_cls=None) -> EncoderDecoder:
    """The GRU encoder with ``decoder_cls`` (default: chapter 1's :class:`Seq2SeqDecoder`) from a config."""
    if not isinstance(cfg, Seq2SeqConfig):
        raise TypeError(f"cfg must be a d2lt.seq2seq.Seq2SeqConfig, got {type(cfg).__name__}")
    cfg.validate()  # fields may have been changed since it was built
    decoder_cls = decoder_cls or Seq2SeqDecoder
    if not (isinstance(decoder_cls, type) and issubclass(decoder_cls, Decoder)):
        raise TypeError(f"decoder_cls must be a subclass of d2lt.seq2seq.Decoder, got {decoder_cls!r}")
    return EncoderDecoder(
        Seq2SeqEncoder(cfg.src_vocab, cfg.embed_size, cfg.num_hiddens, cfg.num_layers, cfg.dropout),
        decoder_cls(cfg.tgt_vocab, cfg.embed_size, cfg.num_hiddens, cfg.num_layers, cfg.dropout))


def sequence_loss(logits, Y, pad_id: int):
    """Cross-entropy averaged over real target tokens only (padding contributes nothing).

    ``logits`` (B, T, V) floats, ``Y`` (B, T) integer ids with ``pad_id`` at padding; every
    other id must lie in ``[0, V)`` and at least one must be present (one min/max per call).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor (B, T, V), got {check.describe(logits)}")
    if not isinstance(Y, torch.Tensor):
        raise TypeError(f"Y must be an integer tensor (B, T) of target ids, got {check.describe(Y)}")
    if logits.dim() != 3 or Y.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (B, T, V) and targets (B, T) with matching B, T; "
                         f"got {tuple(logits.shape)} and {tuple(Y.shape)}")
    if Y.dtype not in _ID_DTYPES + (torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"Y must be an integer tensor (B, T) of target ids, got {check.describe(Y)}")
    pad_id = check.integer(pad_id, "pad_id", low=-2**63)
    V = logits.shape[-1]
    real = Y != pad_id
    kept = torch.where(real, Y, torch.zeros((), dtype=Y.dtype, device=Y.device))
    if Y.numel():
        lo, hi, n = torch.stack([kept.min().long(), kept.max().long(), real.sum()]).tolist()
    else:
        lo = hi = n = 0
    if n == 0:
        raise ValueError(f"Y holds no real target token (every entry is pad_id={pad_id}, or Y is empty: "
                         f"shape {tuple(Y.shape)}): the mean loss over no tokens is undefined")
    if lo < 0 or hi >= V:
        raise ValueError(f"target ids must lie in [0, {V - 1}] (the logits have V={V} classes) or equal "
                         f"pad_id={pad_id}, got min {lo}, max {hi}")
    return F.cross_entropy(logits.reshape(-1, V).float(), Y.reshape(-1).long(), ignore_index=pad_id)


# --------------------------------------------------------------------------- data

@dataclass
class PairTensors:
    """A translation set as tensors: source ids/lengths, decoder input, target, pad id."""

    src: torch.Tensor          # (N, Ts) source ids, <eos> at the end
    src_len: torch.Tensor      # (N,)
    dec_in: torch.Tensor       # (N, Tt) <bos> y_1 ... y_{n}
    tgt: torch.Tensor          # (N, Tt) y_1 ... y_n <eos>
    tgt_len: torch.Tensor      # (N,)

    def __post_init__(self):
        for name in ("src", "src_len", "dec_in", "tgt", "tgt_len"):
            t = getattr(self, name)
            if not isinstance(t, torch.Tensor) or t.dtype not in _ID_DTYPES:
                raise TypeError(f"PairTensors.{name} must be an int64/int32 tensor, got {check.describe(t)}")
        N = self.src.shape[0]
        want = {"src": 2, "src_len": 1, "dec_in": 2, "tgt": 2, "tgt_len": 1}
        for name, dims in want.items():
            t = getattr(self, name)
            if t.dim() != dims or t.shape[0] != N:
                raise ValueError(f"PairTensors.{name} must have {dims} dimension(s) and {N} rows (as src "
                                 f"{tuple(self.src.shape)}), got {tuple(t.shape)}")
        if self.dec_in.shape != self.tgt.shape:
            raise ValueError(f"PairTensors.dec_in and tgt must have one shape, got {tuple(self.dec_in.shape)} "
                             f"and {tuple(self.tgt.shape)}")

    def __len__(self):
        return self.src.shape[0]

    def loader(self, batch_size, shuffle=True, seed=0):
        """Batches ``(src, src_len, dec_in, tgt)`` of ``batch_size`` rows (reshuffled each epoch)."""
        batch_size = check.integer(batch_size, "batch_size", low=1)
        shuffle = check.boolean(shuffle, "shuffle")
        seed = check.integer(seed, "seed", low=0, high=2**63 - 1)
        ds = torch.utils.data.TensorDataset(self.src, self.src_len, self.dec_in, self.tgt)
        g = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=g)


def pair_tensors(pairs, src_vocab: Vocab, tgt_vocab: Vocab, src_steps: int, tgt_steps: int) -> PairTensors:
    """Tokenise (source, target) string pairs and pad them into a :class:`PairTensors`.

    ``pairs`` is a non-empty list of ``(source, target, ...)`` whose first two items are strings.
    """
    _check_pairs(pairs)
    _check_vocab(src_vocab, "src_vocab")
    _check_vocab(tgt_vocab, "tgt_vocab")
    src_steps = check.integer(src_steps, "src_steps", low=1)
    tgt_steps = check.integer(tgt_steps, "tgt_steps", low=1)
    src_toks = [tokenize(p[0]) for p in pairs]
    tgt_toks = [tokenize(p[1]) for p in pairs]
    src, src_len = encode(src_toks, src_vocab, src_steps, bos=False, eos=True)
    full, full_len = encode(tgt_toks, tgt_vocab, tgt_steps + 1, bos=True, eos=True)
    dec_in, tgt = full[:, :-1].clone(), full[:, 1:].clone()
    dec_in[dec_in == tgt_vocab.eos] = tgt_vocab.pad  # the decoder never reads <eos> as input
    return PairTensors(src, src_len, dec_in, tgt, (full_len - 1).clamp(min=1))


def seq2seq_step(model, batch, pad_id):
    """Teacher forcing: feed the true previous token, score every next token. Returns the loss.

    ``batch`` is ``(src, src_len, dec_in, tgt)``, as :meth:`PairTensors.loader` yields it.
    """
    if not (isinstance(batch, (tuple, list)) and len(batch) == 4):
        raise TypeError(f"batch must be (src, src_len, dec_in, tgt) from PairTensors.loader, "
                        f"got {check.describe(batch)}")
    src, src_len, dec_in, tgt = batch
    return sequence_loss(model(src, dec_in, src_len), tgt, pad_id)


# --------------------------------------------------------------------------- decoding

@torch.no_grad()
def greedy_decode(model: EncoderDecoder, src, src_len, bos: int, eos: int, max_steps: int,
                  save_attention: bool = False):
    """Greedy decoding of a batch: at each step take the most likely token.

    Returns ``(ids (B, <=max_steps), attention)``, where ``attention`` is a list of
    ``(B, Ts)`` weights per step if the decoder keeps ``attention_weights`` and
    ``save_attention`` is set, else ``None``. Sequences stop at ``<eos>``.
    ``bos`` and ``eos`` are ids of the target vocabulary (below the decoder's vocabulary size).
    """
    _check_model(model)
    _check_ids(src, "src")
    V = _vocab_size(model.decoder)
    top = None if V is None else V - 1
    bos, eos = check.integer(bos, "bos", low=0, high=top), check.integer(eos, "eos", low=0, high=top)
    if not check.is_int(max_steps) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    check.boolean(save_attention, "save_attention")
    was_training = model.training
    model.eval()
    try:
        enc_all = model.encoder(src, src_len)
        state = model.decoder.init_state(enc_all, src_len)
        y = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        out, attn = [], []
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_steps):
            logits, state = model.decoder(y, state)
            y = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            out.append(y)
            weights = getattr(model.decoder, "attention_weights", None) if save_attention else None
            if weights is not None:
                if not isinstance(weights, (list, tuple)):
                    raise TypeError("save_attention needs decoder.attention_weights to be a list with one "
                                    f"(B, 1, Ts) tensor per step, got {type(weights).__name__}")
                attn.append(weights[-1].detach().reshape(src.shape[0], -1).cpu())  # (B, Ts)
            done |= y.squeeze(1) == eos
            if bool(done.all()):
                break
    finally:
        model.train(was_training)
    return torch.cat(out, dim=1), (attn if save_attention and attn else None)


def _check_sentences(sentences):
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of strings, got a single str (wrap it: [sentence])")
    if not isinstance(sentences, Sequence):
        raise TypeError(f"sentences must be a list of strings, got {check.describe(sentences)}")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"sentences[{i}] must be a str, got {check.describe(s)}")


def translate(model, sentences, src_vocab: Vocab, tgt_vocab: Vocab, src_steps: int, max_steps: int,
              device=None, batch_size: int = 256):
    """Translate a list of strings greedily; returns a list of space-joined token strings.

    ``device`` (None: the model's) may be a str or a torch.device; an empty list gives ``[]``.
    """
    _check_model(model)
    _check_sentences(sentences)
    _check_vocab(src_vocab, "src_vocab")
    _check_vocab(tgt_vocab, "tgt_vocab")
    _check_vocab_fits(model, src_vocab, tgt_vocab)
    src_steps = check.integer(src_steps, "src_steps", low=1)
    max_steps = check.integer(max_steps, "max_steps", low=1)
    batch_size = check.integer(batch_size, "batch_size", low=1)
    device = check.device(device) or _model_device(model)
    results = []
    for i in range(0, len(sentences), batch_size):
        chunk = sentences[i:i + batch_size]
        src, src_len = encode([tokenize(s) for s in chunk], src_vocab, src_steps, eos=True)
        ids, _ = greedy_decode(model, src.to(device), src_len.to(device), tgt_vocab.bos, tgt_vocab.eos,
                               max_steps)
        results += [" ".join(decode(row, tgt_vocab)) for row in ids.cpu()]
    return results


def _check_edges(edges):
    if (not isinstance(edges, (list, tuple)) or len(edges) < 2
            or any(not check.is_int(e) for e in edges) or list(edges) != sorted(set(edges))):
        raise ValueError(f"edges must be at least two increasing ints, got {edges!r}")


def length_buckets(lengths, edges):
    """Index of the bucket ``[edges[i], edges[i+1])`` for every length (``-1`` if outside).

    ``lengths`` is a list (or 1-D integer tensor) of non-negative ints.
    """
    _check_edges(edges)
    if isinstance(lengths, torch.Tensor):
        if lengths.dim() != 1 or lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must be a list or a 1-D integer tensor of ints, got {check.describe(lengths)}")
        lengths = lengths.tolist()
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence):
        raise TypeError(f"lengths must be a list of ints, got {check.describe(lengths)}")
    for i, n in enumerate(lengths):
        if not check.is_int(n):
            raise TypeError(f"lengths[{i}] must be an int (a length in tokens), got {check.describe(n)}")
        if n < 0:
            raise ValueError(f"lengths[{i}] must be >= 0 (a length in tokens), got {n}")
    out = []
    for n in lengths:
        k = -1
        for i in range(len(edges) - 1):
            if edges[i] <= n < edges[i + 1]:
                k = i
        out.append(k)
    return out


def bleu_by_length(model, pairs, src_vocab, tgt_vocab, src_steps, max_steps, edges, device=None):
    """Corpus BLEU (0-100) of greedy translations in each source-length bucket.

    Returns a list of dicts ``{"bucket": (lo, hi), "n": count, "bleu": score, "exact": share}``,
    one per bucket ``[edges[i], edges[i+1])`` of source lengths in tokens; an empty bucket has
    ``n = 0`` and NaN scores, and sentences outside every bucket are not counted.
    """
    from .metrics import corpus_bleu

    _check_pairs(pairs)
    _check_edges(edges)  # before translating: a bad argument should not cost a whole decoding pass
    hyps = translate(model, [p[0] for p in pairs], src_vocab, tgt_vocab, src_steps, max_steps, device)
    refs = [" ".join(tokenize(p[1])) for p in pairs]
    which = length_buckets([len(tokenize(p[0])) for p in pairs], edges)
    rows = []
    for i in range(len(edges) - 1):
        idx = [j for j, k in enumerate(which) if k == i]
        if not idx:
            rows.append({"bucket": (edges[i], edges[i + 1]), "n": 0, "bleu": float("nan"), "exact": float("nan")})
            continue
        h, r = [hyps[j] for j in idx], [refs[j] for j in idx]
        rows.append({"bucket": (edges[i], edges[i + 1]), "n": len(idx), "bleu": corpus_bleu(h, r),
                     "exact": sum(a == b for a, b in zip(h, r)) / len(idx)})
    return rows


def length_drop(rows, min_count: int = 20):
    """How much quality falls with length: ``(BLEU drop, exact-match drop)``.

    Compares the shortest and the longest bucket among the rows of
    :func:`bleu_by_length` that hold at least ``min_count`` sentences (smaller
    buckets are too noisy to compare).
    """
    if not isinstance(rows, list) or not all(isinstance(r, dict) and {"bleu", "exact", "n"} <= set(r)
                                             for r in rows):
        raise TypeError(f"rows must be the list of dicts returned by bleu_by_length, got {type(rows).__name__}")
    min_count = check.integer(min_count, "min_count", low=1)
    counted = [r for r in rows if r["n"] >= min_count]
    if len(counted) < 2:
        raise ValueError(f"need at least two buckets with {min_count} or more sentences, "
                         f"got sizes {[r['n'] for r in rows]}")
    short, long = counted[0], counted[-1]
    return short["bleu"] - long["bleu"], short["exact"] - long["exact"]
