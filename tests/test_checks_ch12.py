"""The chapter-12 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from d2lt import scaling
from d2lt.checks import ch12
from helpers import check_contract_tests


TASKS = [ch12.task1, ch12.task2, ch12.task3]
NAMES = ["allocation", "predict_loss", "fit_surface"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("12_scaling_laws", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def swapped_exponent(C, A, B, alpha, beta):      # N_opt ~ C^(alpha / (alpha + beta))
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    n = G * (C / 6) ** (alpha / (alpha + beta))
    return n, C / (6 * n)


def forgot_the_six(C, A, B, alpha, beta):        # N D = C instead of 6 N D = C
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    n = G * C ** (beta / (alpha + beta))
    return n, C / (6 * n)


def inverted_ratio(C, A, B, alpha, beta):        # G = (beta B / (alpha A))^(1 / (alpha + beta))
    G = (beta * B / (alpha * A)) ** (1 / (alpha + beta))
    n = G * (C / 6) ** (beta / (alpha + beta))
    return n, C / (6 * n)


def numerical_search(C, A, B, alpha, beta):      # a generic minimiser, not the derivation
    f = lambda ln: A * math.exp(-alpha * ln) + B * (C / 6 / math.exp(ln)) ** -beta
    r = minimize_scalar(f, bounds=(0, math.log(C / 6)), method="bounded", options={"xatol": 1e-9})
    n = math.exp(r.x)
    return n, C / (6 * n)


@pytest.mark.parametrize("wrong, match", [(swapped_exponent, "lower loss"), (forgot_the_six, "lower loss"),
                                          (inverted_ratio, "lower loss"), (numerical_search, "closed form")])
def test_task1_rejects_wrong_allocations(wrong, match):
    with pytest.raises(AssertionError, match=match):
        ch12.task1(wrong)


def test_task1_rejects_swapped_and_off_budget_pairs(solution):
    with pytest.raises(AssertionError):
        ch12.task1(lambda *a: solution["allocation"](*a)[::-1])
    with pytest.raises(AssertionError, match="budget"):
        ch12.task1(lambda C, *a: (solution["allocation"](C, *a)[0], C / 6))
    with pytest.raises(AssertionError, match="pair"):
        ch12.task1(lambda *a: solution["allocation"](*a)[0])


# ------------------------------------------------------------------ task 2

def pure_power_law(N, L, N_new):                 # no irreducible term
    return float(scaling.power_law_fit(N, L)(N_new))


def last_two_points(N, L, N_new):                # the local slope of the last two points
    s = math.log(L[-1] / L[-2]) / math.log(N[-1] / N[-2])
    return L[-1] * (N_new / N[-1]) ** s


def floor_at_the_last_point(N, L, N_new):        # "it will not get much better"
    return float(L[-1])


def linear_in_log_n(N, L, N_new):                # a straight line of L against log N
    k, c = np.polyfit(np.log(N), L, 1)
    return float(k * math.log(N_new) + c)


@pytest.mark.parametrize("wrong", [pure_power_law, last_two_points, floor_at_the_last_point, linear_in_log_n])
def test_task2_rejects_wrong_extrapolations(wrong):
    with pytest.raises(AssertionError, match="off by"):
        ch12.task2(wrong)


def test_task2_rejects_non_numbers(solution):
    with pytest.raises(AssertionError, match="float"):
        ch12.task2(lambda *a: str(solution["predict_loss"](*a)))


# ------------------------------------------------------------------ task 3

def no_floor(N, D, L):                           # log L linear in log N and log D
    X = np.column_stack([np.ones(len(N)), np.log(N), np.log(D)])
    c, *_ = np.linalg.lstsq(X, np.log(L), rcond=None)
    return {"E": 0.0, "A": math.exp(c[0]) / 2, "B": math.exp(c[0]) / 2, "alpha": -c[1], "beta": -c[2]}


def separate_fits(N, D, L):                      # L(N) at the largest D and L(D) at the largest N, apart
    N, D, L = map(np.asarray, (N, D, L))
    at_d, at_n = D == D.max(), N == N.max()
    fn = scaling.power_law_fit(N[at_d], L[at_d], irreducible=True)
    fd = scaling.power_law_fit(D[at_n], L[at_n], irreducible=True)
    return {"E": (fn.floor + fd.floor) / 2, "A": fn.coef, "B": fd.coef, "alpha": fn.alpha, "beta": fd.alpha}


@pytest.mark.parametrize("wrong", [no_floor, separate_fits])
def test_task3_rejects_wrong_fits(wrong):
    with pytest.raises(AssertionError, match="surface"):
        ch12.task3(wrong)


def test_task3_rejects_a_missing_constant(solution):
    def partial(*a):
        out = dict(solution["fit_surface"](*a))
        out.pop("E")
        return out
    with pytest.raises(AssertionError, match="keys"):
        ch12.task3(partial)
