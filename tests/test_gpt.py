"""d2lt.gpt against transformers' GPT2LMHeadModel, its own cache-free path and brute-force sampling filters."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F
from torch.testing import assert_close

from d2lt import gpt as G

from transformers import GPT2Config, GPT2LMHeadModel

V, BS = 61, 24


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _hf(**kw):
    cfg = dict(vocab_size=V, n_positions=BS, n_embd=24, n_layer=2, n_head=3, bos_token_id=0,
               eos_token_id=0, pad_token_id=0)
    cfg.update(kw)
    return GPT2LMHeadModel(GPT2Config(**cfg)).eval()


def _small(**kw):
    cfg = dict(vocab_size=V, block_size=BS, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    cfg.update(kw)
    return G.GPT(G.GPTConfig(**cfg)).eval()


# ----------------------------------------------------------------------------- reference

@pytest.mark.parametrize("kw", [
    {},
    {"tie_word_embeddings": False},
    {"activation_function": "gelu", "n_inner": 40, "scale_attn_by_inverse_layer_idx": True},
    {"scale_attn_weights": False, "layer_norm_epsilon": 1e-3, "n_layer": 3},
    {"activation_function": "relu", "reorder_and_upcast_attn": True},
])
def test_from_hf_logits_and_loss_agree(kw):
    hf = _hf(**kw)
    if kw.get("tie_word_embeddings") is False:  # give the untied head its own values
        with torch.no_grad():
            hf.lm_head.weight.normal_(0, 0.5)
    ours = G.GPT.from_hf(hf).eval()
    assert ours.config.tie_weights == (kw.get("tie_word_embeddings", True))
    x = torch.randint(0, V, (3, 19))
    with torch.no_grad():
        ref = hf(x, labels=x)
        logits, loss = ours(x, torch.cat([x[:, 1:], torch.full((3, 1), -1)], 1))
    assert_close(logits, ref.logits, atol=1e-4, rtol=0)
    assert_close(loss, ref.loss, atol=1e-5, rtol=0)


def test_from_hf_gradients_agree():
    hf = _hf().train()
    hf.config.resid_pdrop = hf.config.embd_pdrop = hf.config.attn_pdrop = 0.0
    for m in hf.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    ours = G.GPT.from_hf(hf).train()
    x = torch.randint(0, V, (2, 11))
    hf(x, labels=x).loss.backward()
    ours(x, torch.cat([x[:, 1:], torch.full((2, 1), -1)], 1))[1].backward()
    assert_close(ours.transformer.wte.weight.grad, hf.transformer.wte.weight.grad, atol=1e-5, rtol=1e-4)
    # Conv1D stores (in, out): our nn.Linear gradient is its transpose
    assert_close(ours.transformer.h[1].mlp.c_fc.weight.grad, hf.transformer.h[1].mlp.c_fc.weight.grad.t(),
                 atol=1e-5, rtol=1e-4)


def test_from_hf_refuses_other_models():
    with pytest.raises(TypeError, match="GPT2LMHeadModel"):
        G.GPT.from_hf(_small())
    with pytest.raises(ValueError, match="activations"):
        G.GPT.from_hf(_hf(activation_function="quick_gelu"))


# ----------------------------------------------------------------------------- the model

def test_weight_tying_and_parameter_count():
    m = _small()
    assert m.lm_head.weight is m.transformer.wte.weight
    C, L = 16, 2
    per_block = 2 * 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) + (4 * C * C + C)
    assert m.num_parameters() == V * C + L * per_block + 2 * C
    assert m.num_parameters(non_embedding=False) == m.num_parameters() + BS * C
    untied = _small(tie_weights=False)
    assert untied.num_parameters() == m.num_parameters() + V * C


@pytest.mark.parametrize("kw", [{}, {"tie_weights": False}, {"bias": False}, {"norm": "post"},
                                {"n_inner": 24, "n_layer": 3}])
def test_parameter_count_from_the_config_is_exact(kw):
    m = _small(**kw)
    assert m.config.parameter_count() == m.num_parameters(non_embedding=False)
    assert m.config.parameter_count(non_embedding=True) == m.num_parameters()


def test_parameter_count_of_gpt2_small_and_gpt3():
    gpt2 = G.GPTConfig(vocab_size=50257, block_size=1024)  # 124M (Radford et al., 2019, quoted)
    assert round(gpt2.parameter_count() / 1e6) == 124
    gpt3 = G.GPTConfig(vocab_size=50257, block_size=2048, n_layer=96, n_head=96, n_embd=12288)
    assert round(gpt3.parameter_count() / 1e9) == 175  # GPT-3 175B (Brown et al., 2020, quoted)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_causal_a_future_token_changes_no_earlier_logit(norm):
    m = _small(norm=norm)
    x = torch.randint(0, V, (2, 12))
    y = x.clone()
    y[:, 7] = (y[:, 7] + 1) % V
    with torch.no_grad():
        a, b = m(x)[0], m(y)[0]
    assert_close(a[:, :7], b[:, :7])
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-4


def test_post_norm_block_is_layernorm_of_the_residual_sum():
    m = _small(norm="post")
    assert isinstance(m.transformer.ln_f, torch.nn.Identity)
    blk = m.transformer.h[0]
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        h = blk.ln_1(x + blk.attn(x))
        want = blk.ln_2(h + blk.mlp(h))
        assert_close(blk(x), want)
        pre = _small(norm="pre").transformer.h[0]
        pre.load_state_dict(blk.state_dict())
        want_pre = x + pre.attn(pre.ln_1(x))
        want_pre = want_pre + pre.mlp(pre.ln_2(want_pre))
        assert_close(pre(x), want_pre)
        assert (pre(x) - blk(x)).abs().max() > 1e-3


def test_attention_matches_an_explicit_masked_softmax():
    m = _small(n_head=4)
    att = m.transformer.h[0].attn
    x = torch.randn(2, 9, 16)
    q, k, v = att.c_attn(x).split(16, 2)
    q, k, v = (t.view(2, 9, 4, 4).transpose(1, 2) for t in (q, k, v))
    s = q @ k.transpose(-1, -2) / 2.0
    s = s.masked_fill(~torch.ones(9, 9, dtype=torch.bool).tril(), float("-inf"))
    y = (s.softmax(-1) @ v).transpose(1, 2).reshape(2, 9, 16)
    assert_close(att(x), att.c_proj(y), atol=1e-6, rtol=1e-5)


def test_loss_is_the_mean_over_positions_that_are_not_ignored():
    m = _small()
    x = torch.randint(0, V, (2, 10))
    t = torch.randint(0, V, (2, 10))
    t[0, 6:] = -1
    logits, loss = m(x, t)
    keep = t != -1
    want = F.cross_entropy(logits[keep], t[keep])
    assert_close(loss, want)
    assert m(x)[1] is None


def test_cached_forward_in_chunks_equals_one_call():
    m = _small()
    x = torch.randint(0, V, (2, 15))
    with torch.no_grad():
        full, _ = m(x)
        cache = m.new_cache()
        parts = [m(x[:, a:b], cache=cache)[0] for a, b in ((0, 6), (6, 7), (7, 11), (11, 15))]
    assert len(cache) == 15
    assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_greedy_with_and_without_cache_identical_beyond_the_block(norm):
    m = _small(norm=norm)
    x = torch.randint(0, V, (3, 5))
    a = m.generate(x, 40, temperature=0, use_cache=True)  # 45 > block_size 24: the window slides
    b = m.generate(x, 40, temperature=0, use_cache=False)
    assert a.shape == (3, 45)
    assert torch.equal(a, b)
    assert torch.equal(a[:, :5], x)
    with torch.no_grad():  # the first new token is the argmax of the prompt's last logits
        assert torch.equal(a[:, 5], m(x)[0][:, -1].argmax(-1))


def test_sampling_with_a_generator_is_reproducible_and_top_k_1_is_greedy():
    m = _small()
    x = torch.randint(0, V, (2, 4))
    s1 = m.generate(x, 12, temperature=1.0, generator=torch.Generator().manual_seed(3))
    s2 = m.generate(x, 12, temperature=1.0, generator=torch.Generator().manual_seed(3), use_cache=False)
    assert torch.equal(s1, s2)
    greedy = m.generate(x, 12, temperature=0)
    assert torch.equal(m.generate(x, 12, temperature=0.7, top_k=1), greedy)
    assert torch.equal(m.generate(x, 12, temperature=1.3, top_p=1e-6), greedy)


def test_eos_stops_rows_and_generation():
    m = _small()
    x = torch.randint(0, V, (2, 3))
    free = m.generate(x, 10, temperature=0)
    eos = int(free[0, 4])  # the second generated token of row 0
    out = m.generate(x, 10, temperature=0, eos=eos)
    for b in range(2):
        row = out[b, 3:].tolist()
        if eos not in row:  # this row never produced it: it ran all 10 steps as without eos
            assert torch.equal(out[b], free[b])
            continue
        first = row.index(eos)
        assert torch.equal(out[b, :3 + first + 1], free[b, :3 + first + 1])
        assert all(t == eos for t in row[first:])
    if all(eos in out[b, 3:].tolist() for b in range(2)):  # stopped once every row had ended
        assert out.shape[1] == 3 + max(out[b, 3:].tolist().index(eos) for b in range(2)) + 1


def test_training_mode_is_restored_and_dropout_is_used():
    m = _small(dropout=0.5).train()
    x = torch.randint(0, V, (2, 8))
    m.generate(x, 2, temperature=0)
    assert m.training
    assert (m(x)[0] - m(x)[0]).abs().max() > 0  # dropout active in training
    m.eval()
    assert_close(m(x)[0], m(x)[0])


# ----------------------------------------------------------------------------- sampling filters

def _brute_top_p(logits, p):
    """Keep the smallest prefix of the sorted tokens whose probability mass reaches p."""
    probs = logits.softmax(-1)
    order = probs.argsort(descending=True)
    keep = torch.zeros_like(probs, dtype=torch.bool)
    mass = 0.0
    for i in order.tolist():
        keep[i] = True
        mass += float(probs[i])
        if mass >= p:
            break
    return keep


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=2, max_size=12, unique=True), st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_set_reaching_p(values, p):
    logits = torch.tensor(values, dtype=torch.float64) / 10  # distinct probabilities
    kept = torch.isfinite(G.top_p_filter(logits, p))
    want = _brute_top_p(logits, p)
    if p < 1.0:
        # float rounding can only matter at an exact boundary; none is hit with these inputs
        assert torch.equal(kept, want)
    assert logits.softmax(-1)[kept].sum() >= min(p, 1.0) - 1e-9
    assert kept[logits.argmax()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=12, unique=True), st.integers(1, 14))
def test_top_k_keeps_exactly_the_k_largest(values, k):
    logits = torch.tensor(values, dtype=torch.float32) / 10
    out = G.top_k_filter(logits, k)
    kept = torch.isfinite(out)
    assert int(kept.sum()) == min(k, len(values))
    if kept.sum() < len(values):
        assert logits[kept].min() > logits[~kept].max()
    assert_close(out[kept], logits[kept])


def test_filters_on_a_batch_act_row_by_row():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    assert torch.equal(torch.isfinite(G.top_k_filter(logits, 2)),
                       torch.tensor([[True, True, False, False], [False, False, True, True]]))
    p = G.top_p_filter(logits, 0.7)
    probs = logits.softmax(-1)[0]  # 0.64, 0.24, ...: 0.64 < 0.7, so two tokens are kept
    assert float(probs[0]) < 0.7 < float(probs[:2].sum())
    assert torch.equal(torch.isfinite(p), torch.tensor([[True, True, False, False],
                                                         [False, False, True, True]]))


def test_temperature_scales_and_sample_next_follows_the_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    assert_close(G.filter_logits(logits, temperature=0.5), logits / 0.5)
    assert torch.equal(G.sample_next(logits, temperature=0), torch.tensor([0]))
    g = torch.Generator().manual_seed(0)
    n = 20000
    draws = G.sample_next(logits.expand(n, 4), temperature=2.0, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / n
    assert_close(freq, (logits[0] / 2.0).softmax(-1), atol=0.015, rtol=0)
    draws = G.sample_next(logits.expand(n, 4), temperature=1.0, top_k=2, generator=g)
    assert set(draws.tolist()) == {0, 1}
    freq = torch.bincount(draws, minlength=2).float() / n
    assert abs(float(freq[0]) - 1 / (1 + math.exp(-1))) < 0.015


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw, err", [
    ({"n_embd": 10, "n_head": 3}, ValueError),
    ({"n_layer": 0}, ValueError),
    ({"vocab_size": 10.0}, TypeError),
    ({"block_size": True}, TypeError),
    ({"dropout": 1.0}, ValueError),
    ({"dropout": float("nan")}, ValueError),
    ({"bias": 1}, TypeError),
    ({"norm": "middle"}, ValueError),
    ({"activation": "swiglu"}, ValueError),
    ({"n_inner": 0}, ValueError),
])
def test_config_refuses_bad_values(kw, err):
    with pytest.raises(err):
        G.GPTConfig(**{"vocab_size": V, "block_size": BS, "n_layer": 1, "n_head": 2, "n_embd": 8, **kw})


def test_model_refuses_bad_input():
    m = _small()
    with pytest.raises(TypeError, match="GPTConfig"):
        G.GPT({"vocab_size": V})
    with pytest.raises(TypeError, match="integer"):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\[0, 61\)"):
        m(torch.tensor([[0, 61]]))
    with pytest.raises(ValueError, match="shape"):
        m(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="block_size"):
        m(torch.zeros(1, BS + 1, dtype=torch.long))
    with pytest.raises(ValueError, match="shape of idx"):
        m(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="-1"):
        m(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[0, -100, 1]]))
    with pytest.raises(ValueError, match="all -1"):
        m(torch.zeros(1, 3, dtype=torch.long), torch.full((1, 3), -1))
    with pytest.raises(TypeError, match="KVCache"):
        m(torch.zeros(1, 3, dtype=torch.long), cache=[])
    with pytest.raises(TypeError, match="tensor"):
        m([[1, 2]])


@pytest.mark.parametrize("kw, err", [
    ({"max_new_tokens": -1}, ValueError),
    ({"max_new_tokens": 2.0}, TypeError),
    ({"temperature": -0.1}, ValueError),
    ({"temperature": float("nan")}, ValueError),
    ({"top_k": 0}, ValueError),
    ({"top_p": 0.0}, ValueError),
    ({"top_p": 1.5}, ValueError),
    ({"use_cache": "yes"}, TypeError),
    ({"eos": V}, ValueError),
    ({"generator": 3}, TypeError),
])
def test_generate_refuses_bad_arguments(kw, err):
    m = _small()
    args = {"max_new_tokens": 2, **kw}
    with pytest.raises(err):
        m.generate(torch.zeros(1, 2, dtype=torch.long), **args)


def test_cache_and_prompt_checks_refuse_bad_input():
    with pytest.raises(ValueError):
        G.KVCache(0)
    with pytest.raises(ValueError, match="empty"):
        G.check_prompt(torch.zeros(1, 0, dtype=torch.long), V)
    with pytest.raises(TypeError):
        G.check_prompt(torch.zeros(1, 2, dtype=torch.bool), V)
    m = _small()
    wrong = G.KVCache(3)
    with pytest.raises(TypeError, match="2 blocks"):
        m(torch.zeros(1, 2, dtype=torch.long), cache=wrong)
    with pytest.raises(TypeError):
        m.num_parameters("yes")


def test_sampling_helpers_refuse_bad_input():
    x = torch.randn(2, 5)
    with pytest.raises(ValueError):
        G.top_k_filter(x, 0)
    with pytest.raises(TypeError):
        G.top_k_filter(x, 2.5)
    with pytest.raises(TypeError):
        G.top_k_filter([1.0, 2.0], 1)
    with pytest.raises(ValueError):
        G.top_p_filter(x, 0)
    with pytest.raises(ValueError):
        G.top_p_filter(x, 1.01)
    with pytest.raises(ValueError, match="NaN"):
        G.top_p_filter(torch.tensor([1.0, float("nan")]), 0.5)
    with pytest.raises(TypeError):
        G.top_p_filter(torch.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError):
        G.top_k_filter(torch.zeros(2, 3, 4), 1)
    with pytest.raises(ValueError, match="greedy"):
        G.filter_logits(x, temperature=0)
    with pytest.raises(ValueError):
        G.sample_next(torch.randn(5), temperature=1.0)
    with pytest.raises(ValueError, match="empty"):
        G.sample_next(torch.zeros(2, 0))
