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


# --------------------------------------------------------------------------- bad input, by class

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("x,y,error,match", [
    ([1, 2, NAN], [1, 2, 3], ValueError, "finite"),              # NaN / inf
    ([1, 2, 3], [1, INF, 3], ValueError, "finite"),
    (torch.tensor([1.0, NAN]), [1, 2], ValueError, "finite"),
    ([1, 2], [-1, 1], ValueError, "positive"),                   # out of range
    ([0, 2], [1, 1], ValueError, "positive"),
    ([5], [3], ValueError, "at least 2 points"),                 # too few / empty
    ([], [], ValueError, "at least 2 points"),
    ([4, 4, 4], [1, 2, 3], ValueError, "two different x"),       # all x equal
    ([1, 2, 3], [1, 2], ValueError, "same length"),              # wrong shape
    ([[1, 2], [3, 4]], [[1, 2], [3, 4]], ValueError, "1-D"),
    ("1 2 3", [1, 2, 3], TypeError, "numbers"),                  # wrong type
    (["1", "2"], [1, 2], TypeError, "numbers"),
    ([1, 2], None, TypeError, "numbers"),
    ([1, 2], [1 + 1j, 2], TypeError, "numbers"),
    ([True, False], [1, 2], TypeError, "numbers"),
])
def test_fit_power_law_bad_inputs(x, y, error, match):
    with pytest.raises(error, match=match):
        plot.fit_power_law(x, y)


def test_fit_power_law_takes_tensors_and_exact_values():
    slope, icpt = plot.fit_power_law(torch.tensor([1.0, 10.0]), np.array([2, 200]))
    assert slope == pytest.approx(2) and np.exp(icpt) == pytest.approx(2)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"matrices": np.zeros((2, 3, 4))}, ValueError, "4 dimensions"),         # wrong shape
    ({"matrices": np.zeros((1, 1, 0, 3))}, ValueError, "empty"),             # empty
    ({"matrices": np.full((1, 1, 2, 2), NAN)}, ValueError, "finite"),        # NaN / inf
    ({"matrices": np.array([[[[0.5, INF]]]])}, ValueError, "finite"),
    ({"matrices": "weights"}, TypeError, "numbers"),                         # wrong type
    ({"xticklabels": ["a", "b"]}, ValueError, r"one label per key.*\(3\), got 2"),
    ({"yticklabels": ["a", "b", "c"]}, ValueError, r"one label per query.*\(2\), got 3"),
    ({"xticklabels": "abc"}, TypeError, "xticklabels must be a list"),
    ({"titles": "abc"}, TypeError, "titles must be a list"),
    ({"titles": ["a", "b", "c"]}, ValueError, "one entry per column"),
    ({"xlabel": None}, TypeError, "xlabel"),
    ({"vmin": NAN}, ValueError, "vmin must be finite"),
    ({"vmax": "1"}, TypeError, "vmax"),
    ({"vmin": 2.0, "vmax": 1.0}, ValueError, "vmin must not exceed vmax"),
    ({"matrices": -np.ones((1, 2, 2, 3))}, ValueError, "vmin=None"),         # all below the default vmin=0
    ({"figsize": (2, 0)}, ValueError, "figsize"),
    ({"figsize": 3}, TypeError, "figsize"),
    ({"colorbar": "yes"}, TypeError, "colorbar"),
])
def test_show_heatmaps_bad_inputs(kwargs, error, match):
    args = {"matrices": np.random.rand(1, 2, 2, 3), "xlabel": "k", "ylabel": "q", **kwargs}
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    with pytest.raises(error, match=match):
        plot.show_heatmaps(args.pop("matrices"), args.pop("xlabel"), args.pop("ylabel"), **args)
    assert plt.get_fignums() == before, "a refused call left a figure behind"


def test_show_heatmaps_labels_and_negative_scale():
    fig = plot.show_heatmaps(np.random.rand(1, 2, 2, 3), "k", "q", titles=["x", "y"],
                             xticklabels=["a", "b", "c"], yticklabels=("p", "q"))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    fig = plot.show_heatmaps(-np.arange(4.0).reshape(1, 1, 2, 2), "k", "q", vmin=None)
    assert fig.axes[0].get_images()[0].get_clim() == (-3.0, 0.0)


@pytest.mark.parametrize("curves,kwargs,error,match", [
    ([1, 2], {}, TypeError, "non-empty dict"),                             # wrong type
    ({}, {}, ValueError, "empty dict"),                                    # empty
    ({"a": [1, 2]}, {}, ValueError, "1-D"),                                # a pair of scalars
    ({"a": ([1, 2], [1, 2], [3])}, {}, TypeError, "pair"),
    ({"a": ([1, 2], "ab")}, {}, TypeError, "numbers"),
    ({"a": ([], [])}, {}, ValueError, "no points"),
    ({"a": ([[1, 2]], [[1, 2]])}, {}, ValueError, "1-D"),                  # wrong shape
    ({"a": ([1, 2], [1, 2, 3])}, {}, ValueError, "same length"),
    ({"a": ([1, 2], [1, NAN])}, {}, ValueError, "finite"),                 # NaN / inf
    ({"a": ([1, INF], [1, 2])}, {}, ValueError, "finite"),
    ({"a": ([0, 1], [1, 2])}, {"logx": True}, ValueError, "log x axis"),   # out of range
    ({"a": ([1, 2], [-1, 2])}, {"logy": True}, ValueError, "log y axis"),
    ({"a": ([1, 2], [1, 2])}, {"logx": "yes"}, TypeError, "logx"),
    ({"a": ([1, 2], [1, 2])}, {"xlabel": 3}, TypeError, "xlabel"),
    ({"a": ([1, 2], [1, 2])}, {"title": ["t"]}, TypeError, "title"),
    ({"a": ([1, 2], [1, 2])}, {"ax": "axes"}, TypeError, "Axes"),
    ({"a": ([1, 2], [1, 2])}, {"figsize": (1, -1)}, ValueError, "figsize"),
])
def test_plot_curves_bad_inputs(curves, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.plot_curves(curves, **kwargs)


@pytest.mark.parametrize("curves,kwargs,error,match", [
    ({}, {}, ValueError, "empty dict"),
    ({"a": ([1, 2, 4], [1, 4, NAN])}, {}, ValueError, "finite"),
    ({"a": ([0, 2, 4], [1, 4, 16])}, {}, ValueError, "log x axis"),        # log axes need x, y > 0
    ({"a": ([1, 2, 4], [1, 0, 16])}, {}, ValueError, "log y axis"),
    ({"a": ([1, 2, 4], [1, 4])}, {}, ValueError, "same length"),
    ({"a": ([3, 3, 3], [1, 4, 9])}, {}, ValueError, "'a'.*two different x"),
    ({"a": ([1, 2, 4], [1, 4, 16])}, {"fit_from": 4}, ValueError, "'a' with x >= fit_from=4.*2 points"),
    ({"a": ([1, 2, 4], [1, 4, 16])}, {"fit_from": 0}, ValueError, "fit_from"),
    ({"a": ([1, 2, 4], [1, 4, 16])}, {"fit_from": NAN}, ValueError, "fit_from"),
    ({"a": ([1, 2, 4], [1, 4, 16])}, {"fit_from": "2"}, TypeError, "fit_from"),
])
def test_loglog_bad_inputs(curves, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.loglog(curves, "x", "y", **kwargs)


ROWS = [{"bucket": (1, 6), "n": 10, "bleu": 90.0, "exact": 0.8},
        {"bucket": (6, 11), "n": 0, "bleu": NAN, "exact": NAN}]


@pytest.mark.parametrize("rows_by_model,kwargs,error,match", [
    ([ROWS], {}, TypeError, "non-empty dict"),                                    # wrong type
    ({}, {}, ValueError, "empty dict"),                                           # empty
    ({"a": "rows"}, {}, TypeError, "list of rows"),
    ({"a": [5]}, {}, TypeError, "must be a dict"),
    ({"a": [{"bucket": (1, 6), "n": 3}]}, {}, ValueError, r"lacks \['bleu'\]"),
    ({"a": [{"bucket": (6, 1), "n": 3, "bleu": 1.0}]}, {}, ValueError, "increasing"),  # out of range
    ({"a": [{"bucket": (1, 6), "n": -1, "bleu": 1.0}]}, {}, ValueError, "count"),
    ({"a": [{"bucket": (1, 6), "n": 3, "bleu": NAN}]}, {}, ValueError, "finite"),     # NaN
    ({"a": ROWS[1:]}, {}, ValueError, "no non-empty bucket"),
    ({"a": ROWS}, {"keys": "bleu"}, TypeError, "tuple of score names"),
    ({"a": ROWS}, {"keys": ()}, ValueError, "at least one score"),
    ({"a": ROWS}, {"title": 3}, TypeError, "title"),
])
def test_plot_buckets_bad_inputs(rows_by_model, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.plot_buckets(rows_by_model, **kwargs)
