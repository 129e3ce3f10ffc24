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
