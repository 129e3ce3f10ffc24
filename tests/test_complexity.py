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


@pytest.mark.parametrize("bad", [dict(kind="lstm"), dict(n=0), dict(d=2.5), dict(k=True), dict(r=-1)])
def test_layer_flops_rejects_bad_input(bad):
    args = dict(kind="recurrent", n=4, d=4, k=3, r=2) | bad
    with pytest.raises(ValueError):
        C.layer_flops(**args)
    with pytest.raises(ValueError):
        C.crossover_length(0)


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
