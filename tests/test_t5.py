"""d2lt.t5: span corruption on the issue's example and as properties, T5's random span mask,
relative position buckets and the model, against transformers' T5."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from d2lt import t5

from transformers import T5Config as HFConfig
from transformers import T5ForConditionalGeneration
from transformers.models.t5.modeling_t5 import T5Attention as HFAttention

V = 53


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ----------------------------------------------------------------------------- span corruption

def test_span_corrupt_the_issue_example():
    tokens = "I love this red car".split()
    mask = [False, True, False, True, True]
    inputs, targets = t5.span_corrupt(tokens, mask)
    assert inputs == ["I", "<extra_id_0>", "this", "<extra_id_1>"]
    assert targets == ["<extra_id_0>", "love", "<extra_id_1>", "red", "car", "<extra_id_2>"]
    assert t5.span_corrupt(tokens, torch.tensor(mask)) == (inputs, targets)


def test_span_corrupt_edge_cases_and_int_tokens():
    assert t5.span_corrupt(["a", "b"], [False, False]) == (["a", "b"], ["<extra_id_0>"])
    assert t5.span_corrupt(["a", "b"], [True, True]) == (["<extra_id_0>"], ["<extra_id_0>", "a", "b",
                                                                           "<extra_id_1>"])
    ids, tgt = t5.span_corrupt([5, 6, 7, 8], [True, False, False, True], sentinels=lambda k: 99 - k)
    assert ids == [99, 6, 7, 98] and tgt == [99, 5, 98, 8, 97]


def _reconstruct(inputs, targets, is_sentinel):
    """Put the target spans back in place of the sentinels of the inputs."""
    spans, cur = [], None
    for tok in targets:
        if is_sentinel(tok):
            if cur is not None:
                spans.append(cur)
            cur = []
        else:
            cur.append(tok)
    out = []
    for tok in inputs:
        out.extend(spans.pop(0) if is_sentinel(tok) else [tok])
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "the", "car"]), st.booleans()), max_size=20))
def test_span_corrupt_properties(pairs):
    tokens = [p[0] for p in pairs]
    mask = [p[1] for p in pairs]
    inputs, targets = t5.span_corrupt(tokens, mask)
    n_spans = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
    sent = [t5.sentinel(k) for k in range(n_spans + 1)]
    assert [t for t in inputs if t.startswith("<extra_id_")] == sent[:-1]
    assert [t for t in targets if t.startswith("<extra_id_")] == sent
    assert len(inputs) == mask.count(False) + n_spans
    assert len(targets) == mask.count(True) + n_spans + 1
    assert [t for t in targets if not t.startswith("<")] == [t for t, m in zip(tokens, mask) if m]
    assert _reconstruct(inputs, targets, lambda t: t.startswith("<extra_id_")) == tokens


def test_span_corrupt_refuses_bad_input():
    with pytest.raises(TypeError, match="split"):
        t5.span_corrupt("I love this", [True, False, False])
    with pytest.raises(ValueError, match="one bool per token"):
        t5.span_corrupt(["a", "b"], [True])
    with pytest.raises(TypeError, match="True/False"):
        t5.span_corrupt(["a", "b"], [1, 0])
    with pytest.raises(TypeError, match="sentinels"):
        t5.span_corrupt([1, 2], [True, False])
    with pytest.raises(TypeError, match="all str or all int"):
        t5.span_corrupt(["a", 2], [True, False])
    with pytest.raises(ValueError, match="also one of the tokens"):
        t5.span_corrupt(["<extra_id_0>", "b"], [False, True])
    with pytest.raises(TypeError):
        t5.span_corrupt(["a"], torch.tensor([1]))
    with pytest.raises(ValueError):
        t5.sentinel(-1)


# ----------------------------------------------------------------------------- random span mask

def _spans(mask):
    m = mask.tolist()
    return [i for i in range(len(m)) if m[i] and (i == 0 or not m[i - 1])]


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 300), st.floats(0.01, 0.9), st.floats(1.0, 8.0), st.integers(0, 2**31))
def test_random_span_mask_has_t5s_counts(n, density, mean_len, seed):
    mask = t5.random_span_mask(n, density, mean_len, generator=torch.Generator().manual_seed(seed))
    assert mask.dtype == torch.bool and mask.shape == (n,)
    noise = min(max(round(n * density), 1), n - 1)
    spans = min(max(round(noise / mean_len), 1), n - noise)
    assert int(mask.sum()) == noise
    assert len(_spans(mask)) == spans
    assert not bool(mask[0])


def test_random_span_mask_is_reproducible_random_and_has_the_mean_span_length():
    a = t5.random_span_mask(512, generator=torch.Generator().manual_seed(1))
    b = t5.random_span_mask(512, generator=torch.Generator().manual_seed(1))
    c = t5.random_span_mask(512, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = torch.Generator().manual_seed(0)
    lengths = []
    for _ in range(50):
        m = t5.random_span_mask(1000, 0.15, 3.0, generator=g)
        lengths.append(int(m.sum()) / len(_spans(m)))
    assert sum(lengths) / len(lengths) == pytest.approx(3.0, abs=0.05)
    # span lengths vary (not all 3): the noise is cut at random
    m = t5.random_span_mask(1000, 0.15, 3.0, generator=g)
    starts = _spans(m) + [None]
    runs = {int(m[s:].int().argmin()) if not bool(m[s:].all()) else len(m) - s for s in starts[:-1]}
    assert len(runs) > 2


@pytest.mark.parametrize("args, err", [
    ((1,), ValueError), ((10.0,), TypeError), ((10, 0.0), ValueError), ((10, 1.0), ValueError),
    ((10, float("nan")), ValueError), ((10, 0.15, 0.5), ValueError), ((10, 0.15, "3"), TypeError),
])
def test_random_span_mask_refuses_bad_input(args, err):
    with pytest.raises(err):
        t5.random_span_mask(*args)
    with pytest.raises(TypeError, match="Generator"):
        t5.random_span_mask(10, generator=0)


# ----------------------------------------------------------------------------- relative positions

@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", [(32, 128), (8, 20), (6, 7), (64, 1000)])
def test_relative_position_bucket_matches_transformers(bidirectional, num_buckets, max_distance):
    rel = torch.arange(-1500, 1500)[:, None] + torch.tensor([0, 1])[None, :]
    ours = t5.relative_position_bucket(rel, bidirectional, num_buckets, max_distance)
    ref = HFAttention._relative_position_bucket(rel, bidirectional, num_buckets, max_distance)
    assert torch.equal(ours, ref)
    assert int(ours.min()) >= 0 and int(ours.max()) < num_buckets


def test_relative_position_buckets_are_exact_near_and_shared_far():
    b = t5.relative_position_bucket(torch.arange(-200, 201), True, 32, 128)
    near = b[200 - 7:200 + 8]  # offsets -7 .. 7: each its own bucket
    assert len(set(near.tolist())) == 15
    assert b[0] == b[200 - 128] and b[-1] == b[200 + 128]  # beyond max_distance: the last bucket
    causal = t5.relative_position_bucket(torch.arange(1, 50), False, 32, 128)
    assert causal.eq(0).all()  # the future is one bucket (masked anyway)


def test_relative_position_bucket_refuses_bad_input():
    with pytest.raises(TypeError):
        t5.relative_position_bucket(torch.zeros(3), True)
    with pytest.raises(TypeError):
        t5.relative_position_bucket([1, 2], True)
    with pytest.raises(ValueError):
        t5.relative_position_bucket(torch.arange(3), True, 32, 8)
    with pytest.raises(TypeError):
        t5.relative_position_bucket(torch.arange(3), 1)


# ----------------------------------------------------------------------------- the model

def _hf(untie=False, **kw):
    cfg = dict(vocab_size=V, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_decoder_layers=3,
               num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
               dropout_rate=0.0, decoder_start_token_id=0)
    cfg.update(kw)
    model = T5ForConditionalGeneration(HFConfig(**cfg)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.uniform_(0.5, 1.5)
    if untie:  # T5 v1.1: a head of its own, no rescaling
        model.lm_head.weight = nn.Parameter(torch.randn(V, cfg["d_model"]))
    return model


@pytest.mark.parametrize("untie, kw", [
    (False, {}),
    (True, {"tie_word_embeddings": False}),
    (True, {"tie_word_embeddings": False, "feed_forward_proj": "gated-gelu"}),
    (False, {"feed_forward_proj": "gelu"}),
])
def test_from_hf_logits_agree(untie, kw):
    hf = _hf(untie, **kw)
    ours = t5.from_hf(hf).eval()
    assert ours.config.tie_weights == (not untie)
    assert ours.config.scale_output == (kw.get("tie_word_embeddings", True) is not False)
    x, y = torch.randint(2, V, (3, 21)), torch.randint(2, V, (3, 14))
    mask = torch.ones(3, 21, dtype=torch.long)
    mask[1, 15:] = 0
    mask[2, 4:] = 0
    with torch.no_grad():
        ref = hf(input_ids=x, decoder_input_ids=y, attention_mask=mask).logits
        assert_close(ours(x, y, mask), ref, atol=1e-4, rtol=0)
        assert_close(ours(x, y), hf(input_ids=x, decoder_input_ids=y).logits, atol=1e-4, rtol=0)
    assert ours.encoder.blocks[0].self_attn.relative_attention_bias is not None
    assert all(b.self_attn.relative_attention_bias is None for b in ours.encoder.blocks[1:])


def test_loss_shift_and_greedy_agree_with_transformers():
    hf = _hf()
    ours = t5.from_hf(hf).eval()
    x = torch.randint(2, V, (2, 12))
    labels = torch.randint(2, V, (2, 7))
    labels[1, 5:] = -100
    assert torch.equal(t5.shift_right(labels, 0), hf._shift_right(labels))
    with torch.no_grad():
        assert_close(ours.loss(x, labels), hf(input_ids=x, labels=labels).loss, atol=1e-5, rtol=0)
    ref = hf.generate(input_ids=x, max_new_tokens=9, do_sample=False, num_beams=1, min_length=0,
                      use_cache=False)
    got = ours.generate(x, 9)
    n = min(ref.shape[1] - 1, got.shape[1])
    assert torch.equal(got[:, :n], ref[:, 1:1 + n])


def test_padding_does_not_change_the_real_rows():
    ours = t5.T5(t5.T5Config(vocab_size=V, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_heads=4,
                             dropout=0.0)).eval()
    x, y = torch.randint(2, V, (1, 6)), torch.randint(2, V, (1, 5))
    padded = torch.cat([x, torch.zeros(1, 4, dtype=torch.long)], 1)
    mask = torch.tensor([[1] * 6 + [0] * 4])
    with torch.no_grad():
        assert_close(ours(padded, y, mask), ours(x, y), atol=1e-5, rtol=1e-5)
        assert (ours(padded, y) - ours(x, y)).abs().max() > 1e-4  # without the mask it does


def test_decoder_is_causal():
    ours = t5.T5(t5.T5Config(vocab_size=V, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4,
                             dropout=0.0)).eval()
    x, y = torch.randint(2, V, (1, 6)), torch.randint(2, V, (1, 8))
    y2 = y.clone()
    y2[0, 5] = (y2[0, 5] + 1) % V
    with torch.no_grad():
        a, b = ours(x, y), ours(x, y2)
    assert_close(a[:, :5], b[:, :5])
    assert (a[:, 5:] - b[:, 5:]).abs().max() > 1e-5


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        t5.T5Config(vocab_size=10, pad_id=10)
    with pytest.raises(ValueError):
        t5.T5Config(activation="tanh")
    with pytest.raises(ValueError):
        t5.T5Config(dropout=1.0)
    with pytest.raises(TypeError):
        t5.T5Config(gated="yes")
    with pytest.raises(TypeError, match="T5Config"):
        t5.T5(None)
    with pytest.raises(TypeError, match="T5ForConditionalGeneration"):
        t5.from_hf(nn.Linear(2, 2))
    m = t5.T5(t5.T5Config(vocab_size=V, d_model=8, d_kv=2, d_ff=16, num_layers=1, num_heads=4))
    x = torch.randint(0, V, (2, 5))
    with pytest.raises(ValueError, match=r"\[0, 53\)"):
        m(torch.full((2, 5), V), x)
    with pytest.raises(TypeError):
        m(x.float(), x)
    with pytest.raises(ValueError, match="batch size"):
        m(x, x[:1])
    with pytest.raises(ValueError, match="shape"):
        m(x, x, torch.ones(2, 4))
    with pytest.raises(ValueError, match="at least one real token"):
        m(x, x, torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError):
        m(x, x, torch.full((2, 5), 2))
    with pytest.raises(ValueError):
        t5.shift_right(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError):
        m.generate(x, 0)
