"""Checks for the chapter-6 exercises (the Transformer).

Every check builds its own test material, computes the right answer with its
own code (or with PyTorch's) and compares; a failure says what is wrong
without printing the answer.
"""
import torch
from torch import nn
from torch.nn import functional as F

from . import expect, not_none, passed
from .. import decoding
from .. import transformer as T


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


# ------------------------------------------------------------------ task 1: a pre-norm block

def task1(prenorm_forward):
    """``prenorm_forward(blk, X (B,S,D), valid_lens (B,)) -> (B,S,D)``: the pre-norm encoder block
    ``Y = X + MHA(LN1(X)); out = Y + FFN(LN2(Y))`` built from the parts of a
    :class:`d2lt.transformer.TransformerEncoderBlock` (``addnorm1.ln``, ``addnorm2.ln``)."""
    not_none(prenorm_forward, "task 1")
    for trial, (B, S, D, H) in enumerate(((3, 6, 16, 4), (2, 9, 24, 3))):
        torch.manual_seed(100 + trial)
        ref = nn.TransformerEncoderLayer(D, H, 4 * D, dropout=0.0, batch_first=True, norm_first=True).eval()
        with torch.no_grad():  # layer norms that are not the identity, so their placement shows
            for ln in (ref.norm1, ref.norm2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)
        ref.norm_first = False
        blk = T.encoder_layer_from_torch(ref).eval()
        ref.norm_first = True
        g = torch.Generator().manual_seed(110 + trial)
        X = torch.randn(B, S, D, generator=g)
        lens = torch.randint(1, S + 1, (B,), generator=g)
        lens[0] = S
        pad = torch.arange(S)[None] >= lens[:, None]
        with torch.no_grad():
            want = ref(X, src_key_padding_mask=pad)
            got = prenorm_forward(blk, X.clone(), lens.clone())
        expect(torch.is_tensor(got) and tuple(got.shape) == (B, S, D),
               f"expected a tensor of shape {(B, S, D)}, got {_shape(got)}")
        real = ~pad
        expect(torch.allclose(got[real], want[real], atol=1e-4),
               "the output differs from a pre-norm block: normalise each sub-layer's input, add the "
               "sub-layer's output to the un-normalised input, and add no norm at the end")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: label smoothing by hand

def task2(smoothed_loss):
    """``smoothed_loss(logits (B,T,V), targets (B,T), eps, pad_id) -> scalar``: label-smoothed
    cross-entropy (target ``(1-eps)`` on the true token plus ``eps/V`` on every token),
    averaged over the non-padding positions."""
    not_none(smoothed_loss, "task 2")
    for trial, (B, Tn, V, eps) in enumerate(((3, 5, 7, 0.1), (4, 6, 11, 0.3), (2, 8, 5, 0.0))):
        g = torch.Generator().manual_seed(200 + trial)
        logits = torch.randn(B, Tn, V, generator=g) * 3
        targets = torch.randint(1, V, (B, Tn), generator=g)
        targets[0, -2:] = 0  # padding (id 0) at the end of one row
        targets[-1, -3:] = 0
        want = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=0, label_smoothing=eps)
        with torch.no_grad():
            got = smoothed_loss(logits.clone(), targets.clone(), eps, 0)
        expect(torch.is_tensor(got) and got.numel() == 1,
               f"expected a scalar tensor, got {_shape(got)}")
        expect(torch.allclose(got.reshape(()), want, atol=1e-5),
               f"trial {trial + 1} (eps={eps}): the loss differs; spread eps over all V tokens (the true "
               "one included), and average over real tokens only")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: parameters by formula

def task3(transformer_params):
    """``transformer_params(V_src, V_tgt, d, d_ff, n_blks, share_embeddings, tie_output) -> int``:
    the parameter count of ``T.transformer_seq2seq`` (biases everywhere) from the sizes alone."""
    not_none(transformer_params, "task 3")
    cases = [(50, 60, 16, 32, 2, False, False), (50, 60, 16, 64, 3, False, True),
             (70, 70, 24, 48, 1, True, True), (40, 40, 8, 40, 4, True, False)]
    for V1, V2, d, f, n, share, tie in cases:
        cfg = T.TransformerConfig(V1, V2, d, f, 4 if d % 4 == 0 else 1, n, share_embeddings=share,
                                  tie_output=tie)
        want = T.count_parameters(T.transformer_seq2seq(cfg))
        got = transformer_params(V1, V2, d, f, n, share, tie)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"expected an int, got {type(got).__name__}")
        expect(got == want, f"sizes (V_src={V1}, V_tgt={V2}, d={d}, d_ff={f}, blocks={n}, shared={share}, "
                            f"tied={tie}): the count is off by {abs(got - want)} parameters")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: scoring a translation

def scoring_model(seed=0):
    """A small random Transformer (source vocabulary 20, target 12) for task 4, in eval mode."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    torch.manual_seed(seed)
    m = T.transformer_seq2seq(T.TransformerConfig(20, 12, 32, 64, 4, 2, 0.0, tie_output=False)).eval()
    with torch.no_grad():
        m.decoder.dense.weight.mul_(3.0)
    return m


def task4(logprob):
    """``logprob(model, src (B,S), src_len (B,), ids (B,L), bos, eos) -> (B,)``: ``log p(ids | src)``
    by teacher forcing, counting each row's tokens up to and including its first ``<eos>``
    (tokens after it are padding and do not count; a row without ``<eos>`` counts all)."""
    not_none(logprob, "task 4")
    bos, eos = 1, 2
    for trial in range(3):
        model = scoring_model(300 + trial)
        g = torch.Generator().manual_seed(310 + trial)
        B, S, L = 5, 7, 9
        src = torch.randint(4, 20, (B, S), generator=g)
        lens = torch.randint(1, S + 1, (B,), generator=g)
        ids = torch.randint(3, 12, (B, L), generator=g)
        ids[0, 3], ids[0, 4:] = eos, 0          # ends early, then padding
        ids[1, -1] = eos                        # ends at the last position
        ids[2, 5], ids[2, 6:] = eos, 7          # junk after <eos> must not count
        want = decoding.sequence_logprob(model, src, lens, ids, bos, eos)
        with torch.no_grad():
            got = logprob(model, src.clone(), lens.clone(), ids.clone(), bos, eos)
        expect(torch.is_tensor(got) and tuple(got.shape) == (B,),
               f"expected a tensor of shape {(B,)}, got {_shape(got)}")
        expect(torch.allclose(got.float(), want, atol=1e-4),
               f"trial {trial + 1}: the log-probabilities differ; feed <bos> then the tokens shifted by "
               "one, take log-softmax, and count each row up to and including its first <eos>")
    return passed("task 4")
