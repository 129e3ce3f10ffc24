"""Figures: curves, attention heatmaps (a grid of heads), log-log plots with fitted slopes."""
from __future__ import annotations

import math

import numpy as np
import torch


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _as_array(x, name):
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be numbers (list, array or tensor), got {type(x).__name__}") from e


def plot_curves(curves: dict, xlabel="step", ylabel="loss", title=None, logx=False, logy=False,
                ax=None, figsize=(5, 3), marker=None):
    """One line per entry of ``curves``: ``{label: (xs, ys)}``. Returns the axes."""
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict {label: (xs, ys)}")
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    for label, (xs, ys) in curves.items():
        xs, ys = _as_array(xs, "xs"), _as_array(ys, "ys")
        if xs.shape != ys.shape:
            raise ValueError(f"curve {label!r}: xs and ys must have the same length, got {xs.shape} and {ys.shape}")
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


def show_heatmaps(matrices, xlabel, ylabel, titles=None, figsize=(2.5, 2.5), cmap="Reds",
                  xticklabels=None, yticklabels=None, colorbar=True, vmin=0.0, vmax=None):
    """Heatmaps of a 4-D array ``(rows, cols, n_queries, n_keys)``, like ``d2l.show_heatmaps``.

    All panels share one colour scale, from ``vmin`` (default 0, for attention
    weights) to ``vmax`` (default: the largest value), so the single colour
    bar reads correctly for every panel; pass ``vmin=-1, vmax=1`` with a
    diverging ``cmap`` for similarities. ``xticklabels``/``yticklabels`` put
    tokens on the axes. Returns the figure.
    """
    m = _as_array(matrices, "matrices")
    if m.ndim != 4:
        raise ValueError(f"matrices must have 4 dimensions (rows, cols, queries, keys), got shape {m.shape}")
    if titles is not None and len(titles) not in (m.shape[1], m.shape[0] * m.shape[1]):
        raise ValueError(f"titles must have one entry per column ({m.shape[1]}) or per panel "
                         f"({m.shape[0] * m.shape[1]}), got {len(titles)}")
    vmin = float(m.min()) if vmin is None else vmin
    vmax = float(m.max()) if vmax is None else vmax
    plt = _plt()
    rows, cols = m.shape[:2]
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


def plot_buckets(rows_by_model: dict, title=None, keys=("bleu",), figsize=(4.5, 3)):
    """Quality against source length: one line per model, one panel per score.

    ``rows_by_model`` maps a label to the rows of ``seq2seq.bleu_by_length``;
    ``keys`` picks the scores (``"bleu"``, ``"exact"``). Empty buckets are left
    out. Returns the figure.
    """
    if not isinstance(rows_by_model, dict) or not rows_by_model:
        raise TypeError("rows_by_model must be a non-empty dict {label: rows from bleu_by_length}")
    unknown = set(keys) - {"bleu", "exact"}
    if unknown:
        raise ValueError(f"keys must be among ('bleu', 'exact'), got {sorted(unknown)}")
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(figsize[0] * len(keys), figsize[1]), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, rows in rows_by_model.items():
            rows = [r for r in rows if r["n"] > 0]
            ax.plot([f"{r['bucket'][0]}-{r['bucket'][1] - 1}" for r in rows], [r[key] for r in rows],
                    "o-", label=str(label))
        ax.set(xlabel="source length (tokens)", ylabel="BLEU" if key == "bleu" else "exact match")
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def fit_power_law(x, y):
    """Least-squares fit of ``log y = slope * log x + intercept``; returns ``(slope, intercept)``."""
    x, y = _as_array(x, "x"), _as_array(y, "y")
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got {x.shape} and {y.shape}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("a power-law fit needs positive x and y")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


def loglog(curves: dict, xlabel, ylabel, title=None, ax=None, figsize=(5, 3.5), fit_from=None):
    """Log-log plot of ``{label: (xs, ys)}`` with a fitted slope per curve in the legend.

    ``fit_from`` fits only points with ``x >= fit_from`` (where the leading term
    dominates). Returns ``(ax, {label: slope})``.
    """
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict {label: (xs, ys)}")
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    slopes = {}
    for label, (xs, ys) in curves.items():
        xs, ys = _as_array(xs, "xs"), _as_array(ys, "ys")
        keep = xs >= fit_from if fit_from is not None else np.ones_like(xs, dtype=bool)
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
