"""Checks for the chapter-2 exercises (attention meets the RNN).

Every check builds its own test material, computes the right answer with its
own code and compares; a failure says what is wrong without printing the
answer.
"""
import functools

import torch
from torch import nn

from . import expect, not_none, passed
from .. import attention, bahdanau


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


def _sizes(**sizes):
    """Every size is a positive int (bools refused)."""
    for name, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name} must be a positive int, got {type(v).__name__} {v!r}")
        if v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


# ------------------------------------------------------------------ task 1: a Luong-style decoder

class LuongParts(nn.Module):
    """The parts of a Luong-style attention decoder (no forward: the exercise writes it).

    ``embedding`` (V -> E), ``rnn`` (a GRU reading the embeddings only), ``W_a``
    (H -> H, no bias) for the "general" score ``s_t . W_a h_j``, ``W_c``
    (2H -> H) for the attentional state ``tanh(W_c [c_t; s_t])`` and ``dense``
    (H -> V).
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, batch_first=True)
        self.W_a = nn.Linear(num_hiddens, num_hiddens, bias=False)
        self.W_c = nn.Linear(2 * num_hiddens, num_hiddens)
        self.dense = nn.Linear(num_hiddens, vocab_size)


def luong_parts(vocab_size=17, embed_size=6, num_hiddens=8, num_layers=1, seed=0) -> LuongParts:
    """Seeded :class:`LuongParts` for the exercise."""
    _sizes(vocab_size=vocab_size, embed_size=embed_size, num_hiddens=num_hiddens, num_layers=num_layers)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    torch.manual_seed(seed)
    return LuongParts(vocab_size, embed_size, num_hiddens, num_layers).eval()


@torch.no_grad()
def _luong_step_by_step(dec, enc_outputs, enc_valid_lens, enc_state, dec_in):
    """The reference: one GRU step at a time, then attention with s_t as the query."""
    mask = attention.padding_mask(enc_valid_lens, 1, enc_outputs.shape[1])  # (B, 1, Ts)
    keys = dec.W_a(enc_outputs)                                              # (B, Ts, H)
    hidden, logits, weights = enc_state, [], []
    for t in range(dec_in.shape[1]):
        out, hidden = dec.rnn(dec.embedding(dec_in[:, t:t + 1]), hidden)     # (B, 1, H)
        scores = out @ keys.transpose(1, 2)                                  # (B, 1, Ts)
        w = attention.softmax_with_mask(scores, mask)
        context = w @ enc_outputs                                            # (B, 1, H)
        logits.append(dec.dense(torch.tanh(dec.W_c(torch.cat([context, out], -1)))))
        weights.append(w)
    return torch.cat(logits, 1), torch.cat(weights, 1)


def task1(luong_forward):
    """``luong_forward(dec, enc_outputs (B,Ts,H), enc_valid_lens (B,), enc_state (L,B,H), dec_in (B,T))``
    ``-> (logits (B,T,V), weights (B,T,Ts))``, with the GRU called once for all T steps."""
    not_none(luong_forward, "task 1")
    for trial, (B, Ts, T, L) in enumerate(((3, 6, 5, 1), (4, 9, 7, 2), (2, 4, 11, 1))):
        V, E, H = 17, 6, 8
        dec = luong_parts(V, E, H, L, seed=50 + trial)
        g = torch.Generator().manual_seed(60 + trial)
        enc = torch.randn(B, Ts, H, generator=g)
        lens = torch.randint(1, Ts + 1, (B,), generator=g)
        lens[0] = Ts
        lens[-1] = max(1, Ts // 3)
        enc[torch.arange(Ts)[None] >= lens[:, None]] = 0.0                    # zeros at padding, as the encoder
        state = torch.randn(L, B, H, generator=g)
        dec_in = torch.randint(4, V, (B, T), generator=g)
        calls = []
        hook = dec.rnn.register_forward_hook(lambda m, inp, out: calls.append(inp[0].shape[1]))
        try:
            with torch.no_grad():
                got = luong_forward(dec, enc.clone(), lens.clone(), state.clone(), dec_in.clone())
        finally:
            hook.remove()
        expect(isinstance(got, tuple) and len(got) == 2,
               f"expected a tuple (logits, weights), got {type(got).__name__}")
        logits, weights = got
        expect(torch.is_tensor(logits) and tuple(logits.shape) == (B, T, V),
               f"logits: expected shape {(B, T, V)}, got {_shape(logits)}")
        expect(torch.is_tensor(weights) and tuple(weights.shape) == (B, T, Ts),
               f"weights: expected shape {(B, T, Ts)}, got {_shape(weights)}")
        expect(calls == [T], f"the GRU must run once over all {T} steps; it was called {len(calls)} time(s) "
                             f"with sequences of length {calls}")
        pad = torch.arange(Ts)[None, None] >= lens[:, None, None]
        expect(bool((weights.masked_select(pad) == 0).all()), "padding positions must get weight exactly 0")
        expect(torch.allclose(weights.sum(-1), torch.ones(B, T), atol=1e-5), "each row of weights must sum to 1")
        want_logits, want_weights = _luong_step_by_step(dec, enc, lens, state, dec_in)
        expect(torch.allclose(weights, want_weights, atol=1e-5),
               "the weights are wrong: the query at step t is the GRU's output s_t (after reading y_{t-1}), "
               "scored against W_a h_j by a dot product")
        expect(torch.allclose(logits, want_logits, atol=1e-5),
               "the logits are wrong: apply dense to tanh(W_c [c_t; s_t]) (context first)")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: a bidirectional encoder

def bi_parts(vocab_size=15, embed_size=5, num_hiddens=6, seed=0):
    """Seeded ``(embedding, forward GRU, backward GRU)`` for the exercise (one layer each, batch-first)."""
    _sizes(vocab_size=vocab_size, embed_size=embed_size, num_hiddens=num_hiddens)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    torch.manual_seed(seed)
    return (nn.Embedding(vocab_size, embed_size), nn.GRU(embed_size, num_hiddens, batch_first=True),
            nn.GRU(embed_size, num_hiddens, batch_first=True))


def task2(bi_encode):
    """``bi_encode(emb, fwd, bwd, X (B,Ts), valid_lens (B,)) -> (outputs (B,Ts,2H), final (B,2H))``.

    ``outputs[b, j] = [forward state after x_1..x_j ; backward state after x_n..x_j]``
    for the real positions ``j < n = valid_lens[b]`` and 0 at padding;
    ``final[b] = [forward state after x_n ; backward state after x_1]``.
    """
    not_none(bi_encode, "task 2")
    for trial, (B, Ts) in enumerate(((4, 7), (5, 10))):
        emb, fwd, bwd = bi_parts(seed=70 + trial)
        H = fwd.hidden_size
        g = torch.Generator().manual_seed(80 + trial)
        X = torch.randint(4, 15, (B, Ts), generator=g)
        lens = torch.randint(1, Ts, (B,), generator=g)
        lens[0] = Ts
        X[torch.arange(Ts)[None] >= lens[:, None]] = 0                        # pad id 0
        with torch.no_grad():
            got = bi_encode(emb, fwd, bwd, X.clone(), lens.clone())
        expect(isinstance(got, tuple) and len(got) == 2,
               f"expected a tuple (outputs, final), got {type(got).__name__}")
        outputs, final = got
        expect(torch.is_tensor(outputs) and tuple(outputs.shape) == (B, Ts, 2 * H),
               f"outputs: expected shape {(B, Ts, 2 * H)}, got {_shape(outputs)}")
        expect(torch.is_tensor(final) and tuple(final.shape) == (B, 2 * H),
               f"final: expected shape {(B, 2 * H)}, got {_shape(final)}")
        with torch.no_grad():
            for b in range(B):
                n = int(lens[b])
                e = emb(X[b:b + 1, :n])                                         # (1, n, E): this sentence alone
                f_out, f_last = fwd(e)
                b_out, b_last = bwd(e.flip(1))
                want = torch.cat([f_out[0], b_out[0].flip(0)], dim=-1)         # (n, 2H)
                expect(torch.allclose(outputs[b, :n, :H], want[:, :H], atol=1e-5),
                       f"sentence {b + 1} (length {n}): the forward half of the outputs is wrong")
                expect(torch.allclose(outputs[b, :n, H:], want[:, H:], atol=1e-5),
                       f"sentence {b + 1} (length {n}): the backward half of the outputs is wrong; the "
                       "backward GRU must start at the sentence's own last token, not at the padding")
                expect(bool((outputs[b, n:] == 0).all()), f"sentence {b + 1}: outputs at padding must be 0")
                expect(torch.allclose(final[b], torch.cat([f_last[0, 0], b_last[0, 0]]), atol=1e-5),
                       f"sentence {b + 1}: final must be [forward state after the last real token; "
                       "backward state after the first token]")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: the attention's arithmetic

@functools.lru_cache(maxsize=8)
def _flops_decoder(H):
    torch.manual_seed(0)
    return bahdanau.Seq2SeqAttentionDecoder(11, 4, H, 1).eval()


def measured_attention_flops(B, T, Ts, H, keys_once: bool) -> int:
    """FLOPs (``torch.utils.flop_counter``: 2 per multiply-add) of the attention in T decoder steps."""
    from torch.utils.flop_counter import FlopCounterMode

    _sizes(B=B, T=T, Ts=Ts, H=H)
    if not isinstance(keys_once, bool):
        raise TypeError(f"keys_once must be True or False, got {type(keys_once).__name__} {keys_once!r}")
    dec = _flops_decoder(H)
    enc = torch.randn(B, Ts, H)
    hidden = torch.randn(1, B, H)
    lens = torch.full((B,), Ts)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        if keys_once:
            state = dec.init_state((enc, hidden), lens)     # W_k h_j, once
            for _ in range(T):
                dec.attend(hidden[-1], state)
        else:
            for _ in range(T):
                dec.attention(hidden[-1][:, None], enc, enc, lens)
    return int(counter.get_total_flops())


def task3(attention_flops):
    """``attention_flops(B, T, Ts, H, keys_once) -> int``: the FLOPs of the decoder's attention, derived.

    Counted as ``torch.utils.flop_counter`` counts them: 2 FLOPs per
    multiply-add of the matrix products (the W_q, W_k and w_v layers and the
    weighted sum), nothing for tanh, softmax or bias additions; for T decoder
    steps, with the keys projected at every step (``keys_once=False``) or once.
    """
    not_none(attention_flops, "task 3")
    for B, T, Ts, H in ((1, 1, 2, 4), (3, 5, 7, 16), (2, 4, 9, 6), (5, 3, 3, 12), (1, 6, 11, 8)):
        for keys_once in (False, True):
            got = attention_flops(B, T, Ts, H, keys_once)
            expect(isinstance(got, int) and not isinstance(got, bool),
                   f"expected an int, got {type(got).__name__}")
            want = measured_attention_flops(B, T, Ts, H, keys_once)
            if got != want:
                how = "too high" if got > want else "too low"
                expect(False, f"B={B}, T={T}, Ts={Ts}, H={H}, keys_once={keys_once}: your count is {how}. "
                              "List every matrix product of one step with its shape, and say which of "
                              "them depend on the step")
    return passed("task 3")
