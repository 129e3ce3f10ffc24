"""The chapter-5 exercise checks: each rejects the stub and plausible wrong answers,
accepts the solution's, and never prints the expected value when it fails."""
import math
import re

import pytest

from d2lt.checks import ch05


def _stub(*args):
    raise NotImplementedError("stub")


def _rejects(check, *answers):
    """The check fails with an AssertionError; returns its message."""
    with pytest.raises(AssertionError) as info:
        check(*answers)
    return str(info.value)


def _hides(message, value):
    """The message does not contain ``value`` (plain or with thousands separators)."""
    digits = {str(value), f"{value:,}"} if isinstance(value, int) else {str(value)}
    return not any(re.search(rf"(?<![\d,]){re.escape(v)}(?![\d,])", message) for v in digits)


# ------------------------------------------------------------------ task 1

def gru_flops(n, d_in, d):
    return 2 * n * 3 * d * (d_in + d)


def lstm_flops(n, d_in, d):
    return 2 * n * 4 * d * (d_in + d)


def test_task1_accepts_the_solution():
    assert ch05.task1(gru_flops, lstm_flops) is True


def test_task1_rejects_the_stub_and_none():
    with pytest.raises(NotImplementedError):
        ch05.task1(_stub, _stub)
    _rejects(ch05.task1, None, lstm_flops)
    _rejects(ch05.task1, gru_flops, None)


@pytest.mark.parametrize("wrong_gru, wrong_lstm", [
    # multiply-adds instead of FLOPs
    (lambda n, d_in, d: n * 3 * d * (d_in + d), lstm_flops),
    (gru_flops, lambda n, d_in, d: n * 4 * d * (d_in + d)),
    # one width for both matrices (right only when d_in == d)
    (lambda n, d_in, d: 2 * n * 3 * d * (2 * d), lstm_flops),
    # the hidden matrices only, as if the input products were free
    (gru_flops, lambda n, d_in, d: 2 * n * 4 * d * d),
    # input and hidden width swapped in the gate count
    (lambda n, d_in, d: 2 * n * 3 * d_in * (d_in + d), lstm_flops),
    # three gates for the LSTM
    (gru_flops, gru_flops),
    # a float instead of an int
    (lambda n, d_in, d: float(gru_flops(n, d_in, d)), lstm_flops),
])
def test_task1_rejects_wrong_answers(wrong_gru, wrong_lstm):
    _rejects(ch05.task1, wrong_gru, wrong_lstm)


def test_task1_message_hides_the_answer():
    msg = _rejects(ch05.task1, lambda n, d_in, d: 2 * n * 3 * d * (2 * d), lstm_flops)
    n, d_in, d = map(int, re.search(r"n=(\d+), d_in=(\d+), d=(\d+)", msg).groups())
    assert _hides(msg, gru_flops(n, d_in, d)), msg


# ------------------------------------------------------------------ task 2

def cheaper_up_to(d, f):
    return max(0, 2 * d - f - 1)


def test_task2_accepts_the_solution():
    assert ch05.task2(cheaper_up_to) is True


def test_task2_rejects_the_stub_and_none():
    with pytest.raises(NotImplementedError):
        ch05.task2(_stub)
    _rejects(ch05.task2, None)


@pytest.mark.parametrize("wrong", [
    lambda d, f: max(0, 2 * d - f),          # the break-even itself, not "strictly fewer"
    lambda d, f: 2 * d - f - 1,              # negative lengths when never cheaper
    lambda d, f: 2 * d - 1,                  # the feed-forward part forgotten
    lambda d, f: max(0, 2 * d - 2 * f - 1),  # the feed-forward part counted twice
    lambda d, f: 0 if f >= 2 * d else 2 * d - 1,  # "never" right, the rest not derived
    lambda d, f: 0,                          # "never", as for f = 4 d
])
def test_task2_rejects_wrong_answers(wrong):
    _rejects(ch05.task2, wrong)


def test_task2_message_hides_the_answer():
    msg = _rejects(ch05.task2, lambda d, f: max(0, 2 * d - f))
    d, f = map(int, re.search(r"d=(\d+), f=(\d+)", msg).groups())
    assert _hides(msg, cheaper_up_to(d, f)), msg


# ------------------------------------------------------------------ task 3

def longest_fitting(budget_bytes, batch, heads, layers, bytes_per_value):
    return math.isqrt(budget_bytes // (batch * heads * layers * bytes_per_value))


def test_task3_accepts_the_solution():
    assert ch05.task3(longest_fitting) is True


def test_task3_rejects_the_stub_and_none():
    with pytest.raises(NotImplementedError):
        ch05.task3(_stub)
    _rejects(ch05.task3, None)


@pytest.mark.parametrize("wrong", [
    # a floating-point square root: off by one for large budgets
    lambda B, b, h, L, s: int(math.sqrt(B / (b * h * L * s))),
    # rounding instead of flooring
    lambda B, b, h, L, s: round(math.sqrt(B // (b * h * L * s))),
    # the layers forgotten
    lambda B, b, h, L, s: math.isqrt(B // (b * h * s)),
    # the batch forgotten
    lambda B, b, h, L, s: math.isqrt(B // (h * L * s)),
    # linear in n, as if the weights were n values per head
    lambda B, b, h, L, s: B // (b * h * L * s),
])
def test_task3_rejects_wrong_answers(wrong):
    _rejects(ch05.task3, wrong)


# ------------------------------------------------------------------ task 4

def ticks(work, steps, processors):
    return max(-(-work // processors), steps)


def fewest_processors(n, d):
    if n < d:
        return 1
    if n <= 3:
        return None
    return -(-2 * n * n * d // (n - 1))


def test_task4_accepts_the_solution():
    assert ch05.task4(ticks, fewest_processors) is True


def test_task4_rejects_the_stub_and_none():
    with pytest.raises(NotImplementedError):
        ch05.task4(_stub, fewest_processors)
    with pytest.raises(NotImplementedError):
        ch05.task4(ticks, _stub)
    _rejects(ch05.task4, None, fewest_processors)
    _rejects(ch05.task4, ticks, None)


@pytest.mark.parametrize("wrong_ticks", [
    lambda w, s, p: max(w // p, s),          # work rounded down
    lambda w, s, p: -(-w // p) + s,          # chain and work added, not overlapped
    lambda w, s, p: max(w / p, s),           # a float
])
def test_task4_rejects_wrong_ticks(wrong_ticks):
    _rejects(ch05.task4, wrong_ticks, fewest_processors)


@pytest.mark.parametrize("wrong", [
    lambda n, d: 2 * n * d,                                       # the approximation
    lambda n, d: 1 if n < d else (None if n <= 3 else 2 * n * n * d // (n - 1) + 1),
    lambda n, d: 1 if n < d else -(-2 * n * n * d // (n - 1)),   # short sequences forgotten
    lambda n, d: None if n <= 3 else -(-2 * n * n * d // (n - 1)),  # n < d forgotten
    lambda n, d: -(-2 * n * n * d // n),                          # "fewer than n + 1 ticks"
])
def test_task4_rejects_wrong_processor_counts(wrong):
    _rejects(ch05.task4, ticks, wrong)


def test_task4_message_hides_the_answer():
    msg = _rejects(ch05.task4, ticks, lambda n, d: 2 * n * d)
    n, d = map(int, re.search(r"n=(\d+), d=(\d+)", msg).groups())
    assert _hides(msg, fewest_processors(n, d)), msg


# ------------------------------------------------------------------ task 5

def generation_flops(n, d, cached):
    keys_seen = n * (n + 1) // 2
    if cached:
        return 8 * n * d * d + 4 * keys_seen * d
    return 4 * n * d * d + 4 * keys_seen * d * d + 4 * keys_seen * d


def test_task5_accepts_the_solution():
    assert ch05.task5(generation_flops) is True


def test_task5_rejects_the_stub_and_none():
    with pytest.raises(NotImplementedError):
        ch05.task5(_stub)
    _rejects(ch05.task5, None)


@pytest.mark.parametrize("wrong", [
    # the cached loop counted like the single causal call (all n^2 scores)
    lambda n, d, c: 8 * n * d * d + 4 * n * n * d if c else generation_flops(n, d, c),
    # the output projection forgotten in both
    lambda n, d, c: generation_flops(n, d, c) - 2 * n * d * d,
    # the prefix loop without its recomputed keys and values
    lambda n, d, c: generation_flops(n, d, True),
    # n^2 / 2 keys instead of n (n + 1) / 2
    lambda n, d, c: (8 * n * d * d + 2 * n * n * d) if c else generation_flops(n, d, c),
])
def test_task5_rejects_wrong_answers(wrong):
    _rejects(ch05.task5, wrong)


def test_task5_message_hides_the_answer():
    msg = _rejects(ch05.task5, lambda n, d, c: generation_flops(n, d, True))
    n, d = map(int, re.search(r"n=(\d+), d=(\d+)", msg).groups())
    assert _hides(msg, generation_flops(n, d, False)), msg


def test_a_crash_in_the_answer_is_reported_as_a_wrong_answer():
    msg = _rejects(ch05.task2, lambda d, f: 1 // 0)
    assert "ZeroDivisionError" in msg
