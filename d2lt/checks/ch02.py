"""Checks for the chapter-2 exercises (attention meets the RNN)."""
import math

import torch

from . import expect, not_none, passed
from .. import attention, bahdanau, seq2seq


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


def task1(additive_scores):
    """``additive_scores(queries (B,Q,dq), keys (B,K,dk), W_q (dq,h), W_k (dk,h), w_v (h,)) -> (B,Q,K)``."""
    not_none(additive_scores, "task 1")
    g = torch.Generator().manual_seed(21)
    for B, Q, K, dq, dk, h in ((2, 1, 5, 4, 3, 6), (3, 4, 7, 5, 5, 8)):
        q, k = torch.randn(B, Q, dq, generator=g), torch.randn(B, K, dk, generator=g)
        W_q, W_k, w_v = torch.randn(dq, h, generator=g), torch.randn(dk, h, generator=g), torch.randn(h, generator=g)
        got = additive_scores(q, k, W_q, W_k, w_v)
        expect(torch.is_tensor(got) and tuple(got.shape) == (B, Q, K),
               f"expected scores of shape {(B, Q, K)} (batch, queries, keys), got {_shape(got)}")
        layer = attention.AdditiveAttention(h, 0.0, query_size=dq, key_size=dk)
        with torch.no_grad():
            layer.W_q.weight.copy_(W_q.T)
            layer.W_k.weight.copy_(W_k.T)
            layer.w_v.weight.copy_(w_v[None])
        layer(q, k, torch.zeros(B, K, 1))
        want = torch.tanh((q @ W_q)[:, :, None] + (k @ W_k)[:, None]) @ w_v
        expect(torch.allclose(got, want, atol=1e-5),
               f"scores differ from w_v^T tanh(W_q q + W_k k): expected\n{want[0]}\ngot\n{got[0]}")
        expect(torch.allclose(torch.softmax(got, -1), layer.attention_weights, atol=1e-5),
               "the softmax of your scores differs from the weights of d2lt.attention.AdditiveAttention")
    return passed("task 1")


def task2(attend):
    """``attend(attn, query (B,H), projected_keys (B,Ts,H), values (B,Ts,H), valid_lens (B,))``
    ``-> (context (B,1,H), weights (B,1,Ts))``, with ``projected_keys = attn.W_k(keys)`` computed once."""
    not_none(attend, "task 2")
    torch.manual_seed(22)
    H, B, Ts = 8, 3, 6
    attn = attention.AdditiveAttention(H, 0.0, query_size=H, key_size=H).eval()
    calls = {"W_k": 0}
    hook = attn.W_k.register_forward_hook(lambda *a: calls.__setitem__("W_k", calls["W_k"] + 1))
    enc = torch.randn(B, Ts, H)
    lens = torch.tensor([6, 2, 4])
    projected = attn.W_k(enc)
    calls["W_k"] = 0
    query = torch.randn(B, H)
    got = attend(attn, query, projected, enc, lens)
    hook.remove()
    expect(isinstance(got, tuple) and len(got) == 2, f"expected a tuple (context, weights), got {type(got).__name__}")
    context, weights = got
    want = attn(query[:, None], enc, enc, lens)
    expect(torch.is_tensor(context) and tuple(context.shape) == (B, 1, H),
           f"context: expected shape {(B, 1, H)}, got {_shape(context)}")
    expect(torch.is_tensor(weights) and tuple(weights.shape) == (B, 1, Ts),
           f"weights: expected shape {(B, 1, Ts)}, got {_shape(weights)}")
    expect(calls["W_k"] == 0, f"your function called W_k {calls['W_k']} time(s): use the projected keys instead")
    expect(bool((weights[1, 0, 2:] == 0).all() and (weights[2, 0, 4:] == 0).all()),
           f"padding must get weight 0 (valid lengths {lens.tolist()}), got weights\n{weights[:, 0]}")
    expect(torch.allclose(weights, attn.attention_weights, atol=1e-6),
           f"weights differ from AdditiveAttention's: expected\n{attn.attention_weights[:, 0]}\ngot\n{weights[:, 0]}")
    expect(torch.allclose(context, want, atol=1e-6), "context differs from AdditiveAttention's output")
    return passed("task 2")


def task3(decoder_step):
    """``decoder_step(dec, y_prev (B,), enc_outputs (B,Ts,H), enc_valid_lens (B,), hidden (L,B,H))``
    ``-> (logits (B,V), hidden (L,B,H), weights (B,Ts))`` for a ``Seq2SeqAttentionDecoder``."""
    not_none(decoder_step, "task 3")
    torch.manual_seed(23)
    V, E, H, L, B, Ts = 17, 5, 8, 2, 3, 6
    dec = bahdanau.Seq2SeqAttentionDecoder(V, E, H, L).eval()
    enc, hidden = torch.randn(B, Ts, H), torch.randn(L, B, H)
    lens = torch.tensor([3, 6, 1])
    y = torch.randint(4, V, (B,))
    def refuse(*args, **kwargs):
        raise AssertionError("build the step from the decoder's parts (dec.attention, dec.embedding, "
                             "dec.rnn, dec.dense) instead of calling dec(...)")

    dec.forward = refuse
    try:
        with torch.no_grad():
            got = decoder_step(dec, y, enc, lens, hidden)
    finally:
        del dec.forward
    with torch.no_grad():
        want_logits, state = dec(y[:, None], dec.init_state((enc, hidden), lens))
    expect(isinstance(got, tuple) and len(got) == 3,
           f"expected a tuple (logits, hidden, weights), got {type(got).__name__}")
    logits, new_hidden, weights = got
    for name, x, shape in (("logits", logits, (B, V)), ("hidden", new_hidden, (L, B, H)),
                           ("weights", weights, (B, Ts))):
        expect(torch.is_tensor(x) and tuple(x.shape) == shape, f"{name}: expected shape {shape}, got {_shape(x)}")
    expect(torch.allclose(weights, dec.attention_weights[0][:, 0], atol=1e-5),
           "weights differ: the query is the previous state of the top layer, hidden[-1], and padding is masked")
    expect(torch.allclose(new_hidden, state.hidden, atol=1e-5),
           "new hidden state differs: the GRU reads torch.cat([context, embedding], -1) (context first)")
    expect(torch.allclose(logits, want_logits[:, 0], atol=1e-5), "logits differ: apply dec.dense to the GRU output")
    return passed("task 3")


def _drop(rows, name):
    try:
        drops = seq2seq.length_drop(rows)
    except (TypeError, ValueError) as e:
        raise AssertionError(f"{name}: {e}") from None
    expect(all(0 <= r["bleu"] <= 100 for r in rows if r["n"]), f"{name}: BLEU must lie in [0, 100], got {rows}")
    return drops


def task4(rows_plain, rows_attention):
    """The chapter's length experiment: both models' ``bleu_by_length`` rows; attention must fall less."""
    not_none(rows_plain, "task 4 (rows_plain)")
    not_none(rows_attention, "task 4 (rows_attention)")
    (pb, pe), (ab, ae) = _drop(rows_plain, "rows_plain"), _drop(rows_attention, "rows_attention")
    expect(pb > 10, f"the plain model should fall on long inputs (BLEU drop > 10); measured {pb:.1f}: "
                    "train it less, or on longer numbers")
    expect(rows_attention[0]["bleu"] > 50, f"the attention model is not trained (short-bucket BLEU "
                                           f"{rows_attention[0]['bleu']:.1f}): give it more steps")
    expect(ab < pb - 10, f"expected attention's drop to be at least 10 BLEU smaller than the plain model's; "
                         f"measured plain {pb:.1f}, attention {ab:.1f}")
    expect(not math.isnan(pe) and not math.isnan(ae), "exact-match shares are missing")
    print(f"drop from short to long: plain {pb:.1f} BLEU / {pe:.0%} exact, attention {ab:.1f} BLEU / {ae:.0%} exact")
    return passed("task 4")
