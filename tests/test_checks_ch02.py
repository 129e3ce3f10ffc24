"""The chapter-2 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import re

import pytest
import torch
from torch import nn

from d2lt import attention
from d2lt.checks import ch02
from helpers import solution_namespace, stub


@pytest.fixture(scope="module")
def solution():
    """The functions defined in solutions/02_bahdanau_attention.md."""
    return solution_namespace("02_bahdanau_attention")


@pytest.mark.parametrize("task", [ch02.task1, ch02.task2, ch02.task3])
def test_checks_reject_the_stub_and_none(task):
    with pytest.raises(NotImplementedError):
        task(stub)
    with pytest.raises(AssertionError, match="got None"):
        task(None)


# ------------------------------------------------------------------ task 1

def test_task1_accepts_the_solution(solution):
    assert ch02.task1(solution["luong_forward"])


def _luong(dec, enc, lens, state, dec_in, *, mask=True, shift=False, order="cs", loop=False):
    if loop:
        outs, h = [], state
        for t in range(dec_in.shape[1]):
            o, h = dec.rnn(dec.embedding(dec_in[:, t:t + 1]), h)
            outs.append(o)
        s = torch.cat(outs, 1)
    else:
        s, _ = dec.rnn(dec.embedding(dec_in), state)
    q = torch.cat([state[-1][:, None], s[:, :-1]], 1) if shift else s   # s_{t-1}: the Bahdanau query
    scores = q @ dec.W_a(enc).transpose(1, 2)
    w = attention.masked_softmax(scores, lens) if mask else torch.softmax(scores, -1)
    c = w @ enc
    both = torch.cat([c, s], -1) if order == "cs" else torch.cat([s, c], -1)
    return dec.dense(torch.tanh(dec.W_c(both))), w


@pytest.mark.parametrize("wrong", [
    dict(loop=True),        # right numbers, but one GRU call per step
    dict(mask=False),       # attends to padding
    dict(shift=True),       # queries with the previous state
    dict(order="sc"),       # [s_t; c_t]
], ids=["loop", "no-mask", "previous-state-query", "swapped-concat"])
def test_task1_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        ch02.task1(lambda *a: _luong(*a, **wrong))


def test_task1_reference_matches_the_one_call_form():
    """The check's step-by-step reference and the batched formula agree (so the check is satisfiable)."""
    dec = ch02.luong_parts(seed=1)
    enc, state = torch.randn(2, 5, 8), torch.randn(1, 2, 8)
    lens, dec_in = torch.tensor([5, 3]), torch.randint(4, 17, (2, 6))
    want = ch02._luong_step_by_step(dec, enc, lens, state, dec_in)
    with torch.no_grad():
        got = _luong(dec, enc, lens, state, dec_in)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ task 2

def test_task2_accepts_the_solution(solution):
    assert ch02.task2(solution["bi_encode"])


def bidirectional_unpacked(emb, fwd, bwd, X, lens):
    """Runs the backward GRU over the padded row (no packing): it starts at the padding."""
    E = emb(X)
    f, _ = fwd(E)
    b, _ = bwd(E.flip(1))
    b = b.flip(1)
    pad = torch.arange(X.shape[1])[None] >= lens[:, None]
    out = torch.cat([f, b], -1).masked_fill(pad[..., None], 0.0)
    last_f = f[torch.arange(len(X)), lens - 1]
    return out, torch.cat([last_f, b[:, 0]], -1)


def packed_forward_flipped_backward(emb, fwd, bwd, X, lens):
    """Packs the forward direction correctly but flips the whole padded row for the backward one."""
    E = emb(X)
    packed = nn.utils.rnn.pack_padded_sequence(E, lens, batch_first=True, enforce_sorted=False)
    f, f_last = fwd(packed)
    f, _ = nn.utils.rnn.pad_packed_sequence(f, batch_first=True, total_length=X.shape[1])
    b, _ = bwd(E.flip(1))
    b = b.flip(1)
    pad = torch.arange(X.shape[1])[None] >= lens[:, None]
    return torch.cat([f, b], -1).masked_fill(pad[..., None], 0.0), torch.cat([f_last[-1], b[:, 0]], -1)


def padding_not_zeroed(emb, fwd, bwd, X, lens):
    """Right states at real positions, but garbage left at padding."""
    out, final = _solution_bi(emb, fwd, bwd, X, lens)
    pad = torch.arange(X.shape[1])[None] >= lens[:, None]
    return out.masked_fill(pad[..., None], 1.0), final


def final_from_the_last_column(emb, fwd, bwd, X, lens):
    """Takes the final forward state from the last column of the batch (padding for short rows)."""
    out, final = _solution_bi(emb, fwd, bwd, X, lens)
    H = fwd.hidden_size
    return out, torch.cat([out[:, -1, :H], final[:, H:]], -1)


_SOLUTION = {}


def _solution_bi(*args):
    return _SOLUTION["bi_encode"](*args)


@pytest.mark.parametrize("wrong", [bidirectional_unpacked, packed_forward_flipped_backward, padding_not_zeroed,
                                   final_from_the_last_column])
def test_task2_rejects_wrong_answers(wrong, solution):
    _SOLUTION["bi_encode"] = solution["bi_encode"]
    with pytest.raises(AssertionError):
        ch02.task2(wrong)


# ------------------------------------------------------------------ task 3

def test_task3_accepts_the_solution(solution):
    assert ch02.task3(solution["attention_flops"])


def multiply_adds(B, T, Ts, H, keys_once):
    """Counts multiply-adds, not FLOPs (a factor of 2)."""
    per_step = B * H * H + 2 * B * Ts * H
    keys = B * Ts * H * H
    return keys + T * per_step if keys_once else T * (per_step + keys)


def keys_only(B, T, Ts, H, keys_once):
    """Counts the key projection alone."""
    return 2 * B * Ts * H * H * (1 if keys_once else T)


def forgets_the_pooling(B, T, Ts, H, keys_once):
    per_step = 2 * B * H * H + 2 * B * Ts * H
    keys = 2 * B * Ts * H * H
    return keys + T * per_step if keys_once else T * (per_step + keys)


def query_projected_once(B, T, Ts, H, keys_once):
    """Treats the query projection as if it did not depend on the step."""
    per_step = 4 * B * Ts * H
    fixed = 2 * B * H * H + 2 * B * Ts * H * H
    return fixed + T * per_step if keys_once else T * (per_step + 2 * B * Ts * H * H) + 2 * B * H * H


@pytest.mark.parametrize("wrong", [multiply_adds, keys_only, forgets_the_pooling, query_projected_once,
                                   lambda B, T, Ts, H, keys_once: 0])
def test_task3_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        ch02.task3(wrong)


@pytest.mark.parametrize("task, wrong", [(ch02.task3, multiply_adds), (ch02.task3, forgets_the_pooling)])
def test_failure_messages_do_not_print_the_answer(task, wrong):
    with pytest.raises(AssertionError) as e:
        task(wrong)
    counts = {str(ch02.measured_attention_flops(*cfg, k)) for cfg in ((1, 1, 2, 4),) for k in (False, True)}
    assert not any(c in str(e.value) for c in counts), str(e.value)
    assert not re.search(r"\d{3,}", str(e.value)), str(e.value)


def test_the_exercise_builders_check_their_inputs():
    with pytest.raises(ValueError, match="num_hiddens"):
        ch02.luong_parts(num_hiddens=0)
    with pytest.raises(TypeError, match="vocab_size"):
        ch02.bi_parts(vocab_size="15")
    with pytest.raises(TypeError, match="keys_once"):
        ch02.measured_attention_flops(1, 2, 3, 4, keys_once="yes")
    with pytest.raises(ValueError, match="Ts"):
        ch02.measured_attention_flops(1, 2, 0, 4, keys_once=True)
