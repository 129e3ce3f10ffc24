import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from d2lt import plot  # noqa: E402


def test_fit_power_law_recovers_slopes():
    x = np.array([8, 16, 32, 64, 128.0])
    for k in (1.0, 2.0, 0.5):
        slope, icpt = plot.fit_power_law(x, 3 * x ** k)
        assert slope == pytest.approx(k) and np.exp(icpt) == pytest.approx(3)


def test_loglog_reports_slopes_and_fits_from():
    x = np.array([1, 2, 4, 8, 16, 32, 64.0])
    y = 100 + x ** 2  # the quadratic term dominates only for large x
    _, slopes = plot.loglog({"a": (x, y)}, "n", "t")
    _, tail = plot.loglog({"a": (x, y)}, "n", "t", fit_from=16)
    assert slopes["a"] < tail["a"] and tail["a"] > 1.5


def test_heatmaps_and_curves_accept_tensors():
    fig = plot.show_heatmaps(torch.rand(2, 3, 4, 5), "keys", "queries", titles=["a", "b", "c"])
    assert len(fig.axes) == 7  # 6 panels + colour bar
    limits = {im.get_clim() for ax in fig.axes[:6] for im in ax.get_images()}
    assert len(limits) == 1, "every panel must share the colour bar's scale"
    ax = plot.plot_curves({"x": (torch.arange(3), torch.ones(3))})
    assert ax.get_xlabel() == "step"


def test_plot_buckets_one_panel_per_score():
    rows = [{"bucket": (1, 6), "n": 10, "bleu": 90.0, "exact": 0.8},
            {"bucket": (6, 11), "n": 0, "bleu": float("nan"), "exact": float("nan")}]
    fig = plot.plot_buckets({"a": rows, "b": rows}, "t", keys=("bleu", "exact"))
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    assert len(fig.axes[0].lines[0].get_xdata()) == 1  # the empty bucket is left out
    with pytest.raises(ValueError, match="keys"):
        plot.plot_buckets({"a": rows}, keys=("accuracy",))


def test_bad_inputs():
    with pytest.raises(ValueError, match="4 dimensions"):
        plot.show_heatmaps(np.zeros((3, 3)), "k", "q")
    with pytest.raises(ValueError, match="one entry per column"):
        plot.show_heatmaps(np.zeros((2, 3, 4, 4)), "k", "q", titles=["a", "b"])
    with pytest.raises(ValueError, match="positive"):
        plot.fit_power_law([1, 2], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        plot.fit_power_law([1, 2, 3], [1, 2])
    with pytest.raises(TypeError, match="non-empty dict"):
        plot.loglog([], "x", "y")
    with pytest.raises(ValueError, match="same length"):
        plot.plot_curves({"a": ([1, 2], [1, 2, 3])})
    with pytest.raises(TypeError, match="numbers"):
        plot.plot_curves({"a": ([1, 2], object())})
