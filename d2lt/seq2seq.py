"""The RNN encoder-decoder (chapter 1) and the pieces every seq2seq model shares.

Shapes use B = batch, T = time steps, H = hidden width, V = vocabulary size.
Tensors are batch-first throughout: token ids ``(B, T)``, logits ``(B, T, V)``.

The encoder squeezes a whole source sentence into its final hidden state
``c = h_T``; the decoder sees ``c`` at every step (concatenated with the
previous target token's embedding) and nothing else of the source:

    h_t = GRU(h_{t-1}, x_t),   c = h_T,   s_t = GRU(s_{t-1}, [e(y_{t-1}); c]),
    p(y_t | y_<t, x) = softmax(W s_t + b).
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import torch
from torch import nn
from torch.nn import functional as F

from .text import Vocab, decode, encode, tokenize


def _check_ids(X, name="X"):
    if not isinstance(X, torch.Tensor) or X.dim() != 2 or X.dtype not in (torch.long, torch.int32, torch.int64):
        got = f"{tuple(X.shape)} {X.dtype}" if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"{name} must be an integer tensor of shape (batch, steps), got {got}")


def _check_lens(valid_lens, batch, steps, name="valid_lens"):
    if valid_lens is None:
        return
    if not isinstance(valid_lens, torch.Tensor) or valid_lens.shape != (batch,):
        got = tuple(valid_lens.shape) if isinstance(valid_lens, torch.Tensor) else type(valid_lens).__name__
        raise ValueError(f"{name} must be a tensor of shape ({batch},), got {got}")
    if batch and (valid_lens.min() < 1 or valid_lens.max() > steps):
        raise ValueError(f"{name} must lie in [1, {steps}], got min {int(valid_lens.min())}, "
                         f"max {int(valid_lens.max())}")


def init_seq2seq(module):
    """Xavier-uniform initialisation of linear and GRU weights (as ``d2l.init_seq2seq``)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    if isinstance(module, nn.GRU):
        for name, p in module.named_parameters():
            if "weight" in name:
                nn.init.xavier_uniform_(p)


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
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout, batch_first=True)
        self.apply(init_seq2seq)

    def forward(self, X, valid_lens=None):
        _check_ids(X)
        _check_lens(valid_lens, X.shape[0], X.shape[1])
        embs = self.embedding(X)  # (B, T, E)
        if valid_lens is None:
            return self.rnn(embs)  # (B, T, H), (L, B, H)
        packed = nn.utils.rnn.pack_padded_sequence(embs, valid_lens.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        outputs, state = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=X.shape[1])
        return outputs, state  # (B, T, H) with zeros at padding, (L, B, H)


class Seq2SeqDecoder(Decoder):
    """GRU decoder that sees the context ``c`` (the encoder's last top-layer state) at every step."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout,
                          batch_first=True)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.apply(init_seq2seq)

    def init_state(self, enc_all_outputs, enc_valid_lens=None):
        enc_outputs, hidden = enc_all_outputs
        return hidden[-1], hidden  # context (B, H), decoder state (L, B, H)

    def forward(self, X, state):
        _check_ids(X)
        context, hidden = state
        embs = self.embedding(X)  # (B, T, E)
        context_t = context.unsqueeze(1).expand(-1, X.shape[1], -1)  # (B, T, H)
        outputs, hidden = self.rnn(torch.cat([embs, context_t], dim=-1), hidden)
        return self.dense(outputs), (context, hidden)  # (B, T, V)


class EncoderDecoder(nn.Module):
    """Encoder + decoder: ``forward(enc_X, dec_X, enc_valid_lens) -> logits (B, T, V)``."""

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, enc_X, dec_X, enc_valid_lens=None):
        enc_all_outputs = self.encoder(enc_X, enc_valid_lens)
        state = self.decoder.init_state(enc_all_outputs, enc_valid_lens)
        return self.decoder(dec_X, state)[0]


@dataclass
class Seq2SeqConfig:
    src_vocab: int
    tgt_vocab: int
    embed_size: int = 64
    num_hiddens: int = 128
    num_layers: int = 1
    dropout: float = 0.0

    def to_dict(self):
        return asdict(self)


def rnn_seq2seq(cfg: Seq2SeqConfig, decoder_cls=None) -> EncoderDecoder:
    """The GRU encoder with ``decoder_cls`` (default: chapter 1's :class:`Seq2SeqDecoder`) from a config."""
    if not isinstance(cfg, Seq2SeqConfig):
        raise TypeError(f"cfg must be a d2lt.seq2seq.Seq2SeqConfig, got {type(cfg).__name__}")
    decoder_cls = decoder_cls or Seq2SeqDecoder
    if not (isinstance(decoder_cls, type) and issubclass(decoder_cls, Decoder)):
        raise TypeError(f"decoder_cls must be a subclass of d2lt.seq2seq.Decoder, got {decoder_cls!r}")
    return EncoderDecoder(
        Seq2SeqEncoder(cfg.src_vocab, cfg.embed_size, cfg.num_hiddens, cfg.num_layers, cfg.dropout),
        decoder_cls(cfg.tgt_vocab, cfg.embed_size, cfg.num_hiddens, cfg.num_layers, cfg.dropout))


def sequence_loss(logits, Y, pad_id: int):
    """Cross-entropy averaged over real target tokens only (padding contributes nothing).

    ``logits`` (B, T, V), ``Y`` (B, T) with ``pad_id`` at padding.
    """
    if logits.dim() != 3 or Y.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (B, T, V) and targets (B, T) with matching B, T; "
                         f"got {tuple(logits.shape)} and {tuple(Y.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), Y.reshape(-1), ignore_index=pad_id)


# --------------------------------------------------------------------------- data

@dataclass
class PairTensors:
    """A translation set as tensors: source ids/lengths, decoder input, target, pad id."""

    src: torch.Tensor          # (N, Ts) source ids, <eos> at the end
    src_len: torch.Tensor      # (N,)
    dec_in: torch.Tensor       # (N, Tt) <bos> y_1 ... y_{n}
    tgt: torch.Tensor          # (N, Tt) y_1 ... y_n <eos>
    tgt_len: torch.Tensor      # (N,)

    def __len__(self):
        return self.src.shape[0]

    def loader(self, batch_size, shuffle=True, seed=0):
        ds = torch.utils.data.TensorDataset(self.src, self.src_len, self.dec_in, self.tgt)
        g = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=g)


def pair_tensors(pairs, src_vocab: Vocab, tgt_vocab: Vocab, src_steps: int, tgt_steps: int) -> PairTensors:
    """Tokenise (source, target) string pairs and pad them into a :class:`PairTensors`."""
    if not pairs:
        raise ValueError("pairs is empty: expected a list of (source, target) strings")
    src_toks = [tokenize(p[0]) for p in pairs]
    tgt_toks = [tokenize(p[1]) for p in pairs]
    src, src_len = encode(src_toks, src_vocab, src_steps, bos=False, eos=True)
    full, full_len = encode(tgt_toks, tgt_vocab, tgt_steps + 1, bos=True, eos=True)
    dec_in, tgt = full[:, :-1].clone(), full[:, 1:].clone()
    dec_in[dec_in == tgt_vocab.eos] = tgt_vocab.pad  # the decoder never reads <eos> as input
    return PairTensors(src, src_len, dec_in, tgt, (full_len - 1).clamp(min=1))


def seq2seq_step(model, batch, pad_id):
    """Teacher forcing: feed the true previous token, score every next token. Returns the loss."""
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
    """
    _check_ids(src, "src")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    was_training = model.training
    model.eval()
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
    model.train(was_training)
    return torch.cat(out, dim=1), (attn if save_attention and attn else None)


def translate(model, sentences, src_vocab: Vocab, tgt_vocab: Vocab, src_steps: int, max_steps: int,
              device=None, batch_size: int = 256):
    """Translate a list of strings greedily; returns a list of space-joined token strings."""
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of strings, got a single str")
    device = device or next(model.parameters()).device
    results = []
    for i in range(0, len(sentences), batch_size):
        chunk = sentences[i:i + batch_size]
        src, src_len = encode([tokenize(s) for s in chunk], src_vocab, src_steps, eos=True)
        ids, _ = greedy_decode(model, src.to(device), src_len.to(device), tgt_vocab.bos, tgt_vocab.eos,
                               max_steps)
        results += [" ".join(decode(row, tgt_vocab)) for row in ids.cpu()]
    return results


def length_buckets(lengths, edges):
    """Index of the bucket ``[edges[i], edges[i+1])`` for every length (``-1`` if outside)."""
    if (not isinstance(edges, (list, tuple)) or len(edges) < 2
            or any(not isinstance(e, int) for e in edges) or list(edges) != sorted(set(edges))):
        raise ValueError(f"edges must be at least two increasing ints, got {edges!r}")
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

    Returns a list of dicts ``{"bucket": (lo, hi), "n": count, "bleu": score, "exact": share}``.
    """
    from .metrics import corpus_bleu

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
    counted = [r for r in rows if r["n"] >= min_count]
    if len(counted) < 2:
        raise ValueError(f"need at least two buckets with {min_count} or more sentences, "
                         f"got sizes {[r['n'] for r in rows]}")
    short, long = counted[0], counted[-1]
    return short["bleu"] - long["bleu"], short["exact"] - long["exact"]
