"""Figures: curves, attention heatmaps (a grid of heads), log-log plots with fitted slopes.

Every function checks its input before it draws anything: numbers must be
finite (a NaN would draw as a silent gap), log axes need positive values, tick
labels and titles must match the panels.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import validate as check


_OPTIONAL_FINITE = "finite, a number or None"


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _as_array(x, name):
    """``x`` (list, array or tensor of real numbers) as a float array; TypeError otherwise."""
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must be real numbers, got a tensor of dtype {x.dtype}")
        x = x.detach().float().cpu().numpy()
    if isinstance(x, (str, bytes, dict)):
        raise TypeError(f"{name} must be numbers (list, array or tensor), got {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be numbers (list, array or tensor), got {type(x).__name__}") from e
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numbers (list, array or tensor), got {type(x).__name__} "
                        f"holding {arr.dtype} values")
    return arr.astype(float)


def _finite(arr, name):
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite numbers, got {arr[first]} at index "
                         f"{first[0] if len(first) == 1 else first} ({int(bad.sum())} non-finite in all)")
    return arr


def _check_figsize(figsize):
    if (not isinstance(figsize, (tuple, list)) or len(figsize) != 2
            or not all(check.is_number(v) for v in figsize)):
        raise TypeError(f"figsize must be a pair of numbers (width, height) in inches, got {figsize!r}")
    if not all(math.isfinite(v) and v > 0 for v in figsize):
        raise ValueError(f"figsize must be two finite sizes > 0, got {figsize!r}")


def _check_ax(ax):
    if ax is None:
        return
    from matplotlib.axes import Axes
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be None or a matplotlib Axes, got {type(ax).__name__}")


def _check_curves(curves, logx=False, logy=False):
    """``{label: (xs, ys)}`` as ``{label: (x array, y array)}``: 1-D, equal lengths, finite."""
    if not isinstance(curves, dict):
        raise TypeError(f"curves must be a non-empty dict {{label: (xs, ys)}}, got {type(curves).__name__}")
    if not curves:
        raise ValueError("curves must be a non-empty dict {label: (xs, ys)}, got an empty dict")
    out = {}
    for label, pair in curves.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"curve {label!r} must be a pair (xs, ys), got {type(pair).__name__}"
                            + (f" of length {len(pair)}" if isinstance(pair, (tuple, list)) else ""))
        xs, ys = _as_array(pair[0], f"curve {label!r} xs"), _as_array(pair[1], f"curve {label!r} ys")
        if xs.ndim != 1 or ys.ndim != 1 or xs.shape != ys.shape:
            raise ValueError(f"curve {label!r}: xs and ys must be 1-D and have the same length, got "
                             f"shapes {xs.shape} and {ys.shape}")
        if len(xs) == 0:
            raise ValueError(f"curve {label!r} is empty: it has no points")
        _finite(xs, f"curve {label!r} xs")
        _finite(ys, f"curve {label!r} ys")
        for flag, arr, axis in ((logx, xs, "x"), (logy, ys, "y")):
            if flag and (arr <= 0).any():
                raise ValueError(f"curve {label!r}: a log {axis} axis needs {axis} > 0, got {arr[arr <= 0][0]}")
        out[label] = (xs, ys)
    return out


def plot_curves(curves: dict, xlabel="step", ylabel="loss", title=None, logx=False, logy=False,
                ax=None, figsize=(5, 3), marker=None):
    """One line per entry of ``curves``: ``{label: (xs, ys)}``. Returns the axes."""
    check.string(xlabel, "xlabel")
    check.string(ylabel, "ylabel")
    check.string(title, "title", allow_none=True)
    check.boolean(logx, "logx")
    check.boolean(logy, "logy")
    _check_ax(ax)
    _check_figsize(figsize)
    arrays = _check_curves(curves, logx, logy)
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    for label, (xs, ys) in arrays.items():
        ax.plot(xs, ys, label=str(label), marker=marker)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    return ax


def _check_labels(labels, name, want, what):
    if labels is None:
        return None
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple, np.ndarray)):
        raise TypeError(f"{name} must be a list with one label per {what}, got {type(labels).__name__}")
    labels = [str(t) for t in labels]
    if len(labels) != want:
        raise ValueError(f"{name} must have one label per {what} ({want}), got {len(labels)}")
    return labels


def show_heatmaps(matrices, xlabel, ylabel, titles=None, figsize=(2.5, 2.5), cmap="Reds",
                  xticklabels=None, yticklabels=None, colorbar=True, vmin=0.0, vmax=None):
    """Heatmaps of a 4-D array ``(rows, cols, n_queries, n_keys)``, like ``d2l.show_heatmaps``.

    All panels share one colour scale, from ``vmin`` (default 0, for attention
    weights) to ``vmax`` (default: the largest value), so the single colour
    bar reads correctly for every panel; pass ``vmin=-1, vmax=1`` with a
    diverging ``cmap`` for similarities (``None`` takes the data's extreme).
    ``titles`` has one entry per column or per panel; ``xticklabels`` one per
    key and ``yticklabels`` one per query put tokens on the axes. Values must
    be finite. Returns the figure.
    """
    m = _as_array(matrices, "matrices")
    if m.ndim != 4:
        raise ValueError(f"matrices must have 4 dimensions (rows, cols, queries, keys), got shape {m.shape}")
    if 0 in m.shape:
        raise ValueError(f"matrices must not be empty, got shape {m.shape}")
    _finite(m, "matrices")
    check.string(xlabel, "xlabel")
    check.string(ylabel, "ylabel")
    rows, cols = m.shape[:2]
    if titles is not None:
        if isinstance(titles, (str, bytes)) or not isinstance(titles, (list, tuple)):
            raise TypeError(f"titles must be a list of str, got {type(titles).__name__}")
        if len(titles) not in (cols, rows * cols):
            raise ValueError(f"titles must have one entry per column ({cols}) or per panel "
                             f"({rows * cols}), got {len(titles)}")
    xticklabels = _check_labels(xticklabels, "xticklabels", m.shape[3], "key (the last dimension)")
    yticklabels = _check_labels(yticklabels, "yticklabels", m.shape[2], "query (the third dimension)")
    _check_figsize(figsize)
    check.boolean(colorbar, "colorbar")
    vmin = check.number(vmin, "vmin", allow_none=True, what=_OPTIONAL_FINITE)
    vmax = check.number(vmax, "vmax", allow_none=True, what=_OPTIONAL_FINITE)
    vmin = float(m.min()) if vmin is None else vmin
    vmax = float(m.max()) if vmax is None else vmax
    if vmin > vmax:
        raise ValueError(f"vmin must not exceed vmax, got vmin={vmin} and vmax={vmax} (values span "
                         f"{float(m.min())} to {float(m.max())}; pass vmin=None to start at the smallest)")
    plt = _plt()
    fig, axes = plt.subplots(rows, cols, figsize=(figsize[0] * cols, figsize[1] * rows),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for i in range(rows):
        for j in range(cols):
            ax = axes[i, j]
            pcm = ax.imshow(m[i, j], cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
            if i == rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel)
            if titles:
                ax.set_title(titles[j] if rows == 1 or len(titles) == cols else titles[i * cols + j])
            if xticklabels is not None:
                ax.set_xticks(range(len(xticklabels)))
                ax.set_xticklabels(xticklabels, rotation=90, fontsize=8)
            if yticklabels is not None:
                ax.set_yticks(range(len(yticklabels)))
                ax.set_yticklabels(yticklabels, fontsize=8)
    if colorbar:
        fig.colorbar(pcm, ax=axes, shrink=0.6)
    return fig


SCORES = ("bleu", "exact")


def _check_bucket_rows(label, rows, keys):
    """The non-empty buckets of one model's rows from ``seq2seq.bleu_by_length``."""
    if isinstance(rows, (str, bytes, dict)) or not isinstance(rows, (list, tuple)):
        raise TypeError(f"rows_by_model[{label!r}] must be a list of rows from bleu_by_length, "
                        f"got {type(rows).__name__}")
    kept = []
    for i, r in enumerate(rows):
        where = f"rows_by_model[{label!r}][{i}]"
        if not isinstance(r, dict):
            raise TypeError(f"{where} must be a dict with 'bucket', 'n' and the scores, got {type(r).__name__}")
        missing = [k for k in ("bucket", "n", *keys) if k not in r]
        if missing:
            raise ValueError(f"{where} lacks {missing}: expected a row of bleu_by_length")
        b, n = r["bucket"], r["n"]
        ints = isinstance(b, (tuple, list)) and len(b) == 2 and all(
            check.is_int(e) for e in b)
        if not ints or b[0] >= b[1]:
            raise ValueError(f"{where}['bucket'] must be two increasing ints (lo, hi), got {b!r}")
        if not check.is_int(n) or n < 0:
            raise ValueError(f"{where}['n'] must be a count >= 0, got {n!r}")
        if n == 0:
            continue
        for k in keys:
            v = r[k]
            if not check.is_number(v) or not math.isfinite(v):
                raise ValueError(f"{where}[{k!r}] must be a finite number for a bucket of {n} "
                                 f"sentences, got {v!r}")
        kept.append(r)
    if not kept:
        raise ValueError(f"rows_by_model[{label!r}] has no non-empty bucket to plot")
    return kept


def plot_buckets(rows_by_model: dict, title=None, keys=("bleu",), figsize=(4.5, 3)):
    """Quality against source length: one line per model, one panel per score.

    ``rows_by_model`` maps a label to the rows of ``seq2seq.bleu_by_length``;
    ``keys`` picks the scores (``"bleu"``, ``"exact"``). Empty buckets are left
    out. Returns the figure.
    """
    if not isinstance(rows_by_model, dict):
        raise TypeError("rows_by_model must be a non-empty dict {label: rows from bleu_by_length}, "
                        f"got {type(rows_by_model).__name__}")
    if not rows_by_model:
        raise ValueError("rows_by_model must be a non-empty dict {label: rows from bleu_by_length}, "
                         "got an empty dict")
    if isinstance(keys, (str, bytes)) or not isinstance(keys, (list, tuple)):
        raise TypeError(f"keys must be a tuple of score names among {SCORES}, got {type(keys).__name__} "
                        f"{keys!r}")
    if not keys:
        raise ValueError(f"keys must name at least one score among {SCORES}")
    unknown = [k for k in keys if k not in SCORES]
    if unknown:
        raise ValueError(f"keys must be among {SCORES}, got {unknown}")
    check.string(title, "title", allow_none=True)
    _check_figsize(figsize)
    kept = {label: _check_bucket_rows(label, rows, keys) for label, rows in rows_by_model.items()}
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(figsize[0] * len(keys), figsize[1]), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, rows in kept.items():
            ax.plot([f"{r['bucket'][0]}-{r['bucket'][1] - 1}" for r in rows], [r[key] for r in rows],
                    "o-", label=str(label))
        ax.set(xlabel="source length (tokens)", ylabel="BLEU" if key == "bleu" else "exact match")
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _check_power_law_points(x, y, what="x and y"):
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"{what} must be 1-D and have the same length, got shapes {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError(f"a power-law fit needs at least 2 points, got {len(x)}")
    _finite(x, "x")
    _finite(y, "y")
    if (x <= 0).any() or (y <= 0).any():
        bad = np.concatenate([x[x <= 0], y[y <= 0]])
        raise ValueError(f"a power-law fit needs positive x and y (it fits their logarithms), got {bad[0]}")
    if np.ptp(np.log(x)) == 0:
        raise ValueError(f"a power-law fit needs at least two different x values, got x all equal to {x[0]}")


def fit_power_law(x, y):
    """Least-squares fit of ``log y = slope * log x + intercept``; returns ``(slope, intercept)``.

    ``x`` and ``y``: 1-D, the same length >= 2, finite and positive, with at
    least two different ``x``.
    """
    x, y = _as_array(x, "x"), _as_array(y, "y")
    _check_power_law_points(x, y)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


def loglog(curves: dict, xlabel, ylabel, title=None, ax=None, figsize=(5, 3.5), fit_from=None):
    """Log-log plot of ``{label: (xs, ys)}`` with a fitted slope per curve in the legend.

    ``fit_from`` fits only points with ``x >= fit_from`` (where the leading term
    dominates); at least two points with different x must remain. Returns
    ``(ax, {label: slope})``.
    """
    check.string(xlabel, "xlabel")
    check.string(ylabel, "ylabel")
    check.string(title, "title", allow_none=True)
    _check_ax(ax)
    _check_figsize(figsize)
    check.number(fit_from, "fit_from", low=0, strict=True, allow_none=True, what="None or a finite x > 0")
    arrays = _check_curves(curves, logx=True, logy=True)
    fits = {}
    for label, (xs, ys) in arrays.items():
        keep = xs >= fit_from if fit_from is not None else np.ones_like(xs, dtype=bool)
        try:
            _check_power_law_points(xs[keep], ys[keep])
        except ValueError as e:
            where = f" with x >= fit_from={fit_from}" if fit_from is not None else ""
            raise ValueError(f"curve {label!r}{where}: {e}") from e
        fits[label] = keep
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    slopes = {}
    for label, (xs, ys) in arrays.items():
        keep = fits[label]
        slope, icpt = fit_power_law(xs[keep], ys[keep])
        slopes[label] = slope
        line, = ax.plot(xs, ys, "o", label=f"{label}: slope {slope:.2f}")
        grid = np.geomspace(xs[keep].min(), xs[keep].max(), 20)
        ax.plot(grid, math.e ** icpt * grid ** slope, "--", color=line.get_color(), lw=1)
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax, slopes
