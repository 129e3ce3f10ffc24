"""Checks for the chapter-10 exercises (GPT: decoder-only language models).

Every check builds its own test material, computes the right answer with its
own code and compares; a failure says what is wrong without printing the
answer.
"""
import math

import torch
from torch.nn import functional as F

from . import expect, is_int, not_none, passed
from ..gpt import GPT, IGNORE_INDEX, GPTConfig


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


# ------------------------------------------------------------------ task 1: parameters of a GPT

def task1(gpt_params):
    """``gpt_params(vocab_size, block_size, n_layer, n_embd, bias, tie_weights, n_inner=None) -> int``:
    the number of distinct parameters of ``d2lt.gpt.GPT`` with that config (pre-norm), by formula."""
    not_none(gpt_params, "task 1")
    g = torch.Generator().manual_seed(1000)
    cases = [(50257, 1024, 12, 768, True, True, None), (50257, 2048, 24, 1024, True, True, None)]
    for _ in range(6):  # sizes nobody has seen before
        h = int(torch.randint(1, 9, (1,), generator=g))
        d = h * int(torch.randint(4, 40, (1,), generator=g))
        cases.append((int(torch.randint(100, 9000, (1,), generator=g)),
                      int(torch.randint(16, 3000, (1,), generator=g)),
                      int(torch.randint(1, 30, (1,), generator=g)), d,
                      bool(torch.randint(0, 2, (1,), generator=g)),
                      bool(torch.randint(0, 2, (1,), generator=g)),
                      None if torch.rand(1, generator=g) < 0.5
                      else int(torch.randint(8, 5000, (1,), generator=g))))
    cases += [(300, 64, 3, 48, False, False, None), (300, 64, 3, 48, True, False, 100)]
    for V, T, L, d, bias, tie, inner in cases:
        cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=4 if d % 4 == 0 else 1, n_embd=d,
                        bias=bias, tie_weights=tie, n_inner=inner)
        with torch.device("meta"):  # shapes only: no memory, no time
            want = GPT(cfg).num_parameters(non_embedding=False)
        got = gpt_params(V, T, L, d, bias, tie, inner)
        expect(is_int(got), f"expected an int, got {type(got).__name__}")
        expect(got == want, f"config (vocab {V}, context {T}, {L} blocks, width {d}, bias={bias}, "
                            f"tied={tie}, n_inner={inner}): the count is off by {abs(got - want):,} "
                            "parameters")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: repetition penalty

def _penalised(logits, prev, theta):
    out = logits.clone()
    for b in range(logits.shape[0]):
        for tok in set(prev[b].tolist()):
            z = out[b, tok]
            out[b, tok] = z / theta if z > 0 else z * theta
    return out


def task2(repetition_penalty):
    """``repetition_penalty(logits (B, V), prev (B, T), theta) -> (B, V)``: CTRL's penalty (Keskar
    et al. 2019): for every token already in a row's ``prev``, a positive logit is divided by
    ``theta`` and a negative one multiplied by it; other tokens and other rows are untouched."""
    not_none(repetition_penalty, "task 2")
    for trial, (B, V, T, theta) in enumerate(((3, 17, 6, 1.5), (4, 40, 12, 2.0), (2, 9, 9, 1.0),
                                              (5, 25, 1, 3.0))):
        g = torch.Generator().manual_seed(2000 + trial)
        logits = torch.randn(B, V, generator=g) * 2
        prev = torch.randint(0, V // 2, (B, T), generator=g)  # repeats inside a row are likely
        prev[0, :2] = int(logits[0].argmax())                 # a positive logit seen twice
        prev[-1, -1] = int(logits[-1].argmin())               # a negative logit seen
        want = _penalised(logits, prev, theta)
        before = logits.clone()
        with torch.no_grad():
            got = repetition_penalty(logits, prev.clone(), theta)
        expect(torch.is_tensor(got) and tuple(got.shape) == (B, V),
               f"expected a tensor of shape {(B, V)}, got {_shape(got)}")
        expect(torch.equal(logits, before), "repetition_penalty changed its input logits in place; "
                                            "return a new tensor")
        expect(torch.allclose(got.float(), want, atol=1e-6),
               f"trial {trial + 1} (theta={theta}): the penalised logits differ; penalise each token seen "
               "in *its own row* once (however often it occurs), making it less likely whatever the "
               "sign of its logit")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: sliding-window perplexity

def scoring_gpt(seed: int = 0, block_size: int = 16) -> GPT:
    """A small random GPT (vocabulary 50) whose predictions depend strongly on the context, in eval mode."""
    if not is_int(seed) or not is_int(block_size):
        raise TypeError(f"seed and block_size must be ints, got {seed!r} and {block_size!r}")
    torch.manual_seed(seed)
    m = GPT(GPTConfig(vocab_size=50, block_size=block_size, n_layer=2, n_head=2, n_embd=32)).eval()
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                p.mul_(6.0)  # sharp, context-dependent distributions
    return m


@torch.no_grad()
def _sliding(model, ids, window, stride):
    N = ids.numel()
    total, count, scored = 0.0, 0, 1  # token 0 is never predicted
    begin = 0
    while scored < N:
        end = min(begin + window, N - 1)  # inputs ids[begin:end], targets ids[begin+1:end+1]
        x, y = ids[begin:end][None], ids[begin + 1:end + 1]
        logp = F.log_softmax(model(x)[0][0].double(), -1)
        new = torch.arange(begin + 1, end + 1) >= scored
        total -= logp[torch.arange(y.numel())[new], y[new]].sum().item()
        count += int(new.sum())
        scored = end + 1
        begin += stride
    return total / count


def task3(sliding_loss):
    """``sliding_loss(model, ids (N,), window, stride) -> float``: the mean cross entropy of every token
    after the first, each predicted once, by windows of ``window`` inputs that start every ``stride``
    tokens; a window scores only the targets no earlier window scored."""
    not_none(sliding_loss, "task 3")
    for trial, (N, window, stride) in enumerate(((41, 16, 4), (64, 12, 12), (30, 16, 1), (53, 10, 7))):
        model = scoring_gpt(3000 + trial, block_size=16)
        g = torch.Generator().manual_seed(3100 + trial)
        ids = torch.randint(0, 50, (N,), generator=g)
        want = _sliding(model, ids, window, stride)
        with torch.no_grad():
            got = sliding_loss(model, ids.clone(), window, stride)
        if torch.is_tensor(got) and got.numel() == 1:
            got = got.item()
        expect(isinstance(got, float), f"expected a float, got {type(got).__name__}")
        expect(math.isfinite(got) and abs(got - want) <= 1e-4 * max(1.0, abs(want)),
               f"trial {trial + 1} (N={N}, window={window}, stride={stride}): the loss differs; every "
               "token from the second on must be scored exactly once, with as much context as its "
               "first window gives it, and the mean taken over tokens")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: prompts and answers in one batch

def _batch(pairs, pad_id, eos_id):
    seqs = [list(p) + list(a) + [eos_id] for p, a in pairs]
    L = max(len(s) for s in seqs) - 1
    idx = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    tgt = torch.full((len(seqs), L), IGNORE_INDEX, dtype=torch.long)
    for b, ((p, _), s) in enumerate(zip(pairs, seqs)):
        n = len(s) - 1
        idx[b, :n] = torch.tensor(s[:-1])
        for t in range(n):
            if t + 1 >= len(p):
                tgt[b, t] = s[t + 1]
    return idx, tgt


def task4(lm_batch):
    """``lm_batch(pairs, pad_id, eos_id) -> (idx, targets)``: rows ``prompt + answer + [eos]`` of
    (prompt, answer) id lists, shifted for next-token prediction and padded to the longest, with
    target -1 (``d2lt.gpt.IGNORE_INDEX``) wherever the target is a prompt token or padding."""
    not_none(lm_batch, "task 4")
    g = torch.Generator().manual_seed(4000)
    for trial in range(4):
        B = int(torch.randint(2, 7, (1,), generator=g))
        pairs = []
        for _ in range(B):
            lp, la = int(torch.randint(1, 8, (1,), generator=g)), int(torch.randint(1, 6, (1,), generator=g))
            pairs.append((torch.randint(3, 30, (lp,), generator=g).tolist(),
                          torch.randint(3, 30, (la,), generator=g).tolist()))
        pad_id, eos_id = (0, 1) if trial % 2 == 0 else (2, 0)
        want_idx, want_tgt = _batch(pairs, pad_id, eos_id)
        got = lm_batch([(list(p), list(a)) for p, a in pairs], pad_id, eos_id)
        expect(isinstance(got, tuple) and len(got) == 2, f"expected a pair (idx, targets), got "
                                                         f"{type(got).__name__}")
        idx, tgt = got
        expect(torch.is_tensor(idx) and torch.is_tensor(tgt) and idx.shape == want_idx.shape
               and tgt.shape == want_tgt.shape,
               f"trial {trial + 1}: expected two tensors of shape {tuple(want_idx.shape)} (the longest "
               f"row, minus one for the shift), got {_shape(idx)} and {_shape(tgt)}")
        expect(not (idx.is_floating_point() or tgt.is_floating_point()), "ids must be integer tensors")
        expect(torch.equal(idx.long(), want_idx),
               f"trial {trial + 1}: the inputs differ; each row is prompt + answer + <eos> without its "
               "last token, then padding")
        expect(torch.equal(tgt.long(), want_tgt),
               f"trial {trial + 1}: the targets differ; the target at position t is the token at t + 1, "
               "kept only where that token belongs to the answer or is <eos>, -1 elsewhere")
    # the loss of a model on such a batch is the mean over answer tokens only
    model = scoring_gpt(4100, block_size=32)
    pairs = [([5, 6, 7], [8, 9]), ([10], [11, 12, 13, 14])]
    idx, tgt = lm_batch(pairs, 0, 1)
    loss = model(idx.long(), tgt.long())[1]
    expect(torch.isfinite(loss), "the batch gives a model a non-finite loss")
    return passed("task 4")
