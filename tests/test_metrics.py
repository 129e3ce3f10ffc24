import random

import pytest
import sacrebleu

from d2lt import metrics
from d2lt.compat import d2l


def _sentences(rng, n, words="le la les chat chien est sur sous un une tapis maison".split()):
    return [" ".join(rng.choices(words, k=rng.randint(1, 14))) for _ in range(n)]


def test_sentence_bleu_equals_d2l():
    ref = d2l()
    rng = random.Random(0)
    for pred, label in zip(_sentences(rng, 300), _sentences(rng, 300)):
        for k in (1, 2, 3, 4):
            assert metrics.bleu(pred, label, k) == pytest.approx(ref.bleu(pred, label, k), abs=1e-12)
    assert metrics.bleu("a b c", "a b c", 4) == 1.0


def test_corpus_bleu_equals_sacrebleu():
    rng = random.Random(1)
    refs = _sentences(rng, 200, "a b c d e".split())
    hyps = [r if rng.random() < 0.5 else " ".join(reversed(r.split())) for r in refs]
    ours = metrics.corpus_bleu(hyps, refs)
    theirs = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="none", force=True).score
    assert 0 < ours < 100
    assert ours == pytest.approx(theirs, abs=1e-9)
    # a brevity penalty case: every hypothesis shorter than its reference
    short = [" ".join(r.split()[: max(1, len(r.split()) // 2)]) for r in refs]
    assert metrics.corpus_bleu(short, refs) == pytest.approx(
        sacrebleu.corpus_bleu(short, [refs], tokenize="none", smooth_method="none", force=True).score, abs=1e-9)


def test_bad_inputs():
    with pytest.raises(TypeError, match="pred_seq"):
        metrics.bleu(["a"], "a", 2)
    with pytest.raises(ValueError, match="k must be a positive int"):
        metrics.bleu("a", "a", 0)
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        metrics.corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="lists of strings"):
        metrics.corpus_bleu("a b", "a b")


# --------------------------------------------------------------------------- bad input, by class

@pytest.mark.parametrize("args,error,match", [
    ((["a"], "a", 2), TypeError, "pred_seq"),            # wrong type
    (("a", ["a"], 2), TypeError, "label_seq"),
    (("a", None, 2), TypeError, "label_seq"),
    (("a", "a", 2.0), TypeError, "k must be a positive int"),
    (("a", "a", "2"), TypeError, "k must be a positive int"),
    (("a", "a", True), TypeError, "k must be a positive int"),
    (("a", "a", 0), ValueError, "k must be a positive int"),   # out of range
    (("a", "a", -2), ValueError, "k must be a positive int"),
    (("a", "", 2), ValueError, "at least one token"),          # empty
    (("a", "   ", 2), ValueError, "at least one token"),
])
def test_sentence_bleu_bad_inputs(args, error, match):
    with pytest.raises(error, match=match):
        metrics.bleu(*args)


def test_sentence_bleu_edge_values_match_d2l():
    ref = d2l()
    for pred, label, k in [("", "a b", 2), ("a", "a b c", 4), ("a b c d e", "a", 4), ("a a a", "a", 1)]:
        assert metrics.bleu(pred, label, k) == pytest.approx(ref.bleu(pred, label, k), abs=1e-12)
    assert metrics.bleu("a b", "a b", 10) == 1.0  # k beyond the length is fine, as in d2l


@pytest.mark.parametrize("fn", [metrics.corpus_bleu, metrics.bleu_stats])
@pytest.mark.parametrize("hyps,refs,kwargs,error,match", [
    ("a b", ["a b"], {}, TypeError, "single str"),
    (["a b"], "a b", {}, TypeError, "single str"),
    ({"a": 1}, ["a"], {}, TypeError, "hypotheses must be a list"),
    (["a"], iter(["a"]), {}, TypeError, "references must be a list"),
    (["a", 3], ["a", "b"], {}, TypeError, r"hypotheses\[1\] must be"),
    (["a"], [["a"]], {}, TypeError, r"references\[0\] must be"),
    (["a"], ["a", "b"], {}, ValueError, "one reference per hypothesis"),
    ([], [], {}, ValueError, "empty corpus"),
    (["a"], ["a"], {"max_n": 0}, ValueError, "max_n"),
    (["a"], ["a"], {"max_n": -1}, ValueError, "max_n"),
    (["a"], ["a"], {"max_n": 2.5}, TypeError, "max_n"),
    (["a"], ["a"], {"max_n": None}, TypeError, "max_n"),
])
def test_corpus_bad_inputs(fn, hyps, refs, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(hyps, refs, **kwargs)


def test_corpus_edge_values_match_sacrebleu():
    cases = [(["", "a b c d e"], ["a b", "a b c d e"]), (("a b c d",), ("a b c d",)),
             (["a b c d e f"], ["a b c d e f g h"]), (["x y z w"], ["a b c d"])]
    for hyps, refs in cases:
        theirs = sacrebleu.corpus_bleu(list(hyps), [list(refs)], tokenize="none", smooth_method="none",
                                       force=True).score
        assert metrics.corpus_bleu(hyps, refs) == pytest.approx(theirs, abs=1e-9), (hyps, refs)
    assert metrics.bleu_stats(["a b a"], ["a a"], max_n=2) == ([2, 0], [3, 2], 3, 2)
