"""The chapter-11 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import math
import random
from fractions import Fraction

import pytest
import torch

from d2lt import bench, icl
from d2lt.checks import ch11
from helpers import check_contract_tests

TASKS = [ch11.task1, ch11.task2, ch11.task3, ch11.task4]
NAMES = ["best_accuracy_permutation", "addition_scratchpad", "break_even_calls", "reversed_prompts"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("11_in_context_learning", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def as_random_function(k, K):          # the chapter's formula: ignores that outputs are used once
    return icl.bayes_accuracy(k, K, K) if K <= 10 else 1 - (1 - 1 / K) ** k * (1 - 1 / K)


def no_cap(k, K):                      # (E[d] + 1) / K: forgets that with every input shown none is unseen
    return (K * (1 - (1 - 1 / K) ** k) + 1) / K


def simulated(k, K):                   # a Monte Carlo estimate instead of the exact value
    rng = random.Random(0)
    right = 0
    for _ in range(2000):
        shown = {rng.randrange(K) for _ in range(k)}
        q = rng.randrange(K)
        right += 1 if q in shown else rng.random() < 1 / (K - len(shown))
    return right / 2000


@pytest.mark.parametrize("wrong", [as_random_function, no_cap, simulated])
def test_task1_rejects_wrong_accuracies(wrong):
    with pytest.raises(AssertionError, match="off by"):
        ch11.task1(wrong)


def test_task1_reference_agrees_with_a_simulation(solution):
    f = solution["best_accuracy_permutation"]
    assert f(0, 8) == pytest.approx(1 / 8) and f(50, 4) == pytest.approx(1.0)
    assert f(8, 8) > icl.bayes_accuracy(8)
    assert abs(simulated(6, 5) - f(6, 5)) < 0.04


def test_task1_accepts_an_exact_closed_form():
    def stirling(k, d):  # the number of ways to split k draws into d non-empty groups
        return sum((-1) ** j * math.comb(d, j) * (d - j) ** k for j in range(d + 1)) // math.factorial(d)

    def closed(k, K):
        total = Fraction(0)
        for d in range(0, min(k, K) + 1):
            pd = Fraction(stirling(k, d) * math.perm(K, d), K ** k) if k else Fraction(d == 0)
            total += pd * Fraction(min(d + 1, K), K)
        return float(total)
    assert ch11.task1(closed)


# ------------------------------------------------------------------ task 2

def left_to_right(a, b):               # the most significant column first
    steps = []
    da, db = str(a).zfill(len(str(b))), str(b).zfill(len(str(a)))
    carry = 0
    for x, y in zip(da, db):
        s = int(x) + int(y) + carry
        steps.append(f"{x}+{y}+{carry}={s}")
        carry = s // 10
    return ",".join(steps) + f">{a + b}"


def no_padding(a, b, solution_fn=None):  # stops at the shorter number's last digit
    da, db = str(a)[::-1], str(b)[::-1]
    carry, steps = 0, []
    for x, y in zip(da, db):
        s = int(x) + int(y) + carry
        steps.append(f"{x}+{y}+{carry}={s}")
        carry = s // 10
    return ",".join(steps) + f">{a + b}"


def no_carry_term(a, b):               # writes x+y=s, folding the carry in silently
    da, db = str(a)[::-1], str(b)[::-1]
    carry, steps = 0, []
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        s = x + y + carry
        steps.append(f"{x}+{y}={s}")
        carry = s // 10
    return ",".join(steps) + f">{a + b}"


def wrong_sum(a, b):
    return f"{a}+{b}>{a + b + 1}"


@pytest.mark.parametrize("wrong", [left_to_right, no_padding, no_carry_term])
def test_task2_rejects_wrong_scratchpads(wrong):
    with pytest.raises(AssertionError, match="steps differ"):
        ch11.task2(wrong)


def test_task2_rejects_a_wrong_sum_and_non_strings(solution):
    with pytest.raises(AssertionError, match="the sum"):
        ch11.task2(wrong_sum)
    with pytest.raises(AssertionError, match="a str"):
        ch11.task2(lambda a, b: list(solution["addition_scratchpad"](a, b)))


# ------------------------------------------------------------------ task 3

def _fwd(cfg, T):
    return Fraction(bench.gpt_flops_per_token(cfg, T), 3)


def two_n_only(cfg, k, steps, tpe=2):            # 2N per token: leaves out attention
    n = cfg.parameter_count(non_embedding=True) - (0 if cfg.tie_weights else cfg.vocab_size * cfg.n_embd)
    T = tpe * k + 1
    return math.ceil(Fraction(steps * k * 6 * n, T * 2 * n - 2 * n))


def free_tuned_calls(cfg, k, steps, tpe=2):      # forgets that the fine-tuned model's calls cost too
    T = tpe * k + 1
    return math.ceil(steps * k * 3 * _fwd(cfg, 1) / (T * _fwd(cfg, T)))


def training_cost_for_calls(cfg, k, steps, tpe=2):  # counts each call at the training cost (x3)
    T = tpe * k + 1
    return math.ceil(steps * k * 3 * _fwd(cfg, 1) / (3 * T * _fwd(cfg, T) - 3 * _fwd(cfg, 1)))


def rounded_down(cfg, k, steps, tpe=2):
    T = tpe * k + 1
    return math.floor(steps * k * 3 * _fwd(cfg, 1) / (T * _fwd(cfg, T) - _fwd(cfg, 1)))


@pytest.mark.parametrize("wrong", [two_n_only, free_tuned_calls, training_cost_for_calls, rounded_down])
def test_task3_rejects_wrong_counts(wrong):
    with pytest.raises(AssertionError, match="off by"):
        ch11.task3(wrong)


def test_task3_rejects_floats(solution):
    with pytest.raises(AssertionError, match="an int"):
        ch11.task3(lambda *a: float(solution["break_even_calls"](*a)))


# ------------------------------------------------------------------ task 4

def token_flip(prompts):                         # reverses tokens: outputs now come before inputs
    return torch.cat([prompts[:, :-1].flip(1), prompts[:, -1:]], 1)


def whole_flip(prompts):                         # moves the query to the front
    return prompts.flip(1)


def in_place(prompts):
    n, L = prompts.shape
    k = (L - 1) // 2
    prompts[:, :-1] = prompts[:, :-1].reshape(n, k, 2).flip(1).reshape(n, 2 * k).clone()
    return prompts


@pytest.mark.parametrize("wrong", [token_flip, whole_flip])
def test_task4_rejects_wrong_reversals(wrong):
    with pytest.raises(AssertionError, match="prompts differ"):
        ch11.task4(wrong)


def test_task4_rejects_in_place_and_wrong_shapes():
    with pytest.raises(AssertionError, match="in place"):
        ch11.task4(in_place)
    with pytest.raises(AssertionError, match="shape"):
        ch11.task4(lambda p: p[:, :-1].clone())
