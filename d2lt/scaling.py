"""Scaling laws from the course's own runs: a ladder of GPTs, power-law fits, compute-optimal sizes.

The pieces chapter 12 and ``scripts/train_scaling_ladder.py`` share, in the
order data flows:

* :data:`LADDER` / :func:`ladder_configs` -- the sizes of the ladder (pre-norm
  :class:`d2lt.gpt.GPT`, tied embeddings, the wiki BPE vocabulary), and
  :data:`MINI_LADDERS`, the small ladders a notebook trains live;
* :func:`non_embedding_params` -- Kaplan et al.'s ``N``: every parameter but
  the token and position tables;
* :func:`training_flops` -- ``C = 6 N D``;
* :func:`log_steps` and :func:`train_rung` -- train one rung and record its
  held-out loss at log-spaced token counts;
* :func:`power_law_fit` -- least squares in log space of ``L = a x^-alpha``,
  or of ``L = E + a x^-alpha`` with an irreducible loss ``E`` fitted too;
* :func:`loss_at_tokens`, :func:`isoflop_profiles`, :func:`isoflop_optimum`
  -- Chinchilla's IsoFLOP analysis: for a compute budget ``C``, every model's
  loss after ``D = C / (6 N)`` tokens, and the best ``N``;
* :func:`save_results` / :func:`load_results` -- the ladder's loss curves as
  a JSON file that carries a sha256 of its own contents (a damaged file is a
  ``ValueError``);
* :data:`QUOTED_RUNS`, :data:`KAPLAN_EXPONENTS`, :data:`CHINCHILLA_FIT` --
  published figures, kept as data with their sources.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import validate as check
from .core import seeded

__all__ = ["LADDER", "MINI_LADDERS", "ladder_configs", "non_embedding_params", "training_flops", "counted_training_flops",
           "log_steps", "train_rung", "Ladder", "PowerLawFit", "power_law_fit", "loss_at_tokens",
           "isoflop_profiles", "isoflop_optimum", "save_results", "load_results", "RESULTS",
           "WEIGHTS", "RESULTS_FORMAT", "QUOTED_RUNS", "KAPLAN_EXPONENTS", "CHINCHILLA_FIT",
           "chinchilla_loss"]

RESULTS = "ch12_ladder.json"          # the loss curves of the shipped ladder
WEIGHTS = "ch12_ladder_weights.pt"    # the final weights of its rungs (float16)
RESULTS_FORMAT = "d2lt-scaling-ladder-v1"

# (name, n_layer, n_embd, n_head): non-embedding parameters from 3.3k to 0.79M (240x)
LADDER = (("L1-d16", 1, 16, 2), ("L2-d32", 2, 32, 2), ("L2-d48", 2, 48, 3),
          ("L3-d64", 3, 64, 4), ("L4-d96", 4, 96, 4), ("L4-d128", 4, 128, 4))
# the ladders a notebook trains live, per profile
MINI_LADDERS = {"ci": (("L1-d8", 1, 8, 2), ("L1-d16", 1, 16, 2), ("L2-d24", 2, 24, 2),
                       ("L2-d32", 2, 32, 2), ("L2-d48", 2, 48, 2)),
                "cpu": (("L1-d16", 1, 16, 2), ("L2-d32", 2, 32, 2), ("L2-d48", 2, 48, 3),
                        ("L3-d64", 3, 64, 4), ("L3-d96", 3, 96, 4))}


def _rungs(rungs):
    rungs = check.sequence(rungs, "rungs", "a list of (name, n_layer, n_embd, n_head)", nonempty=True)
    out = []
    for i, r in enumerate(rungs):
        if not isinstance(r, (tuple, list)) or len(r) != 4:
            raise TypeError(f"rungs[{i}] must be a tuple (name, n_layer, n_embd, n_head), "
                            f"got {check.describe(r)}")
        name = check.string(r[0], f"rungs[{i}] name", nonempty=True)
        out.append((name, check.integer(r[1], f"rungs[{i}] n_layer", 1),
                    check.integer(r[2], f"rungs[{i}] n_embd", 1),
                    check.integer(r[3], f"rungs[{i}] n_head", 1)))
    return out


def ladder_configs(vocab_size: int, block_size: int = 64, rungs=LADDER) -> dict:
    """``{name: GPTConfig}`` for the rungs ``(name, n_layer, n_embd, n_head)``, smallest first.

    Every rung is a pre-norm GPT with tied embeddings, no dropout (the ladder
    sees each token about twice), the same vocabulary and context.
    """
    from .gpt import GPTConfig

    vocab_size = check.integer(vocab_size, "vocab_size", 2)
    block_size = check.integer(block_size, "block_size", 1)
    return {name: GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=L, n_head=h,
                            n_embd=d, dropout=0.0)
            for name, L, d, h in _rungs(rungs)}


def non_embedding_params(model) -> int:
    """Kaplan et al.'s ``N`` of a :class:`d2lt.gpt.GPT` (or its ``GPTConfig``): all parameters but
    the token and position embedding tables.

    From a model it is counted, ``sum(p.numel())`` over distinct parameters
    minus the two tables (a tied head is the token table, so it goes too);
    from a config it is computed from the sizes.
    """
    from .gpt import GPT, GPTConfig

    if isinstance(model, GPTConfig):
        return model.parameter_count(non_embedding=True) - model.vocab_size * model.n_embd
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT or a GPTConfig, got {check.describe(model)}")
    tables = model.transformer.wte.weight.numel() + model.transformer.wpe.weight.numel()
    return sum(p.numel() for p in model.parameters()) - tables


def training_flops(n_params, tokens) -> float:
    """``C = 6 N D``: forward (2 per parameter per token) plus backward (4) FLOPs."""
    n = check.number(n_params, "n_params", 0, strict=True)
    d = check.number(tokens, "tokens", 0, strict=True)
    return 6.0 * n * d


def counted_training_flops(config, batch_size: int = 2, seq_len: int | None = None) -> int:
    """The matmul FLOPs of one training step (forward and backward) of a fresh GPT of ``config`` on a
    ``(batch_size, seq_len)`` batch, counted by ``torch.utils.flop_counter.FlopCounterMode``
    (:func:`d2lt.complexity.count_flops`), with the attention written as explicit matmuls
    (:func:`d2lt.bench.explicit_attention`) so that its products are counted too.
    """
    from . import bench, complexity
    from .gpt import GPT, GPTConfig

    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a d2lt.gpt.GPTConfig, got {check.describe(config)}")
    batch_size = check.integer(batch_size, "batch_size", 1)
    T = config.block_size if seq_len is None else check.integer(seq_len, "seq_len", 1, config.block_size)
    with seeded(0):
        model = GPT(config)
        x = torch.randint(0, config.vocab_size, (batch_size, T))

    def step():
        model(x, x)[1].backward()

    with bench.explicit_attention():
        return complexity.count_flops(step)


def log_steps(total: int, n: int) -> list:
    """About ``n`` distinct steps from 1 to ``total``, evenly spaced in ``log(step)`` (the last is ``total``)."""
    total = check.integer(total, "total", 1)
    n = check.integer(n, "n", 1)
    return sorted({int(round(s)) for s in np.geomspace(1, total, n)} | {total})


def _lr(n_embd: int, base: float) -> float:
    return base * min(1.0, math.sqrt(64 / n_embd))  # narrower models take a larger step


def train_rung(model, train_ids, valid_blocks, *, steps: int, batch_size: int = 16, lr: float = 3e-3,
               warmup: int | None = None, evals: int = 12, seed: int = 0, budget=None, device=None,
               progress: bool = False) -> dict:
    """Train one rung on ``train_ids`` and record its held-out loss at log-spaced token counts.

    AdamW (:class:`d2lt.lm.ScheduledAdamW`) with a linear warm-up, then a
    *constant* learning rate ``lr * min(1, sqrt(64 / n_embd))``, so that
    every point of the curve is a model trained the same way; the held-out
    loss (:func:`d2lt.lm.evaluate_loss` on ``valid_blocks``) is measured after
    :func:`log_steps` ``(steps, evals)`` steps. ``budget`` (a
    :class:`d2lt.train.CPUBudget`) may stop the run early; evaluation does not
    count against it. Returns ``{"tokens": [...], "loss": [...], "steps": n,
    "cpu_seconds": s}`` with the model trained in place.
    """
    from . import lm, train
    from .gpt import GPT

    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT, got {check.describe(model)}")
    if not isinstance(valid_blocks, lm.TokenBlocks):
        raise TypeError(f"valid_blocks must be a d2lt.lm.TokenBlocks, got {check.describe(valid_blocks)}")
    steps = check.integer(steps, "steps", 1)
    batch_size = check.integer(batch_size, "batch_size", 1)
    lr = check.number(lr, "lr", 0, strict=True)
    warmup = max(1, steps // 20) if warmup is None else check.integer(warmup, "warmup", 0, steps - 1)
    if budget is not None and not isinstance(budget, train.CPUBudget):
        raise TypeError(f"budget must be None or a d2lt.train.CPUBudget, got {check.describe(budget)}")
    T = model.config.block_size
    blocks = lm.TokenBlocks(train_ids, T)
    rate = _lr(model.config.n_embd, lr)
    opt = lm.ScheduledAdamW(model, rate, warmup, steps + 1, min_lr=rate)  # constant after warm-up
    curve_t, curve_l = [], []
    seed = check.integer(seed, "seed", 0)
    check.boolean(progress, "progress")
    cpu0 = budget.cpu_seconds() if budget is not None else None
    t0 = time.process_time()
    for at in log_steps(steps, evals):
        n = at - opt.steps_taken  # > 0: the steps are distinct and every stretch ran in full
        if budget is not None and budget.seconds_left() <= 0:
            break
        left = None if budget is None else max(1e-3, budget.seconds_left())
        # fit's default log_every keeps its list of per-step loss tensors short (one as long
        # as a thousand-step stretch made the resident memory grow by megabytes a step)
        h = train.fit(model, blocks.batches(batch_size, n, seed=seed + opt.steps_taken), lm.lm_step,
                      optimizer=opt, progress=progress, plot=False, max_seconds=left, device=device)
        done = opt.steps_taken
        with budget.excluded() if budget is not None else contextlib.nullcontext():
            loss = lm.evaluate_loss(model, valid_blocks, device=device)
        curve_t.append(done * batch_size * T)
        curve_l.append(loss)
        if h.stopped_by == "max_seconds":
            break
    spent = (budget.cpu_seconds() - cpu0) if budget is not None else time.process_time() - t0
    return {"tokens": curve_t, "loss": curve_l, "steps": opt.steps_taken, "cpu_seconds": spent,
            "lr": rate, "warmup": warmup, "batch_size": batch_size}


class Ladder(torch.nn.ModuleDict):
    """The rungs of a ladder as one module (``{name: GPT}``), for one checkpoint file.

    Its ``state_dict`` leaves out every tied head (``lm_head.weight`` is the
    token table, already stored once), so a saved ladder is not twice the
    size of its embeddings; loading restores the tie.
    """

    def __init__(self, configs: dict):
        from .gpt import GPT, GPTConfig

        if not isinstance(configs, dict) or not configs:
            raise TypeError(f"configs must be a non-empty dict {{name: GPTConfig}}, got {check.describe(configs)}")
        bad = [k for k, c in configs.items() if not isinstance(c, GPTConfig) or not isinstance(k, str)]
        if bad:
            raise TypeError(f"configs must map names (str) to d2lt.gpt.GPTConfig, got {bad[0]!r}: "
                            f"{check.describe(configs[bad[0]])}")
        super().__init__({self.key(k): GPT(c) for k, c in configs.items()})
        self.names = list(configs)

    @staticmethod
    def key(name: str) -> str:
        return name.replace("-", "_").replace(".", "_")

    def rung(self, name: str):
        check.string(name, "name", choices=self.names)
        return self[self.key(name)]

    def _tied(self):
        return {f"{k}.lm_head.weight" for k, m in self.items() if m.config.tie_weights}

    def state_dict(self, *args, **kwargs):
        sd = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "")
        for k in self._tied():
            sd.pop(prefix + k, None)
        return sd

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        res = super().load_state_dict(state_dict, strict=False, assign=assign)
        tied = self._tied()
        missing = [k for k in res.missing_keys if k not in tied]
        if strict and (missing or res.unexpected_keys):
            raise RuntimeError(f"ladder state does not fit: missing {missing[:5]}, unexpected "
                               f"{res.unexpected_keys[:5]}")
        return res


# --------------------------------------------------------------------------- power laws

def _points(x, y, name_x="x", name_y="y"):
    xs, ys = [], []
    for name, v, out in ((name_x, x, xs), (name_y, y, ys)):
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().tolist()
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        v = check.sequence(v, name, "a list of numbers", nonempty=True)
        for i, e in enumerate(v):
            out.append(check.number(e, f"{name}[{i}]", 0, strict=True,
                                    what="a finite number > 0 (a power law is fitted in log space)"))
    check.same_length(xs, ys, name_x, name_y)
    if len(set(xs)) < 2:
        raise ValueError(f"a power-law fit needs at least two different {name_x} values, got {sorted(set(xs))}")
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


@dataclass(frozen=True)
class PowerLawFit:
    """``L(x) = floor + coef * x ** -alpha``; ``floor`` is 0 when no irreducible loss was fitted.

    ``rmse_log``: the root-mean-square residual of ``log L`` over the fitted points.
    """

    alpha: float
    coef: float
    floor: float
    rmse_log: float

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(x)) or np.any(x <= 0):
            raise ValueError(f"x must be finite and > 0, got {x}")
        return self.floor + self.coef * x ** -self.alpha

    @property
    def scale(self) -> float:
        """Kaplan's form ``(x_c / x) ** alpha``: ``x_c = coef ** (1 / alpha)``."""
        return self.coef ** (1 / self.alpha) if self.alpha > 0 else math.inf


def _fit_fixed_floor(lx, ly, floor):
    """Least squares of ``log(y - floor) = log a - alpha log x``, scored by the residual of ``log y``."""
    from .plot import fit_power_law

    slope, icpt = fit_power_law(np.exp(lx), np.exp(ly) - floor)
    pred = np.log(floor + np.exp(icpt) * np.exp(lx) ** slope)
    return -slope, math.exp(icpt), float(np.sqrt(np.mean((pred - ly) ** 2)))


def power_law_fit(x, y, irreducible: bool = False) -> PowerLawFit:
    """Fit ``y = a x^-alpha`` (or ``y = E + a x^-alpha`` with ``irreducible=True``) by least squares in log space.

    Without ``E`` it is a straight line through ``(log x, log y)``. With ``E``
    the residuals are still those of ``log y`` (every point counts alike
    whatever its size): for a given ``E`` the best ``(a, alpha)`` is the line
    through ``(log x, log(y - E))``, so the fit searches ``E`` in ``[0,
    min y)`` (a grid, then a bounded scalar search around the best cell).
    ``x`` and ``y``: the same length, finite and > 0, at least two different
    ``x`` (three with ``E``).
    """
    xs, ys = _points(x, y)
    check.boolean(irreducible, "irreducible")
    lx, ly = np.log(xs), np.log(ys)
    if not irreducible:
        alpha, coef, rmse = _fit_fixed_floor(lx, ly, 0.0)
        return PowerLawFit(alpha, coef, 0.0, rmse)
    if len(set(xs.tolist())) < 3:
        raise ValueError(f"a fit with an irreducible term needs at least three different x values, "
                         f"got {sorted(set(xs.tolist()))}")
    from scipy.optimize import minimize_scalar

    top = float(ys.min()) * (1 - 1e-9)
    grid = np.linspace(0.0, top, 401)
    scores = [_fit_fixed_floor(lx, ly, e)[2] for e in grid]
    k = int(np.argmin(scores))
    lo, hi = grid[max(0, k - 1)], grid[min(len(grid) - 1, k + 1)]
    best = grid[k]
    if hi > lo:
        res = minimize_scalar(lambda e: _fit_fixed_floor(lx, ly, e)[2], bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-10 * max(1.0, top)})
        if res.fun <= scores[k]:
            best = float(res.x)
    alpha, coef, rmse = _fit_fixed_floor(lx, ly, best)
    return PowerLawFit(alpha, coef, float(best), rmse)


# --------------------------------------------------------------------------- compute-optimal size

def _curve(tokens, loss, name="curve"):
    t, l_ = _points(tokens, loss, f"{name} tokens", f"{name} loss")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{name} tokens must increase, got {t.tolist()}")
    return t, l_


def loss_at_tokens(tokens, loss, at) -> float:
    """The loss of a curve ``(tokens, loss)`` after ``at`` tokens, interpolated linearly in
    ``(log tokens, log loss)``; NaN outside the measured range (no extrapolation)."""
    t, l_ = _curve(tokens, loss)
    return _interp_log(t, l_, check.number(at, "at", 0, strict=True))


def _interp_log(t, l_, at: float) -> float:
    """:func:`loss_at_tokens` on a curve already checked by :func:`_curve`."""
    if at < t[0] * (1 - 1e-12) or at > t[-1] * (1 + 1e-12):
        return math.nan
    return float(np.exp(np.interp(math.log(at), np.log(t), np.log(l_))))


def isoflop_profiles(curves: dict, budgets, n_key: str = "N") -> dict:
    """For each compute ``C`` in ``budgets``: ``[(N, loss), ...]`` of every model whose curve reaches
    ``D = C / (6 N)`` tokens (models for which it does not are left out).

    ``curves``: ``{name: {"N": n, "tokens": [...], "loss": [...]}}``.
    """
    if not isinstance(curves, dict) or not curves:
        raise TypeError(f"curves must be a non-empty dict {{name: {{'N', 'tokens', 'loss'}}}}, "
                        f"got {check.describe(curves)}")
    budgets = check.sequence(budgets, "budgets", "a list of compute budgets (FLOPs)", nonempty=True)
    budgets = [check.number(c, f"budgets[{i}]", 0, strict=True) for i, c in enumerate(budgets)]
    rows = []
    for name, c in curves.items():
        if not isinstance(c, dict) or not {n_key, "tokens", "loss"} <= set(c):
            raise ValueError(f"curves[{name!r}] must hold {n_key!r}, 'tokens' and 'loss', got "
                             f"{check.describe(c)}")
        n = check.number(c[n_key], f"curves[{name!r}][{n_key!r}]", 0, strict=True)
        rows.append((n, *_curve(c["tokens"], c["loss"], f"curves[{name!r}]")))
    out = {}
    for C in budgets:
        pts = []
        for n, t, l_ in sorted(rows, key=lambda r: r[0]):
            v = _interp_log(t, l_, C / (6 * n))
            if not math.isnan(v):
                pts.append((n, v))
        out[C] = pts
    return out


def isoflop_optimum(n_params, losses) -> float:
    """The compute-optimal ``N`` of one IsoFLOP profile: the vertex of a parabola in ``log N``
    through the best point and its two neighbours (Hoffmann et al.'s approach 2, locally).

    Needs at least three models, with the smallest loss not at either end
    (otherwise the optimum lies outside the ladder and a ``ValueError`` says so).
    """
    n, l_ = _points(n_params, losses, "n_params", "losses")
    order = np.argsort(n)
    n, l_ = n[order], l_[order]
    if len(n) < 3:
        raise ValueError(f"an IsoFLOP optimum needs at least three models, got {len(n)}")
    k = int(np.argmin(l_))
    if k in (0, len(n) - 1):
        end = "smallest" if k == 0 else "largest"
        raise ValueError(f"the lowest loss is at the {end} model (N = {n[k]:.3g}): the optimum lies "
                         "outside the ladder")
    x = np.log(n[k - 1:k + 2])
    a, b, _ = np.polyfit(x, np.log(l_[k - 1:k + 2]), 2)
    return float(math.exp(-b / (2 * a))) if a > 0 else float(n[k])


# --------------------------------------------------------------------------- the results file

def _digest(body) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_results(path, body: dict):
    """Write ``body`` (JSON-serialisable) with a format tag and its own sha256, atomically."""
    from .files import as_path, atomic_write_text

    path = as_path(path)
    if not isinstance(body, dict):
        raise TypeError(f"body must be a dict, got {check.describe(body)}")
    try:
        digest = _digest(body)
    except (TypeError, ValueError) as e:
        raise ValueError(f"body must be JSON-serialisable: {e}") from e
    text = json.dumps({"format": RESULTS_FORMAT, "sha256": digest, "body": body}, sort_keys=True, indent=1)
    return atomic_write_text(path, text + "\n")


def load_results(path) -> dict:
    """The ``body`` saved by :func:`save_results`; ``FileNotFoundError`` if absent, ``ValueError`` if the
    file is not JSON, has another format or its contents do not match the stored sha256."""
    from .files import as_path

    path = as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"results file {path} is damaged ({type(e).__name__}: {e})") from e
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT or "body" not in doc:
        raise ValueError(f"{path} is not a {RESULTS_FORMAT} results file")
    if not isinstance(doc["body"], dict) or doc.get("sha256") != _digest(doc["body"]):
        raise ValueError(f"results file {path} is damaged: its contents do not match the stored sha256")
    return doc["body"]


# --------------------------------------------------------------------------- quoted figures

# Kaplan, McCandlish et al. 2020, "Scaling Laws for Neural Language Models" (arXiv:2001.08361),
# eqs. 1.1-1.3: L(N) = (N_c/N)^alpha_N, L(D) = (D_c/D)^alpha_D, L(C_min) = (C_c/C_min)^alpha_C.
KAPLAN_EXPONENTS = {"alpha_N": 0.076, "alpha_D": 0.095, "alpha_C": 0.050,
                    "source": "Kaplan et al. 2020, Scaling Laws for Neural Language Models, eqs. 1.1-1.3 "
                              "(quoted)"}

# Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (arXiv:2203.15556),
# eq. 10 (approach 3): L(N, D) = E + A / N^alpha + B / D^beta.
CHINCHILLA_FIT = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28,
                  "source": "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, "
                            "eq. 10 (quoted)"}


def chinchilla_loss(n_params, tokens, fit: dict = CHINCHILLA_FIT) -> float:
    """``E + A / N^alpha + B / D^beta`` with the constants of ``fit`` (default: Hoffmann et al.'s, quoted)."""
    n = check.number(n_params, "n_params", 0, strict=True)
    d = check.number(tokens, "tokens", 0, strict=True)
    if not isinstance(fit, dict) or not {"E", "A", "B", "alpha", "beta"} <= set(fit):
        raise TypeError(f"fit must be a dict with E, A, B, alpha, beta, got {check.describe(fit)}")
    return fit["E"] + fit["A"] / n ** fit["alpha"] + fit["B"] / d ** fit["beta"]


# Parameters and training tokens as the papers report them (quoted; all parameters, embeddings
# included).
_LLAMA = "Touvron et al. 2023, LLaMA: Open and Efficient Foundation Language Models, table 2"
QUOTED_RUNS = (
    {"model": "GPT-3", "params": 175e9, "tokens": 300e9,
     "source": "Brown et al. 2020, Language Models are Few-Shot Learners, table 2.1"},
    {"model": "Gopher", "params": 280e9, "tokens": 300e9,
     "source": "Rae et al. 2021, Scaling Language Models: Methods, Analysis & Insights from Training "
               "Gopher, table 1"},
    {"model": "MT-NLG", "params": 530e9, "tokens": 270e9,
     "source": "Smith et al. 2022, Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B"},
    {"model": "Chinchilla", "params": 70e9, "tokens": 1.4e12,
     "source": "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, table 1"},
    {"model": "PaLM", "params": 540e9, "tokens": 780e9,
     "source": "Chowdhery et al. 2022, PaLM: Scaling Language Modeling with Pathways"},
    {"model": "Llama 7B", "params": 6.7e9, "tokens": 1.0e12,
     "source": _LLAMA},
    {"model": "Llama 13B", "params": 13.0e9, "tokens": 1.0e12,
     "source": _LLAMA},
    {"model": "Llama 33B", "params": 32.5e9, "tokens": 1.4e12,
     "source": _LLAMA},
    {"model": "Llama 65B", "params": 65.2e9, "tokens": 1.4e12,
     "source": _LLAMA},
)
