"""Tests of the count-based word vectors (co-occurrence, PPMI, truncated SVD)."""
import math
import random

import pytest
import torch
from torch.testing import assert_close

from d2lt import text, wordvec


def _brute_counts(sentences, V, window, reserved):
    C = torch.zeros(V, V)
    for s in sentences:
        for i, w in enumerate(s):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                if j != i and w >= reserved and s[j] >= reserved:
                    C[w, s[j]] += 1
    return C


@pytest.mark.parametrize("window", [1, 2, 3])
def test_cooccurrence_matches_a_loop(window):
    rng = random.Random(window)
    V = 12
    sents = [[rng.randrange(V) for _ in range(rng.randrange(1, 9))] for _ in range(30)]
    C = wordvec.cooccurrence(sents, V, window=window, reserved=4)
    assert_close(C, _brute_counts(sents, V, window, 4))
    assert_close(C, C.T)
    assert (C[:4] == 0).all() and (C[:, :4] == 0).all()


def test_ppmi_matches_the_formula():
    C = torch.tensor([[0.0, 3, 1], [3, 2, 0], [1, 0, 5]])
    got = wordvec.ppmi(C)
    N = C.sum()
    for w in range(3):
        for c in range(3):
            if C[w, c] == 0:
                want = 0.0
            else:
                want = max(0.0, math.log(C[w, c] * N / (C[w].sum() * C[:, c].sum())))
            assert abs(got[w, c].item() - want) < 1e-5
    assert (got >= 0).all() and torch.isfinite(got).all()


def _two_topic_corpus(n=400, seed=0):
    """Tokens 4-11 only ever meet each other, tokens 12-19 likewise."""
    rng = random.Random(seed)
    return [[rng.randrange(4, 12) if k % 2 else rng.randrange(12, 20) for _ in range(6)]
            for k in range(n)]


def test_vectors_are_unit_and_separate_contexts():
    sents = _two_topic_corpus()
    E = wordvec.ppmi_vectors(sents, 20, dim=4)
    assert E.shape == (20, 4)
    assert (E[:4] == 0).all()
    assert_close(E[4:].norm(dim=1), torch.ones(16))
    sims = E @ E.T
    same = torch.cat([sims[4:12, 4:12].flatten(), sims[12:, 12:].flatten()]).mean()
    across = sims[4:12, 12:].mean()
    assert same > across + 0.5, (same, across)


def test_vectors_are_seeded_and_leave_global_rng_alone():
    sents = _two_topic_corpus()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = wordvec.ppmi_vectors(sents, 20, dim=3, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = wordvec.ppmi_vectors(sents, 20, dim=3, seed=5)
    assert torch.equal(a, b)


def test_neighbours_of_a_word_share_its_contexts():
    words = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    rng = random.Random(1)
    sents = [[rng.choice(words[k % 2]) for _ in range(6)] for k in range(400)]
    vocab = text.Vocab(sents)
    E = wordvec.ppmi_vectors([torch.tensor(vocab[s]) for s in sents], len(vocab), dim=4)
    near = wordvec.neighbours(E, vocab, "a3", k=5)
    assert len(near) == 5 and "a3" not in near
    assert all(w.startswith("a") for w in near), near


@pytest.mark.parametrize("call, err", [
    (lambda: wordvec.cooccurrence("hello world", 10), TypeError),
    (lambda: wordvec.cooccurrence(["hello"], 10), TypeError),
    (lambda: wordvec.cooccurrence([], 10), ValueError),
    (lambda: wordvec.cooccurrence([[1, 2, 10]], 10), ValueError),
    (lambda: wordvec.cooccurrence([[1, -1]], 10), ValueError),
    (lambda: wordvec.cooccurrence([torch.tensor([[1, 2]])], 10), ValueError),
    (lambda: wordvec.cooccurrence([torch.tensor([1.0, 2.0])], 10), TypeError),
    (lambda: wordvec.cooccurrence([[1, 2]], 10, window=0), ValueError),
    (lambda: wordvec.cooccurrence([[1, 2]], 10.0), TypeError),
    (lambda: wordvec.cooccurrence([[1, 2]], 4, reserved=4), ValueError),
    (lambda: wordvec.ppmi(torch.ones(2, 3)), ValueError),
    (lambda: wordvec.ppmi(torch.tensor([[1.0, float("nan")], [0, 1]])), ValueError),
    (lambda: wordvec.ppmi(torch.tensor([[1.0, -1], [0, 1]])), ValueError),
    (lambda: wordvec.ppmi(torch.zeros(3, 3)), ValueError),
    (lambda: wordvec.ppmi_vectors([[5, 6, 7]], 10, dim=7), ValueError),
    (lambda: wordvec.ppmi_vectors([[5, 6, 7]], 10, dim=0), ValueError),
])
def test_bad_input_is_rejected_with_a_message(call, err):
    with pytest.raises(err, match=r"\w"):
        call()


def test_neighbours_rejects_unknown_words_and_bad_k():
    vocab = text.Vocab([["x", "y", "z"]])
    E = torch.randn(len(vocab), 3)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        wordvec.neighbours(E, vocab, "nope")
    with pytest.raises(ValueError, match="smaller than"):
        wordvec.neighbours(E, vocab, "x", k=len(vocab))
    with pytest.raises(TypeError):
        wordvec.neighbours(E, vocab, ["x"])
    with pytest.raises(ValueError, match="rows"):
        wordvec.neighbours(E[:-1], vocab, "x")
