"""Decoding a trained encoder-decoder: greedy (with or without a key-value cache) and beam search.

Shapes: B = batch, S = source steps, L = decoded steps, k = beam size, V = vocabulary.

*Greedy* takes the most likely token at every step. With the key-value cache
(``use_cache=True``) each step feeds only the newest token and the decoder
reuses the keys and values it stored for the earlier ones; without it, every
step runs the decoder over the whole prefix again (what a decoder without a
cache must do), so step t costs t times as much. Both give the same tokens.

*Beam search* keeps the ``k`` best partial translations by log-probability.
Finished hypotheses (ending in ``<eos>``) are ranked by the length-normalised
score of Wu et al. (2016, GNMT)::

    score(Y) = log p(Y | X) / lp(Y),   lp(Y) = ((5 + |Y|) / 6) ** alpha,

which stops the search from preferring short outputs just because every
extra token lowers the log-probability (``alpha = 0``: no normalisation).
With ``beam_size = 1`` it is exactly greedy decoding. A wider beam is not
guaranteed to beat greedy (the greedy prefix can drop out of the beam), so by
default the greedy hypothesis also competes for the final choice
(``keep_greedy=True``): the result then never scores below greedy.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from . import validate as check
from .seq2seq import EncoderDecoder, _check_ids, _check_lens

__all__ = ["greedy", "beam_search", "sequence_logprob", "length_penalty"]


def _check_model(model):
    if not isinstance(model, EncoderDecoder):
        raise TypeError(f"model must be a d2lt.seq2seq.EncoderDecoder, got {check.describe(model)}")


def _check_inputs(model, src, src_len, bos, eos, max_steps, pad):
    _check_model(model)
    _check_ids(src, "src")
    _check_lens(src_len, src.shape[0], src.shape[1], "src_len")
    V = getattr(model.decoder, "vocab_size", None) or model.decoder.embedding.num_embeddings
    for name, value in (("bos", bos), ("eos", eos), ("pad", pad)):
        check.integer(value, name, 0, V - 1, what=f"a token id in [0, {V})")
    return check.integer(max_steps, "max_steps", 1)


def length_penalty(length, alpha: float) -> float:
    """GNMT's length normaliser ``((5 + length) / 6) ** alpha`` (1 when ``alpha = 0``)."""
    check.integer(length, "length", 0)
    alpha = check.number(alpha, "alpha", 0)
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def greedy(model, src, src_len, bos: int, eos: int, max_steps: int, use_cache: bool = True, pad: int = 0):
    """Greedy decoding of a batch. Returns ``(ids (B, L), logprob (B,))``.

    ``ids`` holds each row's tokens up to and including ``<eos>``, then ``pad``;
    ``L <= max_steps`` (decoding stops once every row has ended). ``logprob`` is
    the model's log-probability of each row's tokens. ``use_cache=False`` feeds
    the whole prefix at every step instead of only the new token.
    """
    max_steps = _check_inputs(model, src, src_len, bos, eos, max_steps, pad)
    check.boolean(use_cache, "use_cache")
    was_training = model.training
    model.eval()
    B = src.shape[0]
    enc_all = model.encoder(src, src_len)
    state = model.decoder.init_state(enc_all, src_len)
    prefix = torch.full((B, 1), bos, dtype=torch.long, device=src.device)
    logprob = torch.zeros(B, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for _ in range(max_steps):
        if use_cache:
            logits, state = model.decoder(prefix[:, -1:], state)
        else:
            logits, _ = model.decoder(prefix, model.decoder.init_state(enc_all, src_len))
        logp = F.log_softmax(logits[:, -1].float(), -1)  # (B, V)
        y = logp.argmax(-1)  # (B,)
        logprob += torch.where(done, 0.0, logp.gather(1, y[:, None]).squeeze(1))
        y = torch.where(done, torch.full_like(y, pad), y)
        prefix = torch.cat([prefix, y[:, None]], 1)
        done |= y == eos
        if bool(done.all()):
            break
    model.train(was_training)
    return prefix[:, 1:], logprob


@torch.no_grad()
def sequence_logprob(model, src, src_len, ids, bos: int, eos: int, pad: int = 0):
    """The model's log-probability ``log p(ids | src)`` of each row, by teacher forcing.

    ``ids (B, L)`` are decoded tokens as :func:`greedy` returns them: each row
    up to and including its ``<eos>`` (if any), then ``pad``.
    """
    _check_inputs(model, src, src_len, bos, eos, 1, pad)
    _check_ids(ids, "ids")
    if ids.shape[0] != src.shape[0]:
        raise ValueError(f"ids must have one row per source, got {ids.shape[0]} rows for {src.shape[0]}")
    was_training = model.training
    model.eval()
    dec_in = torch.cat([torch.full_like(ids[:, :1], bos), ids[:, :-1]], 1)  # (B, L)
    logp = F.log_softmax(model(src, dec_in, src_len).float(), -1).gather(2, ids[..., None]).squeeze(-1)
    ended = torch.cumsum((ids == eos).long(), 1)  # positions after the first <eos> are > 0 here
    real = (ended - (ids == eos).long()) == 0  # (B, L): up to and including the first <eos>
    model.train(was_training)
    return (logp * real).sum(1)


def _reorder(state, idx):
    """Pick rows ``idx`` (on the batch axis 0) of every tensor in a Transformer decoder state."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, idx)
    if isinstance(state, list):
        return [_reorder(s, idx) for s in state]
    if isinstance(state, tuple):
        return tuple(_reorder(s, idx) for s in state)
    if isinstance(state, dict):
        return {k: _reorder(v, idx) for k, v in state.items()}
    return state  # None


@torch.no_grad()
def beam_search(model, src, src_len, bos: int, eos: int, max_steps: int, beam_size: int = 4,
                alpha: float = 0.6, keep_greedy: bool = True, pad: int = 0):
    """Beam search with length normalisation, one source at a time with a batch of ``k`` beams.

    Returns ``(ids (B, L), logprob (B,), score (B,))``: the best hypothesis per
    source (tokens up to and including ``<eos>``, then ``pad``), its
    log-probability and its normalised score ``logprob / lp(length)``.

    At each step the ``k`` best extensions of the live hypotheses are kept;
    those that end in ``<eos>`` leave the beam as finished. The search stops
    when no live hypothesis can still beat the best finished one, or after
    ``max_steps``. The decoder must keep a key-value cache indexed by batch row
    (the Transformer decoder does): the cache is reordered as beams are chosen.
    """
    from .transformer import TransformerDecoder

    max_steps = _check_inputs(model, src, src_len, bos, eos, max_steps, pad)
    beam_size = check.integer(beam_size, "beam_size", 1)
    length_penalty(0, alpha)  # checks alpha
    check.boolean(keep_greedy, "keep_greedy")
    if not isinstance(model.decoder, TransformerDecoder):
        raise TypeError(f"beam_search needs a d2lt.transformer.TransformerDecoder (its cache is "
                        f"reordered by batch row), got {type(model.decoder).__name__}")
    was_training = model.training
    model.eval()
    results = []
    for b in range(src.shape[0]):
        x = src[b:b + 1]
        xl = None if src_len is None else src_len[b:b + 1]
        results.append(_beam_one(model, x, xl, bos, eos, max_steps, beam_size, float(alpha)))
    if keep_greedy and beam_size > 1:
        g_ids, g_logp = greedy(model, src, src_len, bos, eos, max_steps, pad=pad)
        for b, (toks, logp, score) in enumerate(results):
            g = g_ids[b].tolist()  # a row without <eos> ran all max_steps: every token is real
            g = g[:g.index(eos) + 1] if eos in g else g
            g_score = float(g_logp[b]) / length_penalty(len(g), alpha)
            if g_score > score:
                results[b] = (g, float(g_logp[b]), g_score)
    model.train(was_training)
    L = max(1, max(len(r[0]) for r in results))
    ids = torch.full((len(results), L), pad, dtype=torch.long, device=src.device)
    for b, (toks, _, _) in enumerate(results):
        ids[b, :len(toks)] = torch.tensor(toks, dtype=torch.long, device=src.device)
    return (ids, torch.tensor([r[1] for r in results], device=src.device),
            torch.tensor([r[2] for r in results], device=src.device))


def _beam_one(model, x, xl, bos, eos, max_steps, k, alpha):
    enc = model.encoder(x, xl)  # (1, S, D)
    state = model.decoder.init_state(enc, xl)
    alive = [[]]  # token lists of the live hypotheses
    alive_logp = torch.zeros(1, device=x.device)
    last = torch.full((1, 1), bos, dtype=torch.long, device=x.device)
    finished = []  # (tokens, logprob, score)
    for t in range(max_steps):
        logits, state = model.decoder(last, state)
        cand = alive_logp[:, None] + F.log_softmax(logits[:, -1].float(), -1)  # (n, V)
        V = cand.shape[1]
        top, flat = cand.reshape(-1).topk(min(k, cand.numel()))  # the k best extensions
        keep_rows, keep_toks, keep_logp = [], [], []
        for lp_, f in zip(top.tolist(), flat.tolist()):
            row, tok = divmod(f, V)
            toks = alive[row] + [tok]
            if tok == eos:
                finished.append((toks, lp_, lp_ / length_penalty(len(toks), alpha)))
            else:
                keep_rows.append(row)
                keep_toks.append(tok)
                keep_logp.append(lp_)
        if not keep_rows:  # every extension ended: nothing is left alive
            alive = []
            break
        alive = [alive[r] + [tok] for r, tok in zip(keep_rows, keep_toks)]
        alive_logp = torch.tensor(keep_logp, device=x.device)
        if finished:
            best = max(s for _, _, s in finished)
            # a live hypothesis only loses log-probability; its best possible score is
            # its log-probability now over the largest normaliser it can still reach
            bound = float(alive_logp.max()) / length_penalty(max_steps, alpha)
            if best >= bound:
                alive = []
                break
        idx = torch.tensor(keep_rows, device=x.device)
        state = [enc.expand(len(keep_rows), -1, -1), None if xl is None else xl.expand(len(keep_rows)),
                 _reorder(state[2], idx)]
        last = torch.tensor(keep_toks, device=x.device)[:, None]
    candidates = finished + [(toks, float(lp_), float(lp_) / length_penalty(len(toks), alpha))
                             for toks, lp_ in zip(alive, alive_logp.tolist())]
    return max(candidates, key=lambda c: c[2])
