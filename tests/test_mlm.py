"""d2lt.mlm: the WordPiece tokenizer, sentence pairs, masked batches, metrics and the shipped checkpoint."""
import math
import random

import pytest
import torch

from d2lt import bert, data, mlm, train

TEXTS = ["The cat sat on the mat. The dog sat on the log!",
         "Reflectivity and reflection are related words; reflectors reflect light.",
         "Dr. Smith met J. R. Tolkien in 1950. They talked about languages."] * 20


@pytest.fixture(scope="module")
def small_tok():
    return mlm.train_wordpiece(TEXTS, vocab_size=200, min_frequency=1)


# ------------------------------------------------------------------ tokenizer

def test_wordpiece_numbers_its_pieces_in_sorted_order_after_the_specials(small_tok):
    vocab = mlm.vocab_of(small_tok)
    assert vocab[5:] == sorted(vocab[5:]) and len(vocab) == small_tok.get_vocab_size()
    assert mlm.vocab_of(small_tok)[:5] == list(mlm.SPECIALS)
    assert [small_tok.token_to_id(s) for s in mlm.SPECIALS] == [0, 1, 2, 3, 4]
    enc = small_tok.encode("the cat <mask> on the mat", add_special_tokens=False)
    assert mlm.MASK in enc.ids and enc.tokens[0] == "the"


def test_wordpiece_from_vocab_tokenises_like_the_trained_one(small_tok):
    rebuilt = mlm.wordpiece_from_vocab(mlm.vocab_of(small_tok))
    for text in TEXTS[:3] + ["unseen reflectivities, catalogues"]:
        assert (rebuilt.encode(text, add_special_tokens=False).tokens
                == small_tok.encode(text, add_special_tokens=False).tokens)
    pieces = small_tok.encode("reflectors", add_special_tokens=False).tokens
    assert len(pieces) >= 1 and all(p.startswith("##") for p in pieces[1:])


def test_tokenizer_functions_refuse_bad_input():
    with pytest.raises(TypeError):
        mlm.train_wordpiece("a single string")
    with pytest.raises(ValueError):
        mlm.train_wordpiece([])
    with pytest.raises(TypeError):
        mlm.train_wordpiece(["ok", 3])
    with pytest.raises(ValueError, match="vocab_size"):
        mlm.train_wordpiece(TEXTS, vocab_size=10)
    with pytest.raises(ValueError, match="special"):
        mlm.wordpiece_from_vocab(["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        mlm.wordpiece_from_vocab([*mlm.SPECIALS, "a", "a"])


def test_wiki_tokenizer_is_cached_verified_and_rebuilt_the_same(tmp_path, monkeypatch):
    arts = data.load_wiki("valid")
    monkeypatch.setattr(data, "load_wiki", lambda split=None: arts)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path)
    first = mlm.wiki_tokenizer(150)
    path = tmp_path / "prepared" / "wiki-wordpiece-150.json"
    assert path.is_file()
    cached = mlm.wiki_tokenizer(150)
    assert mlm.vocab_of(cached) == mlm.vocab_of(first)
    path.write_text('["damaged"]')                     # a damaged cache is trained again
    again = mlm.wiki_tokenizer(150)
    assert mlm.vocab_of(again)[:5] == list(mlm.SPECIALS) and again.get_vocab_size() == 150
    assert mlm.vocab_of(mlm.wiki_tokenizer(150)) == mlm.vocab_of(again)   # and cached
    assert mlm.vocab_fingerprint(first) == mlm.vocab_fingerprint(cached)


# ------------------------------------------------------------------ sentences

def test_split_sentences_keeps_abbreviations_and_initials():
    p = ("Dr. Smith met J. R. Tolkien in 1950. They talked! Did they agree? Yes, "
         "e.g. on elves. The U.S. Army was not there.")
    assert mlm.split_sentences(p) == [
        "Dr. Smith met J. R. Tolkien in 1950.", "They talked!", "Did they agree?",
        "Yes, e.g. on elves.", "The U.S. Army was not there."]
    assert mlm.split_sentences('He said "stop." Then he left.') == [
        'He said "stop."', "Then he left."]
    assert mlm.split_sentences("no full stop here") == ["no full stop here"]
    assert mlm.split_sentences("") == []
    with pytest.raises(TypeError):
        mlm.split_sentences(["a list"])


def test_article_paragraphs_refuses_what_is_not_an_article(small_tok):
    with pytest.raises(TypeError, match="Article"):
        mlm.article_paragraphs(["plain text"], small_tok)
    with pytest.raises(TypeError):
        mlm.article_paragraphs("plain text", small_tok)


# ------------------------------------------------------------------ examples and batches

@pytest.fixture(scope="module")
def examples(small_tok):
    arts = [data.Article("a", "\n\n".join(TEXTS[:6]), "train"),
            data.Article("b", "\n\n".join(TEXTS[6:12]), "train")]
    paras = mlm.article_paragraphs(arts, small_tok)
    return paras, mlm.pretraining_examples(paras, small_tok, max_len=16, seed=0)


def test_pretraining_examples_are_cls_a_sep_b_sep(small_tok, examples):
    paras, ex = examples
    assert ex.tokens.shape == ex.segments.shape and ex.tokens.shape[1] == 16
    for i in range(len(ex)):
        n = int(ex.valid_lens[i])
        row, seg = ex.tokens[i].tolist(), ex.segments[i].tolist()
        assert row[0] == mlm.CLS and row[n - 1] == mlm.SEP and row.count(mlm.SEP) == 2
        first = row.index(mlm.SEP)
        assert seg[:first + 1] == [0] * (first + 1) and seg[first + 1:n] == [1] * (n - first - 1)
        assert row[n:] == [mlm.PAD] * (16 - n) and seg[n:] == [0] * (16 - n)
    assert set(ex.is_next.tolist()) == {0, 1}
    assert not ex.maskable[:, 0].any() and not (ex.maskable & (ex.tokens == mlm.SEP)).any()


def test_a_positive_pair_is_two_consecutive_sentences(small_tok):
    paras = [[["a", "b"], ["c", "d"], ["e", "f"]], [["g", "h"], ["i", "j"]]]
    tok = mlm.wordpiece_from_vocab([*mlm.SPECIALS, *"abcdefghij"])
    ex = mlm.pretraining_examples(paras, tok, max_len=12, seed=1)
    pairs = bert.next_sentence_pairs(paras, random.Random(1))
    assert len(ex) == len(pairs)
    for i, (a, b, nxt) in enumerate(pairs):
        ids = [tok.token_to_id(t) for t in ["<cls>", *a, "<sep>", *b, "<sep>"]]
        assert ex.tokens[i, :len(ids)].tolist() == ids and bool(ex.is_next[i]) == nxt


def test_long_pairs_are_cut_to_max_len(small_tok):
    long = [["w"] * 30, ["w"] * 5]
    tok = mlm.wordpiece_from_vocab([*mlm.SPECIALS, "w"])
    ex = mlm.pretraining_examples([long], tok, max_len=12)
    assert int(ex.valid_lens.max()) == 12
    with pytest.raises(ValueError, match="no sentence pair"):
        mlm.pretraining_examples([[["w"]]], tok)


def test_batches_mask_afresh_each_pass_and_repeat_for_evaluation(small_tok, examples):
    _, ex = examples
    V = small_tok.get_vocab_size()
    b = mlm.MLMBatches(ex, 4, V, seed=3)
    first, second = list(b), list(b)
    assert len(first) == len(b) == math.ceil(len(ex) / 4)
    assert any(not torch.equal(x[3], y[3]) for x, y in zip(first, second))
    e = mlm.eval_batches(ex, V, batch_size=4)
    one, two = list(e), list(e)
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[3], y[3]) for x, y in zip(one, two))
    for inputs, segs, lens, labels, nxt in one:
        picked = labels != bert.IGNORE_INDEX
        assert (inputs[picked] == mlm.MASK).all()     # evaluation: every blank is <mask>
        assert (labels[picked] > mlm.MASK).all()      # only real tokens are predicted
        assert inputs.shape[1] == int(lens.max())     # shared padding trimmed


def test_batches_refuse_bad_arguments(examples):
    _, ex = examples
    with pytest.raises(TypeError, match="Examples"):
        mlm.MLMBatches([1, 2], 4, 100)
    with pytest.raises(ValueError):
        mlm.MLMBatches(ex, 0, 100)
    with pytest.raises(TypeError):
        mlm.MLMBatches(ex, 4, 100, shuffle="yes")


# ------------------------------------------------------------------ step and metrics

@pytest.fixture(scope="module")
def tiny_model(small_tok):
    torch.manual_seed(0)
    return mlm.build_bert(dict(vocab_size=small_tok.get_vocab_size(), num_hiddens=16,
                               ffn_num_hiddens=32, num_heads=2, num_blks=1, dropout=0.0,
                               max_len=16))


def test_pretrain_step_is_mlm_plus_nsp_cross_entropy(tiny_model, small_tok, examples):
    _, ex = examples
    batch = next(iter(mlm.MLMBatches(ex, 8, small_tok.get_vocab_size(), seed=0)))
    tokens, segments, lens, labels, nxt = batch
    loss = mlm.pretrain_step(tiny_model, batch)
    assert loss.requires_grad and torch.isfinite(loss)
    mask = torch.arange(tokens.shape[1])[None] < lens[:, None]
    enc = tiny_model.encoder(tokens, segments, lens)
    logits = tiny_model.mlm.mlp(enc)                     # every position, then pick the labelled
    picked = labels != bert.IGNORE_INDEX
    mlm_loss = torch.nn.functional.cross_entropy(logits[picked], labels[picked])
    nsp = torch.nn.functional.cross_entropy(tiny_model.nsp(tiny_model.hidden(enc[:, 0])), nxt)
    torch.testing.assert_close(loss, mlm_loss + nsp)
    torch.testing.assert_close(mlm.pretrain_step(tiny_model, batch, nsp_weight=0), mlm_loss)
    assert mask.any()


def test_evaluate_and_the_unigram_baseline_count_what_they_say(tiny_model, small_tok, examples):
    _, ex = examples
    V = small_tok.get_vocab_size()
    batches = mlm.eval_batches(ex, V, batch_size=5)
    r = mlm.evaluate(tiny_model, batches, topk=3)
    hit = hit3 = n = 0
    with torch.no_grad():
        for tokens, segments, lens, labels, nxt in batches:
            logits = tiny_model.mlm.mlp(tiny_model.encoder(tokens, segments, lens))
            picked = labels != bert.IGNORE_INDEX
            y, lg = labels[picked], logits[picked]
            hit += int((lg.argmax(-1) == y).sum())
            hit3 += sum(int(t in row) for t, row in zip(y.tolist(), lg.topk(3, -1).indices.tolist()))
            n += y.numel()
    assert r["predicted"] == n and r["accuracy"] == pytest.approx(hit / n)
    assert r["topk_accuracy"] == pytest.approx(hit3 / n) and r["topk_accuracy"] >= r["accuracy"]
    base = mlm.unigram_baseline(ex, batches, V)
    counts = torch.bincount(ex.tokens[ex.tokens > mlm.MASK], minlength=V)
    top = int(counts.argmax())
    ys = torch.cat([b[3][b[3] != bert.IGNORE_INDEX] for b in batches])
    assert base["token"] == top and base["accuracy"] == pytest.approx(float((ys == top).float().mean()))
    assert base["loss"] > 0
    with pytest.raises(TypeError, match="BERTModel"):
        mlm.evaluate(torch.nn.Linear(2, 2), batches)


def test_fill_mask_lists_k_real_tokens_per_blank(tiny_model, small_tok):
    out = mlm.fill_mask(tiny_model, small_tok, "the <mask> sat on the <mask>", k=4)
    assert len(out) == 2 and all(len(row) == 4 for row in out)
    for row in out:
        probs = [p for _, p in row]
        assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)
        assert not any(t in mlm.SPECIALS for t, _ in row)
    with pytest.raises(ValueError, match="<mask>"):
        mlm.fill_mask(tiny_model, small_tok, "no blank here")
    with pytest.raises(ValueError, match="max_len"):
        mlm.fill_mask(tiny_model, small_tok, " ".join(["the"] * 20) + " <mask>")
    with pytest.raises(ValueError):
        mlm.fill_mask(tiny_model, small_tok, "the <mask>", k=0)
    with pytest.raises(TypeError):
        mlm.fill_mask(tiny_model, small_tok, ["the <mask>"])


def test_configs_and_builders_check_their_arguments(small_tok):
    with pytest.raises(ValueError):
        mlm.wiki_bert_config(100, "huge")
    with pytest.raises(TypeError):
        mlm.build_bert([1, 2])
    model, config, path = mlm.wiki_bert(small_tok, "tiny")
    assert isinstance(model, bert.BERTModel) and config["vocab"] == mlm.vocab_fingerprint(small_tok)
    assert path.name == mlm.CHECKPOINT


# ------------------------------------------------------------------ the shipped checkpoint

def test_the_shipped_checkpoint_reproduces_its_test_figures():
    path = train.course_checkpoint(mlm.CHECKPOINT)
    if not path.is_file():
        pytest.skip(f"{path.name} is not present (scripts/train_bert_checkpoint.py makes it)")
    tok = mlm.shipped_tokenizer()
    assert tok is not None, f"{path.name} holds no vocabulary"
    model, config, _ = mlm.wiki_bert(tok)
    assert path.stat().st_size <= 8 * 2**20
    extra = train.load_checkpoint(path, model, config)
    assert "test" in extra, f"{path.name} is unfinished"
    ex = mlm.wiki_examples(tok, splits=("train", "test"))
    test = mlm.eval_batches(ex["test"], tok.get_vocab_size())
    r = mlm.evaluate(model, test, topk=5)
    base = mlm.unigram_baseline(ex["train"], test, tok.get_vocab_size())
    assert r["predicted"] == extra["test"]["predicted"]
    assert abs(r["accuracy"] - extra["test"]["accuracy"]) < 0.002
    assert base["accuracy"] == pytest.approx(extra["unigram"]["accuracy"])
    assert r["accuracy"] > 2.5 * base["accuracy"] and r["accuracy"] - base["accuracy"] > 0.08
    assert r["nsp_accuracy"] < 0.9                   # as chapter 7 says


def test_the_wiki_tokenizer_splits_like_transformers_bert_tokenizer(tmp_path):
    """The same vocabulary in transformers' own (pure Python) BertTokenizer gives the same pieces."""
    from transformers import BertTokenizer

    tok = mlm.shipped_tokenizer() or mlm.wiki_tokenizer(mlm.WIKI_VOCAB_SIZE)
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(mlm.vocab_of(tok)) + "\n", encoding="utf-8")
    ref = BertTokenizer(str(vocab_file), do_lower_case=True, unk_token="<unk>", sep_token="<sep>",
                        pad_token="<pad>", cls_token="<cls>", mask_token="<mask>")
    text = data.load_wiki("test")[0].text[:4000]
    ours = tok.encode(text, add_special_tokens=False).tokens
    assert ours == ref.tokenize(text)
    assert len(ours) > 500 and any(t.startswith("##") for t in ours)
