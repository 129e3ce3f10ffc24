"""The chapter-6 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""

import pytest
import torch
from torch.nn import functional as F

from d2lt.checks import ch06
from helpers import check_contract_tests, stub


TASKS = [ch06.task1, ch06.task2, ch06.task3, ch06.task4]
NAMES = ["prenorm_forward", "smoothed_loss", "transformer_params", "logprob"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("06_transformer", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def post_norm(blk, X, lens):          # the chapter's block
    return blk(X, lens)


def no_residual(blk, X, lens):
    Z = blk.addnorm1.ln(X)
    Y = blk.attention(Z, Z, Z, lens)
    return Y + blk.ffn(blk.addnorm2.ln(Y))


def residual_from_normed(blk, X, lens):  # adds the sub-layer to LN(x) instead of x
    Z = blk.addnorm1.ln(X)
    Y = Z + blk.attention(Z, Z, Z, lens)
    Z2 = blk.addnorm2.ln(Y)
    return Z2 + blk.ffn(Z2)


def no_mask(blk, X, lens):
    Z = blk.addnorm1.ln(X)
    Y = X + blk.attention(Z, Z, Z)
    return Y + blk.ffn(blk.addnorm2.ln(Y))


@pytest.mark.parametrize("wrong", [post_norm, no_residual, residual_from_normed, no_mask])
def test_task1_rejects_wrong_blocks(wrong):
    with pytest.raises(AssertionError, match="pre-norm"):
        ch06.task1(wrong)


# ------------------------------------------------------------------ task 2

def unsmoothed(logits, targets, eps, pad):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad)


def over_other_tokens(logits, targets, eps, pad):  # eps/(V-1) on the wrong tokens only
    logp = F.log_softmax(logits, -1)
    V = logits.shape[-1]
    nll = -logp.gather(-1, targets[..., None]).squeeze(-1)
    others = -(logp.sum(-1) + (-nll)) / (V - 1)
    loss = (1 - eps) * nll + eps * others
    return loss[targets != pad].mean()


def padding_counted(logits, targets, eps, pad):
    logp = F.log_softmax(logits, -1)
    nll = -logp.gather(-1, targets[..., None]).squeeze(-1)
    return ((1 - eps) * nll - eps * logp.mean(-1)).mean()


@pytest.mark.parametrize("wrong", [unsmoothed, over_other_tokens, padding_counted])
def test_task2_rejects_wrong_losses(wrong):
    with pytest.raises(AssertionError, match="loss differs"):
        ch06.task2(wrong)


# ------------------------------------------------------------------ task 3

def _count(V1, V2, d, f, n, share, tie, *, ln=True, bias=True, double_tie=False, dec_attn=2):
    b = 1 if bias else 0
    attn = 4 * (d * d + b * d)
    ffn = d * f + b * f + f * d + b * d
    norm = 2 * d if ln else 0
    total = V1 * d + (0 if share else V2 * d) + n * (attn + ffn + 2 * norm) + n * (dec_attn * attn + ffn + 3 * norm)
    return total + V2 + (0 if tie and not double_tie else V2 * d)


@pytest.mark.parametrize("kw", [dict(ln=False), dict(bias=False), dict(double_tie=True), dict(dec_attn=1)])
def test_task3_rejects_wrong_counts(kw):
    with pytest.raises(AssertionError, match="off by"):
        ch06.task3(lambda *a: _count(*a, **kw))
    assert ch06.task3(lambda *a: _count(*a))  # the same count without the mistake passes


def test_task3_rejects_floats(solution):
    with pytest.raises(AssertionError, match="an int"):
        ch06.task3(lambda *a: float(solution["transformer_params"](*a)))


# ------------------------------------------------------------------ task 4

def _lp(model, src, lens, ids, bos, eos, *, shift=True, upto="first_eos_incl"):
    dec_in = torch.cat([torch.full_like(ids[:, :1], bos), ids[:, :-1]], 1) if shift else ids
    logp = F.log_softmax(model(src, dec_in, lens), -1).gather(-1, ids[..., None]).squeeze(-1)
    is_eos = (ids == eos).long()
    if upto == "first_eos_incl":
        keep = (torch.cumsum(is_eos, 1) - is_eos) == 0
    elif upto == "first_eos_excl":
        keep = torch.cumsum(is_eos, 1) == 0
    else:
        keep = torch.ones_like(ids, dtype=torch.bool)
    return (logp * keep).sum(1)


@pytest.mark.parametrize("kw", [dict(shift=False), dict(upto="first_eos_excl"), dict(upto="all")])
def test_task4_rejects_wrong_scores(kw):
    with pytest.raises(AssertionError, match="log-probabilities differ"):
        ch06.task4(lambda *a: _lp(*a, **kw))
    assert ch06.task4(lambda *a: _lp(*a))
