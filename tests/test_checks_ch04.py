"""The chapter-4 exercise checks accept the solutions and reject stubs and plausible mistakes."""
import math

import pytest
import torch

from d2lt import attention
from d2lt.checks import ch04


def _stub(*args, **kwargs):
    raise NotImplementedError("stub")


# ------------------------------------------------------------------ task 1

def count_right(d, h, q_in, k_in, v_in, bias):
    return d * (q_in + k_in + v_in) + d * d + (4 * d if bias else 0)


def count_square(d, h, q_in, k_in, v_in, bias):  # the chapter's 4 d^2, widths ignored
    return 4 * d * d + (4 * d if bias else 0)


def count_output_from_values(d, h, q_in, k_in, v_in, bias):  # W_o as v_in x d
    return d * (q_in + k_in + v_in) + d * v_in + (4 * d if bias else 0)


def count_per_head(d, h, q_in, k_in, v_in, bias):  # biases per head, not per layer
    return d * (q_in + k_in + v_in) + d * d + (4 * d * h if bias else 0)


def test_task1():
    assert ch04.task1(count_right)
    with pytest.raises(NotImplementedError):
        ch04.task1(_stub)
    for wrong in (count_square, count_output_from_values, count_per_head):
        with pytest.raises(AssertionError):
            ch04.task1(wrong)


# ------------------------------------------------------------------ task 2

def _gqa(q, k, v, h, g, interleave=True, scale_width=None):
    B, T, d = q.shape
    S, dh = k.shape[1], d // h
    qh = q.view(B, T, h, dh).transpose(1, 2)
    kh, vh = (x.view(B, S, g, dh).transpose(1, 2) for x in (k, v))
    if interleave:
        kh, vh = kh.repeat_interleave(h // g, 1), vh.repeat_interleave(h // g, 1)
    else:  # tiles the groups: head i uses kv head i % g
        kh, vh = kh.repeat(1, h // g, 1, 1), vh.repeat(1, h // g, 1, 1)
    w = torch.softmax(qh @ kh.transpose(-2, -1) / math.sqrt(scale_width or dh), -1)
    return (w @ vh).transpose(1, 2).reshape(B, T, d)


def gqa_right(q, k, v, h, g):
    return _gqa(q, k, v, h, g)


def gqa_tiled(q, k, v, h, g):
    return _gqa(q, k, v, h, g, interleave=False)


def gqa_scaled_by_d(q, k, v, h, g):
    return _gqa(q, k, v, h, g, scale_width=q.shape[-1])


def gqa_first_kv_head_only(q, k, v, h, g):
    dh = q.shape[-1] // h
    return _gqa(q, k[..., :dh], v[..., :dh], h, 1)


def test_task2():
    assert ch04.task2(gqa_right)
    with pytest.raises(NotImplementedError):
        ch04.task2(_stub)
    for wrong in (gqa_tiled, gqa_scaled_by_d, gqa_first_kv_head_only):
        with pytest.raises(AssertionError):
            ch04.task2(wrong)


# ------------------------------------------------------------------ task 3

def perm_test_right(f, X, trials=8):
    T = X.shape[1]
    gen = torch.Generator().manual_seed(0)
    perms = [torch.arange(T).roll(1), torch.arange(T).flip(0)]
    perms += [torch.randperm(T, generator=gen) for _ in range(trials)]
    Y = f(X)
    return all(torch.allclose(f(X[:, p]), Y[:, p], rtol=1e-4,
                              atol=1e-5 * (1 + Y.abs().max().item())) for p in perms)


def perm_test_fixes_first_position(f, X):
    perm = torch.arange(X.shape[1])
    perm[[1, 2]] = perm[[2, 1]]  # one swap that leaves position 0 in place
    return torch.allclose(f(X[:, perm]), f(X)[:, perm], atol=1e-5)


def perm_test_exact(f, X):
    gen = torch.Generator().manual_seed(0)
    perms = [torch.arange(X.shape[1]).roll(1)] + [torch.randperm(X.shape[1], generator=gen)
                                                  for _ in range(5)]
    return all(torch.equal(f(X[:, p]), f(X)[:, p]) for p in perms)


def perm_test_output_not_permuted(f, X):
    perm = torch.arange(X.shape[1]).roll(1)
    return torch.allclose(f(X[:, perm]), f(X), atol=1e-5)


def test_task3():
    assert ch04.task3(perm_test_right)
    with pytest.raises(NotImplementedError):
        ch04.task3(_stub)
    for wrong in (perm_test_fixes_first_position, perm_test_exact,
                  perm_test_output_not_permuted):
        with pytest.raises(AssertionError):
            ch04.task3(wrong)


# ------------------------------------------------------------------ task 4

def _angles(T, d, sign=1.0):
    freq = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    a = sign * torch.arange(T, dtype=torch.float32)[:, None] * freq
    return a.cos(), a.sin()


def rope_right(x):
    c, s = _angles(x.shape[1], x.shape[2])
    out = torch.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * c - x[..., 1::2] * s
    out[..., 1::2] = x[..., 0::2] * s + x[..., 1::2] * c
    return out


def rope_added(x):  # the sinusoidal encoding added, not a rotation
    return x + attention.sinusoidal_table(x.shape[1], x.shape[2])


def rope_rotate_half(x):  # pairs (i, i + d/2) instead of (2i, 2i + 1)
    d = x.shape[-1]
    c, s = _angles(x.shape[1], d)
    a, b = x[..., :d // 2], x[..., d // 2:]
    return torch.cat([a * c - b * s, a * s + b * c], -1)


def rope_other_way(x):  # rotated by -t w_i
    c, s = _angles(x.shape[1], x.shape[2], sign=-1.0)
    out = torch.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * c - x[..., 1::2] * s
    out[..., 1::2] = x[..., 0::2] * s + x[..., 1::2] * c
    return out


def test_task4():
    assert ch04.task4(rope_right)
    with pytest.raises(NotImplementedError):
        ch04.task4(_stub)
    for wrong in (rope_added, rope_rotate_half, rope_other_way):
        with pytest.raises(AssertionError):
            ch04.task4(wrong)


@pytest.mark.parametrize("task, answer", [
    (ch04.task1, count_square), (ch04.task2, gqa_tiled), (ch04.task3, perm_test_exact),
    (ch04.task4, rope_rotate_half)])
def test_failure_messages_do_not_print_the_expected_values(task, answer):
    with pytest.raises(AssertionError) as e:
        task(answer)
    message = str(e.value)
    assert "tensor(" not in message and "[" not in message, message
    if task is ch04.task3:
        assert "True" not in message and "False" not in message, message
    if task is ch04.task1:
        d, h, q_in, k_in, v_in = 64, 8, 64, 64, 64
        assert f"{count_right(d, h, q_in, k_in, v_in, False):,}" not in message
