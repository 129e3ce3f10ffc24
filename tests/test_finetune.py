"""d2lt.finetune against transformers (classifier head, schedule) and scikit-learn (the probe)."""
import math

import pytest
import torch
from torch.testing import assert_close

from d2lt import bert
from d2lt import finetune as ft

transformers = pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


class WordTokenizer:
    """A tiny word-level tokenizer called like a transformers one: [CLS]=1 ... [SEP]=2, pad 0."""

    pad_token_id = 0

    def __init__(self, words):
        self.vocab = {w: i + 3 for i, w in enumerate(sorted(set(words)))}
        self.vocab_size = len(self.vocab) + 3

    def __call__(self, texts, truncation=False, max_length=None):
        ids = []
        for t in texts:
            row = [1] + [self.vocab[w] for w in t.split()] + [2]
            if truncation and max_length is not None and len(row) > max_length:
                row = row[:max_length - 1] + [2]
            ids.append(row)
        return {"input_ids": ids, "token_type_ids": [[0] * len(r) for r in ids]}


WORDS = "good great fine bad awful poor the film was and a plot".split()


def _sentences(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    pos, neg, filler = WORDS[:3], WORDS[3:6], WORDS[6:]
    texts, labels = [], []
    for i in range(n):
        y = i % 2
        k = int(torch.randint(1, 8, (1,), generator=g))
        words = [filler[int(j)] for j in torch.randint(0, len(filler), (k,), generator=g)]
        cue = (pos if y else neg)[int(torch.randint(0, 3, (1,), generator=g))]
        words.insert(int(torch.randint(0, k + 1, (1,), generator=g)), cue)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, labels


def _encoder(V, D=16, L=2, dropout=0.0):
    return bert.BERTEncoder(V, D, 32, 2, L, dropout, max_len=32)


# ----------------------------------------------------------------------------- batching

def test_make_batches_covers_every_sentence_once_with_its_label():
    texts, labels = _sentences(50)
    tok = WordTokenizer(WORDS)
    for shuffle in (False, True):
        bs = ft.make_batches(tok, texts, labels, 8, shuffle=shuffle, seed=3)
        idx = torch.cat([b.index for b in bs])
        assert sorted(idx.tolist()) == list(range(50))
        for b in bs:
            assert b.tokens.shape == b.segments.shape and b.tokens.shape[1] == int(b.valid_lens.max())
            for r, i in enumerate(b.index.tolist()):
                n = int(b.valid_lens[r])
                assert b.tokens[r, :n].tolist() == tok([texts[i]])["input_ids"][0]
                assert (b.tokens[r, n:] == 0).all() and int(b.labels[r]) == labels[i]


def test_make_batches_sorts_by_length_and_shuffles_by_seed():
    texts, labels = _sentences(200)
    tok = WordTokenizer(WORDS)
    plain = ft.make_batches(tok, texts, labels, 16, by_length=False)
    srt = ft.make_batches(tok, texts, labels, 16)
    assert sum(b.tokens.numel() for b in srt) < sum(b.tokens.numel() for b in plain)
    lens = [int(b.valid_lens.max()) for b in srt]
    assert lens == sorted(lens)
    a = ft.make_batches(tok, texts, labels, 16, shuffle=True, seed=1)
    b = ft.make_batches(tok, texts, labels, 16, shuffle=True, seed=1)
    c = ft.make_batches(tok, texts, labels, 16, shuffle=True, seed=2)
    assert all(torch.equal(x.index, y.index) for x, y in zip(a, b))
    assert not all(torch.equal(x.index, y.index) for x, y in zip(a, c))


def test_make_batches_truncates_and_refuses_bad_input():
    tok = WordTokenizer(WORDS)
    long = " ".join(["the"] * 40)
    b = ft.make_batches(tok, [long, "good"], max_len=10)[0]
    assert int(b.valid_lens.max()) == 10
    with pytest.raises(TypeError, match="list of str"):
        ft.make_batches(tok, "good film")
    with pytest.raises(ValueError, match="empty"):
        ft.make_batches(tok, [])
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str"):
        ft.make_batches(tok, ["good", 3])
    with pytest.raises(ValueError, match="one label per sentence"):
        ft.make_batches(tok, ["good", "bad"], [1])
    with pytest.raises(ValueError, match=r"labels\[0\]"):
        ft.make_batches(tok, ["good"], [-1])
    with pytest.raises(ValueError, match="batch_size"):
        ft.make_batches(tok, ["good"], batch_size=0)
    with pytest.raises(TypeError, match="tokenizer must be callable"):
        ft.make_batches("bert", ["good"])


# ----------------------------------------------------------------------------- pooling, head

def test_mean_pooling_ignores_padding_and_cls_takes_position_0():
    enc = _encoder(20).eval()
    tokens = torch.randint(3, 20, (3, 7))
    segs = torch.zeros_like(tokens)
    lens = torch.tensor([7, 4, 1])
    with torch.no_grad():
        X = enc(tokens, segs, lens)
        for b, n in enumerate(lens.tolist()):
            alone = enc(tokens[b:b + 1, :n], segs[b:b + 1, :n])[0]
            assert_close(ft.pool(X, lens, "mean")[b], alone.mean(0), atol=1e-5, rtol=1e-4)
            assert_close(ft.pool(X, lens, "cls")[b], alone[0], atol=1e-5, rtol=1e-4)
    assert_close(ft.pool(X, None, "mean"), X.mean(1))
    with pytest.raises(ValueError, match="one of"):
        ft.pool(X, lens, "max")
    with pytest.raises(ValueError, match=r"valid_lens must lie in \[1, 7\]"):
        ft.pool(X, torch.tensor([7, 0, 1]), "mean")
    with pytest.raises(TypeError, match="integer tensor"):
        ft.pool(X, lens.float(), "mean")
    with pytest.raises(ValueError, match="3 entries"):
        ft.pool(X, lens[:2], "mean")
    with pytest.raises(ValueError, match="batch, steps, num_hiddens"):
        ft.pool(X[0], lens, "mean")


def test_two_layer_cls_head_equals_bert_for_sequence_classification():
    cfg = transformers.BertConfig(vocab_size=60, hidden_size=24, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=40,
                                  max_position_embeddings=30, num_labels=3)
    ref = transformers.BertForSequenceClassification(cfg).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ours = ft.SentenceClassifier(bert.from_hf(ref.bert), num_classes=3, pooling="cls",
                                 head_layers=2).eval()
    with torch.no_grad():
        ours.hidden[0].weight.copy_(ref.bert.pooler.dense.weight)
        ours.hidden[0].bias.copy_(ref.bert.pooler.dense.bias)
        ours.output.weight.copy_(ref.classifier.weight)
        ours.output.bias.copy_(ref.classifier.bias)
    tokens, segs = torch.randint(0, 60, (4, 9)), torch.randint(0, 2, (4, 9))
    lens = torch.tensor([9, 6, 2, 1])
    with torch.no_grad():
        want = ref(input_ids=tokens, token_type_ids=segs,
                   attention_mask=bert.hf_attention_mask(lens, 9)).logits
        got = ours(tokens, segs, lens)
    assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_classifier_shapes_parameters_and_bad_input():
    enc = _encoder(30)
    one = ft.SentenceClassifier(enc, 4, pooling="mean")
    added = [n for n, _ in one.named_parameters() if not n.startswith("encoder.")]
    assert added == ["output.weight", "output.bias"] and one.output.weight.shape == (4, 16)
    assert abs(one.output.weight.std().item() - 0.02) < 0.01 and (one.output.bias == 0).all()
    out = one(torch.randint(0, 30, (2, 5)), torch.zeros(2, 5, dtype=torch.long), torch.tensor([5, 2]))
    assert out.shape == (2, 4)
    with pytest.raises(TypeError, match="BERTEncoder"):
        ft.SentenceClassifier(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="num_classes"):
        ft.SentenceClassifier(enc, 1)
    with pytest.raises(ValueError, match="head_layers"):
        ft.SentenceClassifier(enc, head_layers=3)
    with pytest.raises(ValueError, match="pooling"):
        ft.SentenceClassifier(enc, pooling="max")


# ----------------------------------------------------------------------------- features, probe

def test_layer_features_are_every_layer_pooled_in_the_sentences_order():
    texts, _ = _sentences(23)
    tok = WordTokenizer(WORDS)
    enc = _encoder(tok.vocab_size, L=3, dropout=0.1).train()
    bs = ft.make_batches(tok, texts, batch_size=5)
    feats = ft.layer_features(enc, bs)
    assert enc.training  # mode restored
    assert set(feats) == {"cls", "mean"} and feats["mean"].shape == (23, 4, 16)
    enc.eval()
    one = ft.make_batches(tok, texts[7:8])[0]
    with torch.no_grad():
        last = enc(one.tokens, one.segments, one.valid_lens)
        emb = enc.embed(one.tokens, one.segments)
    assert_close(feats["mean"][7, -1], ft.pool(last, one.valid_lens, "mean")[0], atol=1e-5, rtol=1e-4)
    assert_close(feats["cls"][7, -1], last[0, 0], atol=1e-5, rtol=1e-4)
    assert_close(feats["mean"][7, 0], ft.pool(emb, one.valid_lens, "mean")[0], atol=1e-5, rtol=1e-4)
    only = ft.layer_features(enc, bs, pooling="cls")
    assert list(only) == ["cls"]
    with pytest.raises(ValueError, match="each sentence once"):
        ft.layer_features(enc, bs + bs[:1])
    with pytest.raises(TypeError, match="Batch"):
        ft.layer_features(enc, [1, 2])


def test_fit_linear_is_scikit_learns_logistic_regression():
    sklearn = pytest.importorskip("sklearn.linear_model")
    g = torch.Generator().manual_seed(1)
    N, Fdim, C = 150, 6, 3
    X = torch.randn(N, Fdim, generator=g) * torch.tensor([1, 2, 5, 0.5, 1, 3]) + 2
    y = (X[:, 0] + 0.5 * X[:, 1] + torch.randn(N, generator=g)).argsort().argsort() * C // N
    for l2 in (0.01, 1.0):
        probe = ft.fit_linear(X, y, l2=l2)
        Z = ((X - X.mean(0)) / X.std(0, unbiased=False)).double().numpy()
        ref = sklearn.LogisticRegression(C=1 / (l2 * N), max_iter=5000, tol=1e-10).fit(Z, y.numpy())
        with torch.no_grad():
            ours = torch.softmax(probe(X), 1).double()
        assert_close(ours, torch.from_numpy(ref.predict_proba(Z)), atol=2e-3, rtol=0)
    acc = ft.probe_accuracy(X[:100], y[:100], X[100:], y[100:])
    assert 0.5 < acc <= 1.0


def test_fit_linear_refuses_bad_input():
    X, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
    with pytest.raises(ValueError, match="one label per row"):
        ft.fit_linear(X, y[:9])
    with pytest.raises(TypeError, match="floating-point"):
        ft.fit_linear(X.long(), y)
    with pytest.raises(ValueError, match="finite"):
        ft.fit_linear(X.masked_fill(X > 1, float("nan")), y)
    with pytest.raises(ValueError, match="num_classes=2"):
        ft.fit_linear(X, y + 1, num_classes=2)
    with pytest.raises(ValueError, match="l2"):
        ft.fit_linear(X, y, l2=-1.0)


# ----------------------------------------------------------------------------- fine-tuning

@pytest.mark.parametrize("total, warm", [(100, 10), (7, 0), (30, 30), (1, 1)])
def test_schedule_equals_transformers(total, warm):
    ours = ft.linear_warmup_decay(total, warm)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    ref = transformers.get_linear_schedule_with_warmup(opt, warm, total)
    for s in range(total + 3):
        assert abs(ours(s) - opt.param_groups[0]["lr"]) < 1e-12, s
        opt.step()
        ref.step()


def test_schedule_refuses_bad_input():
    with pytest.raises(ValueError, match="warmup_steps"):
        ft.linear_warmup_decay(10, 11)
    with pytest.raises(TypeError, match="total_steps"):
        ft.linear_warmup_decay(10.0, 1)
    with pytest.raises(ValueError, match="step"):
        ft.linear_warmup_decay(10, 1)(-1)


def test_finetune_learns_a_separable_task_with_the_schedule():
    texts, labels = _sentences(96)
    tok = WordTokenizer(WORDS)
    model = ft.SentenceClassifier(_encoder(tok.vocab_size, dropout=0.1), pooling="mean")
    before = [p.detach().clone() for p in model.encoder.parameters()]
    h = ft.finetune(model, tok, texts, labels, epochs=12, lr=1e-2, batch_size=16, warmup=0.25,
                    device="cpu")
    steps = 12 * math.ceil(96 / 16)
    assert h.steps == steps == len(h.losses) == len(h.lrs) and h.stopped_by == "epochs"
    factor = ft.linear_warmup_decay(steps, round(0.25 * steps))
    assert all(abs(lr - 1e-2 * factor(s)) < 1e-12 for s, lr in enumerate(h.lrs))
    assert sum(h.losses[-6:]) / 6 < 0.5 * sum(h.losses[:6]) / 6
    assert not model.training
    assert all(not torch.equal(a, b) for a, b in zip(before, model.encoder.parameters()))
    test_texts, test_labels = _sentences(40, seed=9)
    pred = ft.predict(model, ft.make_batches(tok, test_texts, batch_size=7))
    assert ft.accuracy(pred, test_labels) >= 0.9


def test_adamw_groups_leave_biases_and_norms_undecayed():
    model = ft.SentenceClassifier(_encoder(20))
    decay, no_decay = ft.adamw_groups(model, 0.01)
    named = {id(p): n for n, p in model.named_parameters()}
    assert all(named[id(p)].endswith("bias") or ".ln." in named[id(p)] or "norm" in named[id(p)]
               for p in no_decay["params"])
    assert {named[id(p)] for p in decay["params"]} >= {"encoder.token_embedding.weight",
                                                       "encoder.pos_embedding", "output.weight"}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_finetune_refuses_bad_input():
    tok = WordTokenizer(WORDS)
    model = ft.SentenceClassifier(_encoder(tok.vocab_size))
    with pytest.raises(TypeError, match="labels"):
        ft.finetune(model, tok, ["good"], None)
    with pytest.raises(ValueError, match="lr"):
        ft.finetune(model, tok, ["good"], [1], lr=0.0)
    with pytest.raises(ValueError, match="warmup"):
        ft.finetune(model, tok, ["good"], [1], warmup=1.5)
    with pytest.raises(TypeError, match="Module"):
        ft.finetune("model", tok, ["good"], [1])
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        ft.finetune(model, tok, ["good"], [1])


# ----------------------------------------------------------------------------- scoring, curves

def test_accuracy_and_stratified_subsets():
    assert ft.accuracy(torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 1, 0])) == 0.5
    assert ft.accuracy([1, 0], [1, 0]) == 1.0
    with pytest.raises(ValueError, match="one length"):
        ft.accuracy(torch.tensor([1, 0]), torch.tensor([1]))
    labels = torch.tensor([0] * 30 + [1] * 10 + [2] * 60)
    for n, seed in ((9, 0), (31, 4), (50, 1)):
        idx = ft.stratified_subset(labels, n, seed)
        assert len(idx) == n == len(set(idx.tolist()))
        counts = torch.bincount(labels[idx], minlength=3)
        if n <= 30:
            assert counts.max() - counts.min() <= 1
        else:
            assert counts[1] == 10 and counts.sum() == n
        assert torch.equal(idx, ft.stratified_subset(labels, n, seed))
    assert not torch.equal(ft.stratified_subset(labels, 20, 0), ft.stratified_subset(labels, 20, 1))
    assert len(ft.stratified_subset(labels, 100, 0).unique()) == 100
    with pytest.raises(ValueError, match="n must be"):
        ft.stratified_subset(labels, 101)


def test_learning_curve_and_mean_spread():
    labels = torch.tensor([0, 1] * 20)
    calls = []

    def score(idx, seed):
        calls.append((len(idx), seed))
        return len(idx) / 40

    curve = ft.learning_curve(score, labels, [4, 20], seeds=(0, 1, 2))
    assert curve == {4: [0.1] * 3, 20: [0.5] * 3} and len(calls) == 6
    assert ft.mean_spread([0.5, 0.7]) == pytest.approx((0.6, math.sqrt(0.02)))
    assert ft.mean_spread([0.3]) == (0.3, 0.0)
    with pytest.raises(ValueError, match="accuracy in"):
        ft.learning_curve(lambda i, s: 2.0, labels, [4])
    with pytest.raises(TypeError, match="callable"):
        ft.learning_curve(None, labels, [4])
