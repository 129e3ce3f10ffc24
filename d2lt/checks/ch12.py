"""Checks for the chapter-12 exercises (scaling laws).

Every check builds its own test material (loss surfaces with known
constants), computes the right answer with its own code and compares; a
failure says what is wrong without printing the answer.
"""
import math

import numpy as np

from . import expect, not_none, passed
from ..scaling import power_law_fit


def _is_real(x):
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) \
        and math.isfinite(float(x))


def _surface(E, A, B, alpha, beta):
    return lambda n, d: E + A / np.asarray(n, float) ** alpha + B / np.asarray(d, float) ** beta


# ------------------------------------------------------------------ task 1: compute-optimal allocation

def _optimal(C, A, B, alpha, beta):
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    n = G * (C / 6) ** (beta / (alpha + beta))
    return n, C / (6 * n)


def task1(allocation):
    """``allocation(C, A, B, alpha, beta) -> (N_opt, D_opt)``: the N and D that minimise
    ``E + A / N^alpha + B / D^beta`` subject to ``6 N D = C``, in closed form."""
    not_none(allocation, "task 1")
    rng = np.random.default_rng(1200)
    cases = [(5.76e23, 406.4, 410.7, 0.34, 0.28), (1e21, 406.4, 410.7, 0.34, 0.28)]
    for _ in range(8):
        cases.append((float(10 ** rng.uniform(15, 26)), float(10 ** rng.uniform(1, 3.5)),
                      float(10 ** rng.uniform(1, 3.5)), float(rng.uniform(0.15, 0.7)),
                      float(rng.uniform(0.15, 0.7))))
    cases.append((3e12, 50.0, 5000.0, 0.6, 0.2))
    for C, A, B, a, b in cases:
        got = allocation(C, A, B, a, b)
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"expected a pair (N_opt, D_opt), got {type(got).__name__}")
        n, d = got
        expect(_is_real(n) and _is_real(d) and n > 0 and d > 0,
               f"expected two finite numbers > 0, got {n!r} and {d!r}")
        expect(abs(6 * n * d / C - 1) < 1e-9, f"C = {C:.3g}: 6 N D = {6 * n * d:.4g} is not the budget")
        want_n, _ = _optimal(C, A, B, a, b)
        L = _surface(0.0, A, B, a, b)
        expect(float(L(n, d)) <= float(L(want_n, C / (6 * want_n))) * (1 + 1e-6),
               f"C = {C:.3g}, alpha = {a:.3f}, beta = {b:.3f}: another split of the same compute has a "
               "lower loss; set the derivative of the loss along 6ND = C to zero")
        expect(abs(n / want_n - 1) < 1e-10,
               f"C = {C:.3g}, alpha = {a:.3f}, beta = {b:.3f}: N_opt is close but not exact (relative "
               f"error {abs(n / want_n - 1):.1e}); the task asks for the closed form, not a search")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: extrapolating to a bigger model

def task2(predict_loss):
    """``predict_loss(N, L, N_new) -> float``: fit ``L = E + a N^-alpha`` (least squares in log
    space) to the points ``(N, L)`` and return the fitted law at ``N_new``."""
    not_none(predict_loss, "task 2")
    rng = np.random.default_rng(1201)
    for trial in range(6):
        E, a, alpha = rng.uniform(1.0, 3.0), 10 ** rng.uniform(0.5, 1.5), rng.uniform(0.25, 0.6)
        N = np.geomspace(10 ** rng.uniform(3, 4), 10 ** rng.uniform(5.5, 6.5), int(rng.integers(5, 8)))
        N_new = float(N[-1] * 10 ** rng.uniform(0.5, 1.0))
        L = E + a * N ** -alpha
        noisy = trial >= 4
        if noisy:
            L = L * np.exp(rng.normal(0, 0.002, N.size))
        got = predict_loss(N.tolist(), L.tolist(), N_new)
        expect(_is_real(got), f"expected a float, got {type(got).__name__}")
        truth = E + a * N_new ** -alpha
        if noisy:
            want = power_law_fit(N, L, irreducible=True)(N_new)
            expect(abs(got / want - 1) < 0.01,
                   f"trial {trial + 1} (noisy points): the prediction at N = {N_new:.3g} is off by "
                   f"{100 * abs(got / want - 1):.1f}% from the least-squares fit with a floor")
        else:
            expect(abs(got / truth - 1) < 0.003,
                   f"trial {trial + 1} (points exactly on E + a N^-alpha): the prediction at N = "
                   f"{N_new:.3g} is off by {100 * abs(got / truth - 1):.1f}%; does your law have an "
                   "irreducible term?")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: the parametric surface

def task3(fit_surface):
    """``fit_surface(N, D, L) -> {"E", "A", "B", "alpha", "beta"}``: least squares in log space of
    ``L = E + A / N^alpha + B / D^beta`` over every point ``(N[i], D[i], L[i])``."""
    not_none(fit_surface, "task 3")
    rng = np.random.default_rng(1202)
    truths = [(1.8, 60.0, 200.0, 0.35, 0.3), (2.5, 20.0, 40.0, 0.3, 0.2), (1.2, 300.0, 90.0, 0.5, 0.35)]
    for trial, (E, A, B, a, b) in enumerate(truths):
        Ns = np.geomspace(1e4, 1e7, 6)
        Ds = np.geomspace(1e5, 1e9, 9)
        N, D = (g.ravel() for g in np.meshgrid(Ns, Ds))
        L = _surface(E, A, B, a, b)(N, D)
        noisy = trial == 2
        if noisy:
            L = L * np.exp(rng.normal(0, 0.001, L.size))
        got = fit_surface(N.tolist(), D.tolist(), L.tolist())
        keys = {"E", "A", "B", "alpha", "beta"}
        expect(isinstance(got, dict) and keys <= set(got),
               f"expected a dict with keys {sorted(keys)}, got {type(got).__name__}"
               + (f" with keys {sorted(got)}" if isinstance(got, dict) else ""))
        expect(all(_is_real(got[k]) for k in keys), "every fitted constant must be a finite number")
        # predictions inside and a little outside the sampled range
        tn = np.array([3e4, 3e6, 3e7, 1e5])
        td = np.array([3e8, 1e6, 3e9, 1e10])
        pred = _surface(*(float(got[k]) for k in ("E", "A", "B", "alpha", "beta")))(tn, td)
        true = _surface(E, A, B, a, b)(tn, td)
        worst = float(np.max(np.abs(pred / true - 1)))
        tol = 0.01 if noisy else 0.002
        expect(worst < tol, f"surface {trial + 1}: predictions at new (N, D) are off by up to "
                            f"{100 * worst:.2f}%; fit E, A, B, alpha and beta jointly to every point")
        if not noisy:
            expect(abs(got["alpha"] - a) < 0.02 and abs(got["beta"] - b) < 0.02,
                   f"surface {trial + 1}: the fitted exponents are off (the points lie exactly on the "
                   "surface, so a joint fit recovers them)")
            expect(abs(got["E"] / E - 1) < 0.02, f"surface {trial + 1}: the irreducible loss E is off")
    return passed("task 3")
