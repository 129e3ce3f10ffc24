"""Tests of d2lt.complexity: FLOP formulas against FlopCounterMode, layers against torch
references, critical paths, path lengths, gradient reach, memory and the benchmark."""
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from d2lt import complexity as C


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ------------------------------------------------------------------ cost per layer

@pytest.mark.parametrize("kind", C.KINDS)
@pytest.mark.parametrize("n,d", [(12, 8), (40, 4)])
def test_layer_flops_match_flop_counter(kind, n, d):
    layer = C.make_layer(kind, d, k=3, r=5, projections=False)
    X = torch.randn(1, n, d)
    assert C.count_flops(layer, X) == C.layer_flops(kind, n, d, k=3, r=5)


def test_layer_flops_leading_terms_and_crossover():
    assert C.layer_flops("self_attention", 10, 3) == 4 * 10 * 10 * 3
    assert C.layer_flops("recurrent", 10, 3) == 4 * 10 * 3 * 3
    assert C.layer_flops("separable", 10, 3, k=5) == 2 * (5 * 10 * 3 + 10 * 3 * 3)
    for d in (1, 7, 64):
        n = C.crossover_length(d)
        assert C.layer_flops("self_attention", n, d) == C.layer_flops("recurrent", n, d)
        assert C.layer_flops("self_attention", n - 1 or 1, d) <= C.layer_flops("recurrent", n - 1 or 1, d)


@pytest.mark.parametrize("bad, error", [
    (dict(kind="lstm"), ValueError), (dict(kind=3), TypeError), (dict(n=0), ValueError),
    (dict(n=-4), ValueError), (dict(d=2.5), TypeError), (dict(d="8"), TypeError),
    (dict(k=True), TypeError), (dict(r=-1), ValueError), (dict(n=float("nan")), TypeError),
])
def test_layer_flops_rejects_bad_input(bad, error):
    args = dict(kind="recurrent", n=4, d=4, k=3, r=2) | bad
    with pytest.raises(error, match="must be"):
        C.layer_flops(**args)


def test_crossover_length_rejects_bad_input():
    for bad, error in ((0, ValueError), (2.0, TypeError), (None, TypeError)):
        with pytest.raises(error, match="d must be an int"):
            C.crossover_length(bad)


# ------------------------------------------------------------------ break-even search

@pytest.mark.parametrize("a, b, c", [(4, 0, 40), (4, 0, 41), (3, 10, 100), (1, 0, 1), (5, 7, 3)])
def test_break_even_length_finds_the_first_length_where_a_catches_up(a, b, c):
    calls = []

    def cost_a(n):
        calls.append(n)
        return a * n * n + b * n

    found = C.break_even_length(cost_a, lambda n: c * n, n_max=10_000)
    brute = next(n for n in range(1, 10_001) if a * n * n + b * n >= c * n)
    assert found == brute
    assert len(calls) <= 2 * math.ceil(math.log2(max(found, 2))) + 2  # a search, not a scan


def test_break_even_length_none_when_never_caught_up_and_checks_inputs():
    assert C.break_even_length(lambda n: n, lambda n: 10 * n, n_max=50) is None
    assert C.break_even_length(lambda n: n * n, lambda n: 100 * n, n_max=99) is None
    assert C.break_even_length(lambda n: n * n, lambda n: 100 * n, n_max=100) == 100
    with pytest.raises(TypeError, match="cost_a must be callable"):
        C.break_even_length(3, lambda n: n, 10)
    with pytest.raises(TypeError, match="cost_b must be callable"):
        C.break_even_length(lambda n: n, "n", 10)
    for bad, error in ((0, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="n_max"):
            C.break_even_length(lambda n: n, lambda n: n, bad)
    for value in (float("nan"), "3", None, True):
        with pytest.raises(TypeError, match="finite real number"):
            C.break_even_length(lambda n, v=value: v, lambda n: n, 10)


def test_break_even_length_on_counted_flops():
    d = 12
    core = C.make_layer("self_attention", d, projections=False)
    rnn = C.make_layer("recurrent", d)

    def counted(layer):
        return lambda n: C.count_flops(layer, torch.randn(1, n, d))

    assert C.break_even_length(counted(core), counted(rnn), 4 * d) == C.crossover_length(d) == d


def test_complexity_table_is_the_quoted_one():
    t = C.complexity_table()
    assert list(t.index)[:3] == ["self-attention", "recurrent", "convolutional"]
    assert t.loc["self-attention", "complexity per layer"] == "O(n^2 d)"
    assert t.loc["recurrent", "maximum path length"] == "O(n)"
    assert t.loc["self-attention (restricted)", "maximum path length"] == "O(n / r)"


# ------------------------------------------------------------------ the layers

def test_attention_core_matches_sdpa_with_and_without_mask():
    Q, K, V = torch.randn(2, 3, 7, 5), torch.randn(2, 3, 9, 5), torch.randn(2, 3, 9, 4)
    torch.testing.assert_close(C.attention_core(Q, K, V), F.scaled_dot_product_attention(Q, K, V))
    mask = torch.rand(7, 9) > 0.3
    mask[:, 0] = True
    torch.testing.assert_close(C.attention_core(Q, K, V, mask),
                               F.scaled_dot_product_attention(Q, K, V, attn_mask=mask))
    with pytest.raises(ValueError):
        C.attention_core(torch.randn(3), K, V)


def test_attention_core_fully_masked_row_is_finite():
    Q, K, V = torch.randn(1, 4, 3), torch.randn(1, 5, 3), torch.randn(1, 5, 2)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2] = False  # query 2 may attend to nothing
    out = C.attention_core(Q, K, V, mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 2], V.mean(1))  # uniform weights, as d2l's masked softmax gives
    torch.testing.assert_close(out[:, [0, 1, 3]], F.scaled_dot_product_attention(Q, K, V)[:, [0, 1, 3]])


@pytest.mark.parametrize("r", [1, 4, 5, 30])
def test_restricted_attention_equals_banded_mask(r):
    n = 11
    Q, K, V = torch.randn(3, 2, n, 6).unbind(0)
    left = (r - 1) // 2
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    band = (j >= i - left) & (j <= i + r - 1 - left)
    torch.testing.assert_close(C.restricted_attention(Q, K, V, r), C.attention_core(Q, K, V, band))
    assert torch.equal(band, C.connectivity("restricted", n, r=r))
    with pytest.raises(ValueError):
        C.restricted_attention(Q, K[:, :5], V, r)


def test_self_attention_module_matches_torch_single_head():
    d = 8
    ours = C.SelfAttention(d)
    ref = nn.MultiheadAttention(d, 1, bias=False, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight, ours.W_v.weight]))
        ref.out_proj.weight.copy_(torch.eye(d))
    X = torch.randn(2, 6, d)
    torch.testing.assert_close(ours(X), ref(X, X, X, need_weights=False)[0])


def test_recurrent_matches_a_hand_loop():
    d = 5
    layer = C.Recurrent(d)
    X = torch.randn(2, 7, d)
    h = torch.zeros(2, d)
    outs = []
    for t in range(7):
        h = torch.tanh(X[:, t] @ layer.rnn.weight_ih_l0.T + h @ layer.rnn.weight_hh_l0.T)
        outs.append(h)
    torch.testing.assert_close(layer(X), torch.stack(outs, 1))


@pytest.mark.parametrize("separable", [False, True])
def test_causal_conv_is_causal_and_matches_conv1d(separable):
    d, k, n = 4, 3, 9
    layer = C.CausalConv1d(d, k, separable=separable)
    X = torch.randn(1, n, d)
    Y = layer(X)
    # reference: pad k-1 zeros on the left, then conv1d (and the pointwise map)
    ref = F.conv1d(F.pad(X.transpose(1, 2), (k - 1, 0)), layer.conv.weight, groups=d if separable else 1)
    if separable:
        ref = F.conv1d(ref, layer.pointwise.weight)
    torch.testing.assert_close(Y, ref.transpose(1, 2))
    X2 = X.clone()
    X2[:, 5:] += 1.0  # changing the future must not change the past
    torch.testing.assert_close(layer(X2)[:, :5], Y[:, :5])


def test_make_layer_shapes_and_errors():
    for kind in C.KINDS:
        assert C.make_layer(kind, 6, r=3)(torch.randn(2, 10, 6)).shape == (2, 10, 6)
    with pytest.raises(ValueError):
        C.make_layer("transformer", 4)
    with pytest.raises(ValueError):
        C.make_layer("recurrent", 0)


# ------------------------------------------------------------------ sequential operations

def test_op_depth_constant_for_attention_linear_for_rnn():
    att, rnn = C.make_layer("self_attention", 8), C.make_layer("recurrent", 8)
    att_depths = {C.op_depth(att, torch.randn(1, n, 8)).depth for n in (4, 16, 64)}
    assert len(att_depths) == 1 and att_depths.pop() <= 8
    rnn_depths = [C.op_depth(rnn, torch.randn(1, n, 8)).depth for n in (4, 16, 64)]
    assert all(dep >= n for dep, n in zip(rnn_depths, (4, 16, 64)))
    # the same number of dependent operations per extra time step: depth = a n + b
    assert (rnn_depths[2] - rnn_depths[1]) / 48 == (rnn_depths[1] - rnn_depths[0]) / 12


def test_op_depth_of_a_chain_and_of_independent_ops():
    x = torch.randn(3)
    chain = C.op_depth(lambda t: ((t + 1) * 2).exp(), x)
    assert chain == C.OpCount(ops=3, depth=3)
    wide = C.op_depth(lambda t: torch.stack([t + 1, t * 2, t.exp()]), x)
    assert wide.ops == 4 and wide.depth == 2
    with pytest.raises(TypeError):
        C.op_depth(3)


# ------------------------------------------------------------------ path length

def test_max_path_length_values():
    n, k, r = 64, 3, 8
    assert C.max_path_length("self_attention", n) == 1
    assert C.max_path_length("recurrent", n) == n - 1
    assert C.max_path_length("convolutional", n, k=k, dilated=False) == math.ceil((n - 1) / (k - 1))
    assert C.max_path_length("convolutional", n, k=k) == math.ceil(math.log(n, k))
    assert C.max_path_length("convolutional", 81, k=3) == 4
    # a window of r around i reaches (r - 1) // 2 positions further per layer
    assert C.max_path_length("restricted", n, r=r) == math.ceil((n - 1) / ((r - 1) // 2))
    with pytest.raises(ValueError):
        C.max_path_length("conv", n)


@pytest.mark.parametrize("kind", ["self_attention", "convolutional", "separable", "restricted"])
def test_connectivity_is_what_the_gradient_sees(kind):
    n, d = 20, 4
    layer = C.make_layer(kind, d, k=3, r=5)
    X = torch.randn(n, d)
    g = C.gradient_reach(layer, X)
    assert torch.equal(g > 0, C.connectivity(kind, n, k=3, r=5)[-1])


def test_gradient_reach_equals_the_jacobian():
    layer = C.make_layer("recurrent", 5)
    X = torch.randn(9, 5)
    J = torch.autograd.functional.jacobian(lambda x: layer(x[None])[0, -1], X)  # (5, 9, 5)
    torch.testing.assert_close(C.gradient_reach(layer, X), J.pow(2).sum(dim=(0, 2)).sqrt())
    with pytest.raises(ValueError):
        C.gradient_reach(layer, torch.randn(1, 9, 5))


def test_rnn_gradient_decays_attention_does_not():
    n, d = 48, 16
    rnn = C.gradient_reach(C.make_layer("recurrent", d), torch.randn(n, d))
    att = C.gradient_reach(C.make_layer("self_attention", d), torch.randn(n, d))
    assert rnn[0] / rnn[-1] < 1e-6
    assert att[0] / att[:-1].median() > 0.2


# ------------------------------------------------------------------ time and memory

def test_activation_bytes_attention_quadratic_rnn_linear():
    B, d = 2, 4
    for n in (8, 16):
        Q, K, V = (torch.randn(B, n, d, requires_grad=True) for _ in range(3))
        assert C.activation_bytes(C.attention_core, Q, K, V) == B * n * n * 4
        rnn = C.make_layer("recurrent", d)
        X = torch.randn(B, n, d, requires_grad=True)
        # n hidden states + the initial one, and a time-major copy of X for the input product
        assert C.activation_bytes(rnn, X, exclude=rnn.parameters()) == (2 * n + 1) * B * d * 4
    with torch.no_grad():
        assert C.activation_bytes(C.attention_core, Q, K, V) == 0


def test_time_call_and_measure_scaling():
    t = C.time_call(lambda: torch.ones(100).sum(), repeats=3, min_time=1e-4)
    assert 0 < t < 0.1
    res = C.measure_scaling({"a": lambda n: (lambda: torch.ones(n).sum())}, [10, 100], repeats=2,
                            min_time=1e-4)
    sizes, secs = res["a"]
    assert sizes == [10, 100] and len(secs) == 2 and min(secs) > 0
    with pytest.raises(TypeError):
        C.measure_scaling({}, [1])
    with pytest.raises(ValueError):
        C.measure_scaling({"a": lambda n: (lambda: None)}, [])
    with pytest.raises(TypeError):
        C.time_call(3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_bytes():
    Q = torch.randn(1, 256, 8, device="cuda")
    assert C.cuda_peak_bytes(C.attention_core, Q, Q, Q) >= 256 * 256 * 4


# ------------------------------------------------------------------ benchmark

def test_sdpa_attention_matches_torch_mha():
    D, h = 16, 4
    ref = nn.MultiheadAttention(D, h, bias=False, batch_first=True)
    Wq, Wk, Wv = ref.in_proj_weight.chunk(3)
    X = torch.randn(2, 7, D)
    torch.testing.assert_close(C.sdpa_attention(X, Wq, Wk, Wv, ref.out_proj.weight, h),
                               ref(X, X, X, need_weights=False)[0])
    lens = torch.tensor([3, 7])
    mask = torch.arange(7)[None, :] >= lens[:, None]  # torch: True = ignore
    torch.testing.assert_close(C.sdpa_attention(X, Wq, Wk, Wv, ref.out_proj.weight, h, lens),
                               ref(X, X, X, key_padding_mask=mask, need_weights=False)[0])


def test_benchmark_attention_runs_and_reports_ratios():
    r = C.benchmark_attention(batch_size=2, num_steps=16, num_hiddens=16, num_heads=2, repeats=2,
                              min_time=1e-3)
    assert set(r["seconds"]) == {"d2lt fused", "d2lt explicit", "torch.nn.MultiheadAttention",
                                 "F.scaled_dot_product_attention"}
    assert r["ratio"]["torch.nn.MultiheadAttention"] == 1.0
    assert all(s > 0 for s in r["seconds"].values())
    with pytest.raises(ValueError):
        C.benchmark_attention(num_hiddens=10, num_heads=3)


# ------------------------------------------------------------------ local slopes

def test_local_slopes_of_power_laws_and_of_a_bend():
    xs = [1, 2, 4, 8]
    assert C.local_slopes(xs, [3 * x ** 2 for x in xs]) == pytest.approx([2, 2, 2])
    ys = [x + x ** 2 for x in (1, 10, 100, 1000)]  # slope 1 at the start, 2 at the end
    s = C.local_slopes([1, 10, 100, 1000], ys)
    assert s[0] < 1.8 < 1.99 < s[-1] <= 2 and s == sorted(s)
    assert C.local_slopes(torch.tensor([1.0, 2.0]), torch.tensor([5.0, 10.0])) == pytest.approx([1])


@pytest.mark.parametrize("xs, ys, error, match", [
    ("1234", [1, 2, 3, 4], TypeError, "xs must be a 1-D sequence"),
    ([1, 2], 5, TypeError, "ys must be a 1-D sequence"),
    ([1, 2], ["a", "b"], TypeError, "ys must be a 1-D sequence"),
    ([1], [1], ValueError, "at least 2 points"),
    ([], [], ValueError, "at least 2 points"),
    ([[1, 2]], [[1, 2]], ValueError, "1-D"),
    ([1, 2, 3], [1, 2], ValueError, "same length"),
    ([1, 0, 3], [1, 2, 3], ValueError, "positive and finite"),
    ([1, 2, 3], [1, float("nan"), 3], ValueError, "positive and finite"),
    ([1, 2, float("inf")], [1, 2, 3], ValueError, "positive and finite"),
    ([1, 3, 2], [1, 2, 3], ValueError, "strictly increasing"),
])
def test_local_slopes_rejects_bad_input(xs, ys, error, match):
    with pytest.raises(error, match=match):
        C.local_slopes(xs, ys)


# ------------------------------------------------------------------ input checks, by class

NAN = float("nan")


def _with(t, value):
    t = t.clone()
    t.view(-1)[0] = value
    return t


@pytest.mark.parametrize("args, error, match", [
    # wrong type
    (("Q", "K", "V"), TypeError, "Q must be a tensor"),
    ((torch.ones(2, 3, dtype=torch.long),) * 3, TypeError, "floating-point"),
    # wrong shape
    ((torch.randn(3), torch.randn(3, 4), torch.randn(3, 4)), ValueError, "Q must be a tensor of shape"),
    ((torch.randn(2, 5), torch.randn(3, 4), torch.randn(3, 4)), ValueError, "same width d"),
    ((torch.randn(2, 4), torch.randn(3, 4), torch.randn(5, 4)), ValueError, "same number of positions"),
    ((torch.randn(2, 2, 4), torch.randn(3, 3, 4), torch.randn(3, 3, 4)), ValueError, "broadcast"),
    # empty
    ((torch.randn(0, 4), torch.randn(3, 4), torch.randn(3, 4)), ValueError, "must not be empty"),
    # NaN / inf
    ((_with(torch.randn(2, 4), NAN), torch.randn(3, 4), torch.randn(3, 4)), ValueError, "finite"),
    ((torch.randn(2, 4), torch.randn(3, 4), _with(torch.randn(3, 4), float("inf"))),
     ValueError, "finite"),
])
def test_attention_core_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        C.attention_core(*args)


def test_attention_core_rejects_bad_masks():
    Q, K, V = torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4)
    with pytest.raises(TypeError, match="boolean tensor"):
        C.attention_core(Q, K, V, torch.ones(2, 3))
    with pytest.raises(TypeError, match="boolean tensor"):
        C.attention_core(Q, K, V, [[True] * 3] * 2)
    with pytest.raises(ValueError, match="broadcast to the scores"):
        C.attention_core(Q, K, V, torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="broadcast to the scores"):
        C.attention_core(Q, K, V, torch.ones(5, 2, 3, dtype=torch.bool))  # would grow the output


def test_restricted_attention_rejects_bad_input():
    X = torch.randn(1, 6, 4)
    for r, error in ((0, ValueError), (2.0, TypeError), ("3", TypeError)):
        with pytest.raises(error, match="r must be"):
            C.restricted_attention(X, X, X, r)
    with pytest.raises(ValueError, match=r"\(B, n, d\)"):
        C.restricted_attention(X[0], X[0], X[0], 3)
    with pytest.raises(TypeError, match="must be a tensor"):
        C.restricted_attention(X.tolist(), X, X, 3)
    with pytest.raises(ValueError, match="finite"):
        C.restricted_attention(X, _with(X, NAN), X, 3)
    with pytest.raises(ValueError, match="empty"):
        C.restricted_attention(X[:, :0], X[:, :0], X[:, :0], 3)


@pytest.mark.parametrize("kind", C.KINDS)
def test_every_layer_checks_its_input(kind):
    layer = C.make_layer(kind, 4, r=3)
    with pytest.raises(TypeError, match="must be a tensor"):
        layer([[0.0] * 4] * 3)
    with pytest.raises(ValueError, match=r"shape \(batch, n, 4\)"):
        layer(torch.randn(3, 4))
    with pytest.raises(ValueError, match="width 4"):
        layer(torch.randn(1, 3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(1, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        layer(torch.randn(1, 0, 4))
    with pytest.raises(ValueError, match="finite"):
        layer(_with(torch.randn(1, 3, 4), float("-inf")))


def test_layer_constructors_check_their_arguments():
    for make, error in ((lambda: C.CausalConv1d(4, 0), ValueError),
                        (lambda: C.CausalConv1d(4, 3, separable="yes"), TypeError),
                        (lambda: C.SelfAttention(0), ValueError),
                        (lambda: C.SelfAttention(4, projections=1), TypeError),
                        (lambda: C.RestrictedSelfAttention(4, 0), ValueError),
                        (lambda: C.Recurrent(4.0), TypeError),
                        (lambda: C.make_layer("recurrent", 4, projections=None), TypeError),
                        (lambda: C.make_layer("convolutional", 4, k=-1), ValueError),
                        (lambda: C.make_layer(None, 4), TypeError)):
        with pytest.raises(error, match="must be"):
            make()


def test_input_checks_do_not_show_up_in_what_is_measured():
    X = torch.randn(1, 6, 4)
    assert C.op_depth(C.make_layer("convolutional", 4), X).depth == 2   # pad, convolution
    assert C.op_depth(C.make_layer("separable", 4), X).depth == 3       # + pointwise
    core = C.make_layer("self_attention", 4, projections=False)
    assert C.op_depth(core, X) == C.OpCount(ops=4, depth=4)  # scores, scale, softmax, sum
    assert C.count_flops(C.attention_core, X, X, X) == C.layer_flops("self_attention", 6, 4)
    # meta tensors hold no values: shapes are checked, values are not
    meta = torch.empty(1, 6, 4, device="meta")
    assert C.count_flops(core.to("meta"), meta) == C.layer_flops("self_attention", 6, 4)


@pytest.mark.parametrize("call, error, match", [
    (lambda: C.connectivity("recurrent", 0), ValueError, "n must be"),
    (lambda: C.connectivity("recurrent", "5"), TypeError, "n must be"),
    (lambda: C.connectivity("convolutional", 5, layer=-1), ValueError, "layer must be"),
    (lambda: C.connectivity("convolutional", 5, dilated="no"), TypeError, "dilated must be"),
    (lambda: C.connectivity(["recurrent"], 5), TypeError, "kind must be"),
    (lambda: C.max_path_length("recurrent", 2.0), TypeError, "n must be"),
    (lambda: C.max_path_length("convolutional", 9, k=1), ValueError, "k must be >= 2"),
    (lambda: C.max_path_length("restricted", 9, r=2), ValueError, "r must be >= 3"),
    (lambda: C.max_path_length("recurrent", 9, max_hops=0), ValueError, "max_hops"),
    (lambda: C.max_path_length("recurrent", 9, max_hops=3), ValueError, "allow more hops"),
])
def test_path_functions_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_max_path_length_of_one_position_is_zero():
    assert all(C.max_path_length(kind, 1) == 0 for kind in C.KINDS)


def test_gradient_reach_rejects_bad_input():
    layer = C.make_layer("recurrent", 3)
    with pytest.raises(TypeError, match="layer must be callable"):
        C.gradient_reach("rnn", torch.randn(4, 3))
    with pytest.raises(TypeError, match="X must be a tensor"):
        C.gradient_reach(layer, [[0.0] * 3] * 4)
    with pytest.raises(ValueError, match="one sequence"):
        C.gradient_reach(layer, torch.randn(1, 4, 3))
    with pytest.raises(ValueError, match="empty"):
        C.gradient_reach(layer, torch.randn(0, 3))
    with pytest.raises(ValueError, match="finite"):
        C.gradient_reach(layer, _with(torch.randn(4, 3), NAN))
    with pytest.raises(ValueError, match=r"map \(B, n, d_in\) to \(B, n, d_out\)"):
        C.gradient_reach(lambda x: x.sum(1), torch.randn(4, 3))


def test_counting_and_timing_functions_reject_bad_input():
    for f in (C.count_flops, C.op_depth, C.time_call, C.activation_bytes, C.cuda_peak_bytes):
        with pytest.raises(TypeError, match="fn must be callable"):
            f("not a function")
    ok = lambda: None  # noqa: E731
    for kwargs, error, match in ((dict(repeats=0), ValueError, "repeats"),
                                 (dict(repeats=2.0), TypeError, "repeats"),
                                 (dict(min_time=-1.0), ValueError, "min_time"),
                                 (dict(min_time=NAN), ValueError, "min_time"),
                                 (dict(min_time="1"), TypeError, "min_time"),
                                 (dict(device=3), TypeError, "device"),
                                 (dict(device="gpu0"), ValueError, "device")):
        with pytest.raises(error, match=match):
            C.time_call(ok, **kwargs)
        with pytest.raises(error, match=match):
            C.measure_scaling({"a": lambda n: ok}, [1], **kwargs)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            C.time_call(ok, device="cuda")


def test_measure_scaling_rejects_bad_builders_and_sizes():
    ok = lambda n: (lambda: None)  # noqa: E731
    with pytest.raises(TypeError, match="non-empty dict"):
        C.measure_scaling([ok], [1])
    with pytest.raises(TypeError, match=r"builders\['a'\] must be callable"):
        C.measure_scaling({"a": 3}, [1])
    with pytest.raises(TypeError, match=r"builders\['a'\]\(1\) must be callable"):
        C.measure_scaling({"a": lambda n: n}, [1])
    with pytest.raises(TypeError, match="sizes must be a list"):
        C.measure_scaling({"a": ok}, "128")
    with pytest.raises(TypeError, match="sizes must be a list"):
        C.measure_scaling({"a": ok}, 128)


def test_activation_bytes_rejects_bad_exclude():
    X = torch.randn(2, 3, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of tensors"):
        C.activation_bytes(torch.exp, X, exclude=X)
    with pytest.raises(TypeError, match="iterable of tensors"):
        C.activation_bytes(torch.exp, X, exclude=3)
    with pytest.raises(TypeError, match="tensors only"):
        C.activation_bytes(torch.exp, X, exclude=[X, "w"])


def test_sdpa_attention_rejects_bad_input():
    D, h = 8, 2
    X, W = torch.randn(2, 5, D), torch.randn(D, D)
    for args, error, match in (
            ((X[0], W, W, W, W, h), ValueError, r"\(B, n, D\)"),
            ((X, W, W, W, W, 3), ValueError, "divisible"),
            ((X, W, W, W, W, 0), ValueError, "num_heads"),
            ((X, W, W[:4], W, W, h), ValueError, r"W_k must have shape \(8, 8\)"),
            ((X, W, W, W, W.tolist(), h), TypeError, "W_o must be a tensor"),
            ((_with(X, NAN), W, W, W, W, h), ValueError, "finite")):
        with pytest.raises(error, match=match):
            C.sdpa_attention(*args)
    for lens, error, match in ((torch.tensor([2.0, 5.0]), TypeError, "integer tensor"),
                               ([2, 5], TypeError, "integer tensor"),
                               (torch.tensor([2, 5, 1]), ValueError, r"shape \(2,\)"),
                               (torch.tensor([0, 5]), ValueError, r"1 \.\. 5"),
                               (torch.tensor([2, 6]), ValueError, r"1 \.\. 5")):
        with pytest.raises(error, match=match):
            C.sdpa_attention(X, W, W, W, W, h, lens)


def test_benchmark_attention_rejects_bad_input():
    for kwargs, error in ((dict(min_time=-1.0), ValueError), (dict(backward="yes"), TypeError),
                          (dict(seed=-1), ValueError), (dict(device="tpu9"), ValueError),
                          (dict(batch_size=0), ValueError), (dict(num_steps=1.5), TypeError)):
        with pytest.raises(error, match="must be|device"):
            C.benchmark_attention(**kwargs)
