"""d2lt.attention against d2l, torch.nn.MultiheadAttention and its own two paths."""
import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from d2lt import attention as A
from d2lt.compat import d2l as load_d2l


@pytest.fixture(scope="module")
def d2l():
    return load_d2l()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ------------------------------------------------------------------ masked softmax

@pytest.mark.parametrize("lens", [None, torch.tensor([2, 3]), torch.tensor([[1, 3, 4], [2, 4, 1]])])
def test_masked_softmax_matches_d2l(d2l, lens):
    X = torch.rand(2, 3, 4)
    ours = A.masked_softmax(X, lens)
    ref = d2l.masked_softmax(X.clone(), lens)  # d2l writes into its input
    assert_close(ours, ref)
    assert_close(ours.sum(-1), torch.ones(2, 3))


def test_masked_softmax_zeroes_masked_keys_and_keeps_input():
    X = torch.randn(2, 3, 5)
    X0 = X.clone()
    W = A.masked_softmax(X, torch.tensor([2, 4]))
    assert (W[0, :, 2:] == 0).all() and (W[1, :, 4:] == 0).all()
    assert torch.equal(X, X0)


def test_masked_softmax_per_query_lengths():
    W = A.masked_softmax(torch.zeros(1, 3, 3), torch.tensor([[1, 2, 3]]))
    assert_close(W[0], torch.tensor([[1, 0, 0], [.5, .5, 0], [1 / 3, 1 / 3, 1 / 3]]))


@pytest.mark.parametrize("lens", [torch.tensor([1, 2, 3]), torch.tensor([[1, 2]]),
                                  torch.ones(2, 3, 1)])
def test_masked_softmax_bad_lens(lens):
    with pytest.raises(ValueError, match=r"valid_lens.*\(2,\).*\(2, 3\)"):
        A.masked_softmax(torch.rand(2, 3, 4), lens)
    with pytest.raises(TypeError, match=r"valid_lens.*\(2,\).*\(2, 3\).*got list \[2, 3\]"):
        A.masked_softmax(torch.rand(2, 3, 4), [2, 3])


def test_masked_softmax_bad_X():
    with pytest.raises(ValueError, match=r"\(B, Q, K\).*\(3, 4\)"):
        A.masked_softmax(torch.rand(3, 4), None)


def test_causal_mask():
    assert torch.equal(A.causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    # with a cache: 2 new queries at positions 3, 4 of 5 keys
    assert torch.equal(A.causal_mask(2, num_keys=5),
                       torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool))
    with pytest.raises(ValueError):
        A.causal_mask(4, num_keys=3)


# ------------------------------------------------------------ single-head attention

@pytest.mark.parametrize("lens", [None, torch.tensor([2, 6]), torch.tensor([[1, 2], [3, 10]])])
def test_dot_product_attention_matches_d2l(d2l, lens):
    q, k, v = torch.randn(2, 2, 8), torch.randn(2, 10, 8), torch.randn(2, 10, 4)
    ours, ref = A.DotProductAttention(0.5).eval(), d2l.DotProductAttention(0.5).eval()
    assert_close(ours(q, k, v, lens), ref(q, k, v, lens))
    assert_close(ours.attention_weights, ref.attention_weights)


def test_dot_product_attention_width_mismatch():
    with pytest.raises(ValueError, match=r"same width.*\(2, 3, 8\).*\(2, 5, 6\)"):
        A.DotProductAttention()(torch.randn(2, 3, 8), torch.randn(2, 5, 6), torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"same number.*\(2, 5, 8\).*\(2, 4, 6\)"):
        A.DotProductAttention()(torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 4, 6))


def test_dot_product_attention_causal():
    attn = A.DotProductAttention()
    attn(torch.randn(1, 4, 8), torch.randn(1, 4, 8), torch.randn(1, 4, 2), is_causal=True)
    W = attn.attention_weights[0]
    assert (W.triu(1) == 0).all() and W[0, 0] == 1


@pytest.mark.parametrize("sizes", [{}, {"query_size": 20, "key_size": 2}])
def test_additive_attention_matches_d2l(d2l, sizes):
    q, k, v = torch.randn(2, 1, 20), torch.randn(2, 10, 2), torch.randn(2, 10, 4)
    lens = torch.tensor([2, 6])
    ref = d2l.AdditiveAttention(8, 0.1).eval()
    ref(q, k, v, lens)  # materialise the lazy layers
    ours = A.AdditiveAttention(8, 0.1, **sizes).eval()
    ours.load_state_dict(ref.state_dict())
    assert {n for n, _ in ours.named_children()} >= {"W_k", "W_q", "w_v"}
    assert_close(ours(q, k, v, lens), ref(q, k, v, lens))
    assert_close(ours.attention_weights, ref.attention_weights)


# ---------------------------------------------------------------- multi-head attention

def _d2l_mha(d2l, d, h, q, k):
    ref = d2l.MultiHeadAttention(d, h, 0.0).eval()
    ref(q, k, k, None)
    return ref


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("lens", [None, torch.tensor([3, 2]), torch.tensor([[1, 2, 3, 4], [5, 5, 1, 2]])])
def test_mha_matches_d2l(d2l, fused, lens):
    d, h = 16, 4
    q, kv = torch.randn(2, 4, d), torch.randn(2, 5, d)
    ref = _d2l_mha(d2l, d, h, q, kv)
    ours = A.MultiHeadAttention(d, h, 0.0, fused=fused).eval()
    ours.load_state_dict(ref.state_dict())
    assert_close(ours(q, kv, kv, lens), ref(q, kv, kv, lens))
    B, Q, K = 2, 4, 5
    assert_close(ours.attention_weights, ref.attention.attention_weights.reshape(B, h, Q, K))


def test_mha_submodules_and_lazy_widths():
    m = A.MultiHeadAttention(12, 3, 0.1)
    assert {"W_q", "W_k", "W_v", "W_o"} <= {n for n, _ in m.named_children()}
    out = m(torch.randn(2, 4, 7), torch.randn(2, 6, 5), torch.randn(2, 6, 9))
    assert out.shape == (2, 4, 12)
    assert m.W_k.weight.shape == (12, 5)
    explicit = A.MultiHeadAttention(12, 3, query_size=12, key_size=12, value_size=12)
    assert sum(p.numel() for p in explicit.parameters()) == 4 * 12 * 12


@pytest.mark.parametrize("lens", [None, torch.tensor([3, 1, 6]),
                                  torch.randint(1, 7, (3, 6))])
@pytest.mark.parametrize("is_causal", [False, True])
def test_mha_fused_equals_explicit(lens, is_causal):
    X = torch.randn(3, 6, 16)
    fused = A.MultiHeadAttention(16, 4, 0.3, bias=True, query_size=16, key_size=16, value_size=16).eval()
    explicit = A.MultiHeadAttention(16, 4, 0.3, bias=True, query_size=16, key_size=16, value_size=16,
                                    fused=False).eval()
    explicit.load_state_dict(fused.state_dict())
    assert_close(fused(X, X, X, lens, is_causal=is_causal), explicit(X, X, X, lens, is_causal=is_causal))
    assert_close(fused.attention_weights, explicit.attention_weights)
    if is_causal:
        assert (explicit.attention_weights.triu(1) == 0).all()


def test_mha_fused_gradients_equal_explicit():
    X = torch.randn(2, 5, 8)
    lens = torch.tensor([5, 3])
    a = A.MultiHeadAttention(8, 2, query_size=8, key_size=8, value_size=8)
    b = A.MultiHeadAttention(8, 2, query_size=8, key_size=8, value_size=8, fused=False)
    b.load_state_dict(a.state_dict())
    a(X, X, X, lens).square().sum().backward()
    b(X, X, X, lens).square().sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert_close(pa.grad, pb.grad, msg=n)


def test_mha_causal_with_cache_queries():
    """The last query of a causal call equals a single query attending over all keys."""
    m = A.MultiHeadAttention(8, 2, query_size=8, key_size=8, value_size=8).eval()
    X = torch.randn(1, 5, 8)
    full = m(X, X, X, is_causal=True)
    last = m(X[:, -2:], X, X, is_causal=True)  # 2 queries at positions 3, 4 of 5 keys
    assert_close(last, full[:, -2:])


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("fused", [True, False])
def test_mha_matches_torch(bias, fused):
    d, h = 32, 8
    ref = nn.MultiheadAttention(d, h, bias=bias, batch_first=True).eval()
    ours = A.mha_from_torch(ref, fused=fused).eval()
    q, kv = torch.randn(3, 4, d), torch.randn(3, 7, d)
    lens = torch.tensor([7, 2, 5])
    key_padding_mask = torch.arange(7)[None, :] >= lens[:, None]  # torch: True = ignore
    out_ref, w_ref = ref(q, kv, kv, key_padding_mask=key_padding_mask, average_attn_weights=False)
    assert_close(ours(q, kv, kv, lens), out_ref)
    assert_close(ours.attention_weights, w_ref)
    # causal self-attention
    X = torch.randn(2, 6, d)
    out_ref, _ = ref(X, X, X, attn_mask=nn.Transformer.generate_square_subsequent_mask(6), need_weights=False)
    assert_close(ours(X, X, X, is_causal=True), out_ref)


def test_mha_from_torch_different_kv_widths():
    ref = nn.MultiheadAttention(16, 4, bias=True, kdim=6, vdim=5, batch_first=True).eval()
    ours = A.mha_from_torch(ref).eval()
    q, k, v = torch.randn(2, 3, 16), torch.randn(2, 4, 6), torch.randn(2, 4, 5)
    assert_close(ours(q, k, v), ref(q, k, v, need_weights=False)[0])


def test_mha_dropout_only_in_training():
    X = torch.randn(2, 5, 8)
    m = A.MultiHeadAttention(8, 2, 0.5, query_size=8, key_size=8, value_size=8)
    m.eval()
    assert_close(m(X, X, X), m(X, X, X))
    m.train()
    assert not torch.allclose(m(X, X, X), m(X, X, X))
    m.fused = False
    assert not torch.allclose(m(X, X, X), m(X, X, X))
    assert_close(m.attention_weights.sum(-1), torch.ones(2, 2, 5))  # weights before dropout


def test_mha_errors():
    with pytest.raises(ValueError, match="num_hiddens=10, num_heads=3"):
        A.MultiHeadAttention(10, 3, 0.0)
    m = A.MultiHeadAttention(8, 2, query_size=8, key_size=8, value_size=8)
    X = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"keys must have width 8.*\(2, 5, 6\)"):
        m(X, torch.randn(2, 5, 6), X)
    with pytest.raises(ValueError, match=r"valid_lens.*\(2,\).*\(2, 5\).*\(3,\)"):
        m(X, X, X, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="batch size"):
        m(X, torch.randn(3, 5, 8), torch.randn(3, 5, 8))


def test_transpose_helpers_match_d2l(d2l):
    X = torch.randn(2, 5, 12)
    ref = d2l.MultiHeadAttention(12, 3, 0.0)
    Y = A.transpose_qkv(X, 3)
    assert Y.shape == (6, 5, 4)
    assert torch.equal(Y, ref.transpose_qkv(X))
    assert torch.equal(A.transpose_output(Y, 3), X)
    assert torch.equal(A.MultiHeadAttention(12, 3).transpose_qkv(X), Y)


# ---------------------------------------------------------------------- positions

def test_positional_encoding_matches_d2l(d2l):
    ours, ref = A.PositionalEncoding(32, 0.0, max_len=60).eval(), d2l.PositionalEncoding(32, 0.0, 60).eval()
    assert_close(ours.P, ref.P)
    X = torch.randn(2, 50, 32)
    assert_close(ours(X), ref(X))
    assert "P" in dict(ours.named_buffers()) and "P" not in ours.state_dict()
    assert ours.to(torch.float64).P.dtype == torch.float64  # a buffer follows .to()


def test_positional_encoding_odd_width_and_errors():
    P = A.sinusoidal_table(10, 5)
    assert P.shape == (10, 5) and torch.isfinite(P).all()
    assert (P[0, 0::2] == 0).all() and (P[0, 1::2] == 1).all()  # sin at even, cos at odd columns
    pe = A.PositionalEncoding(8, 0.0, max_len=4)
    with pytest.raises(ValueError, match=r"T <= 4, 8.*\(1, 5, 8\)"):
        pe(torch.randn(1, 5, 8))


def test_sinusoidal_offset_is_a_rotation():
    d, k = 16, 7
    P = A.sinusoidal_table(100, d)
    freqs = 1 / 10000 ** (torch.arange(0, d, 2) / d)
    M = torch.zeros(d, d)
    for i, w in enumerate(freqs * k):  # PE(pos + k) = PE(pos) @ M, block-diagonal rotations
        c, s = math.cos(w), math.sin(w)
        M[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.tensor([[c, -s], [s, c]])
    assert_close(P[:-k] @ M, P[k:], atol=1e-4, rtol=1e-4)


def test_learned_positional_encoding():
    pe = A.LearnedPositionalEncoding(8, 0.0, max_len=10)
    X = torch.zeros(2, 4, 8)
    assert_close(pe(X), pe.P[:, :4].expand(2, 4, 8))
    assert pe.P.requires_grad


def test_learned_positional_encoding_keeps_the_input_dtype():
    pe = A.LearnedPositionalEncoding(8, 0.0, max_len=10)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        X = torch.ones(2, 4, 8, dtype=dtype)
        Y = pe(X)
        assert Y.dtype == dtype
        assert_close(Y, (X + pe.P[:, :4].to(dtype)).expand(2, 4, 8))
    with pytest.raises(ValueError):
        pe(torch.zeros(1, 11, 8))  # longer than max_len


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mha_on_cuda():
    m = A.MultiHeadAttention(64, 4, query_size=64, key_size=64, value_size=64).cuda().eval()
    e = A.MultiHeadAttention(64, 4, query_size=64, key_size=64, value_size=64, fused=False).cuda().eval()
    e.load_state_dict(m.state_dict())
    X = torch.randn(2, 9, 64, device="cuda")
    lens = torch.tensor([9, 4], device="cuda")
    for causal in (False, True):
        assert_close(m(X, X, X, lens, is_causal=causal), e(X, X, X, lens, is_causal=causal),
                     atol=1e-4, rtol=1e-4)
    pe = A.PositionalEncoding(64, 0.0).cuda()
    assert pe.P.device.type == "cuda" and pe(X).device.type == "cuda"


def test_explicit_path_in_half_precision():
    X = torch.randn(2, 4, 8).half()
    W = A.masked_softmax(X, torch.tensor([2, 3]))
    assert W.dtype == torch.float16 and (W[0, :, 2:] == 0).all()
