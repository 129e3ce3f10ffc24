"""The chapter-3 exercise checks accept the solutions and reject stubs and plausible mistakes."""
import math

import pytest
import torch
from torch.nn import functional as F

from d2lt import attention
from d2lt.checks import ch03


def _stub(*args, **kwargs):
    raise NotImplementedError("stub")


# ------------------------------------------------------------------ task 1

def pad_causal_right(scores, valid_lens):
    B, T, _ = scores.shape
    per_query = torch.minimum(torch.arange(1, T + 1).expand(B, T), valid_lens[:, None])
    return attention.masked_softmax(scores, per_query)


def pad_causal_only_causal(scores, valid_lens):
    T = scores.shape[-1]
    return attention.masked_softmax(scores, torch.arange(1, T + 1).expand(len(scores), T))


def pad_causal_only_padding(scores, valid_lens):
    return attention.masked_softmax(scores, valid_lens)


def pad_causal_off_by_one(scores, valid_lens):
    B, T, _ = scores.shape  # a query may not see itself: the diagonal is masked too
    per_query = torch.minimum(torch.arange(0, T).expand(B, T), valid_lens[:, None])
    return attention.masked_softmax(scores, per_query)


def pad_causal_masks_queries(scores, valid_lens):
    B, T, _ = scores.shape  # padding applied to the query rows instead of the key columns
    keep = attention.causal_mask(T) & (torch.arange(T)[:, None] < valid_lens[:, None, None])
    return torch.softmax(scores.masked_fill(~keep, -1e6), -1)


def test_task1():
    assert ch03.task1(pad_causal_right)
    with pytest.raises(NotImplementedError):
        ch03.task1(_stub)
    for wrong in (pad_causal_only_causal, pad_causal_only_padding, pad_causal_off_by_one,
                  pad_causal_masks_queries):
        with pytest.raises(AssertionError):
            ch03.task1(wrong)


# ------------------------------------------------------------------ task 2

def _grad(q, k, v, scaled, centre=True, c=None):
    if c is None:
        c = 1 / math.sqrt(q.shape[-1]) if scaled else 1.0
    p = torch.softmax(c * (k @ q[:, :, None]).squeeze(-1), -1)
    centred = v - (p * v).sum(-1, keepdim=True) if centre else v
    return c * ((p * centred)[:, :, None] * k).sum(1)


def query_grad_right(q, k, v, scaled):
    return _grad(q, k, v, scaled)


def query_grad_no_centring(q, k, v, scaled):  # forgot the -p p^T part of the Jacobian
    return _grad(q, k, v, scaled, centre=False)


def query_grad_always_scaled(q, k, v, scaled):
    return _grad(q, k, v, True)


def query_grad_scale_outside_only(q, k, v, scaled):  # 1/d instead of 1/sqrt(d)
    return _grad(q, k, v, scaled, c=1 / q.shape[-1] if scaled else 1.0)


def test_task2():
    assert ch03.task2(query_grad_right)
    with pytest.raises(NotImplementedError):
        ch03.task2(_stub)
    for wrong in (query_grad_no_centring, query_grad_always_scaled,
                  query_grad_scale_outside_only):
        with pytest.raises(AssertionError):
            ch03.task2(wrong)


# ------------------------------------------------------------------ task 3

def qk_norm_right(q, k, gain):
    return torch.softmax(gain * F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(1, 2), -1)


def qk_norm_wrong_axis(q, k, gain):  # normalised over positions instead of features
    return torch.softmax(gain * F.normalize(q, dim=1) @ F.normalize(k, dim=1).transpose(1, 2), -1)


def qk_norm_keys_forgotten(q, k, gain):
    return torch.softmax(gain * F.normalize(q, dim=-1) @ k.transpose(1, 2), -1)


def qk_norm_also_sqrt_d(q, k, gain):
    return qk_norm_right(q, k, gain / math.sqrt(q.shape[-1]))


def test_task3():
    assert ch03.task3(qk_norm_right)
    with pytest.raises(NotImplementedError):
        ch03.task3(_stub)
    for wrong in (qk_norm_wrong_axis, qk_norm_keys_forgotten, qk_norm_also_sqrt_d):
        with pytest.raises(AssertionError):
            ch03.task3(wrong)


# ------------------------------------------------------------------ task 4

def effective_right(w):
    plogp = torch.where(w > 0, w * w.clamp_min(1e-30).log(), torch.zeros_like(w))
    return torch.exp(-plogp.sum(-1))


def effective_naive_log(w):  # 0 * log 0 = NaN on exact zeros
    return torch.exp(-(w * w.log()).sum(-1))


def effective_entropy_only(w):  # forgot the exp
    return effective_right(w).log()


def effective_inverse_simpson(w):  # another "effective number", not the one asked for
    return 1 / (w ** 2).sum(-1)


def self_attn_right(X):
    return effective_right(torch.softmax(X @ X.transpose(1, 2) / math.sqrt(X.shape[-1]), -1))


def self_attn_unscaled(X):
    return effective_right(torch.softmax(X @ X.transpose(1, 2), -1))


def self_attn_wrong_axis(X):  # softmax over queries instead of keys
    return effective_right(torch.softmax(X @ X.transpose(1, 2) / math.sqrt(X.shape[-1]), 1))


def test_task4():
    assert ch03.task4(effective_right, self_attn_right)
    with pytest.raises(NotImplementedError):
        ch03.task4(_stub, self_attn_right)
    with pytest.raises(NotImplementedError):
        ch03.task4(effective_right, _stub)
    for wrong in (effective_naive_log, effective_entropy_only, effective_inverse_simpson):
        with pytest.raises(AssertionError):
            ch03.task4(wrong, self_attn_right)
    for wrong in (self_attn_unscaled, self_attn_wrong_axis):
        with pytest.raises(AssertionError):
            ch03.task4(effective_right, wrong)


@pytest.mark.parametrize("task, answer", [
    (ch03.task1, (pad_causal_only_padding,)), (ch03.task2, (query_grad_no_centring,)),
    (ch03.task3, (qk_norm_also_sqrt_d,)), (ch03.task4, (effective_entropy_only, self_attn_right)),
    (ch03.task4, (effective_right, self_attn_unscaled))])
def test_failure_messages_do_not_print_the_expected_values(task, answer):
    with pytest.raises(AssertionError) as e:
        task(*answer)
    message = str(e.value)
    assert "tensor(" not in message and "[" not in message, message
