"""d2lt.decoding: greedy with and without the key-value cache, beam search, log-probabilities."""
import itertools

import pytest
import torch

from d2lt import decoding, seq2seq, tasks
from d2lt import transformer as T

BOS, EOS, PAD = 1, 2, 0


def _model(seed, V=12, sharp=4.0, eos_bias=2.0):
    """A random Transformer whose next-token distributions are peaked (as a trained model's are)
    and that ends most outputs with <eos> within a few steps."""
    torch.manual_seed(seed)
    m = T.transformer_seq2seq(T.TransformerConfig(20, V, 32, 64, 4, 2, 0.0, tie_output=False)).eval()
    with torch.no_grad():
        m.decoder.dense.weight.mul_(sharp)
        m.decoder.dense.bias[EOS] += eos_bias
    return m


def _ended(ids):
    return sum(EOS in r for r in ids.tolist())


def _src(seed, B=6, S=7):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, 20, (B, S), generator=g), torch.tensor([7, 5, 3, 7, 1, 6][:B])


@pytest.mark.parametrize("seed", range(4))
def test_cache_gives_exactly_the_tokens_of_no_cache(seed):
    model = _model(seed)
    src, lens = _src(seed)
    a, la = decoding.greedy(model, src, lens, BOS, EOS, 30, use_cache=True)
    b, lb = decoding.greedy(model, src, lens, BOS, EOS, 30, use_cache=False)
    assert torch.equal(a, b)
    torch.testing.assert_close(la, lb)


def test_greedy_matches_the_chapter_1_decoder_and_its_logprob():
    model = _model(0)
    src, lens = _src(0)
    ids, logp = decoding.greedy(model, src, lens, BOS, EOS, 25)
    ref, _ = seq2seq.greedy_decode(model, src, lens, BOS, EOS, 25)
    for row, r in zip(ids.tolist(), ref.tolist()):
        n = row.index(EOS) + 1 if EOS in row else len(row)
        assert row[:n] == r[:n] and all(t == PAD for t in row[n:])
    torch.testing.assert_close(logp, decoding.sequence_logprob(model, src, lens, ids, BOS, EOS))


@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize("seed", range(3))
def test_beam_of_one_is_greedy(seed, alpha):
    model = _model(seed, eos_bias=5.0)
    src, lens = _src(seed)
    g, gl = decoding.greedy(model, src, lens, BOS, EOS, 20)
    assert _ended(g) >= 1  # some outputs end with <eos>, as real ones do
    b, bl, _ = decoding.beam_search(model, src, lens, BOS, EOS, 20, beam_size=1, alpha=alpha)
    assert torch.equal(b, g[:, :b.shape[1]]) and (g[:, b.shape[1]:] == PAD).all()
    torch.testing.assert_close(bl, gl)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [2, 4, 8])
def test_a_wider_beam_never_scores_below_greedy(seed, k):
    model = _model(seed, sharp=2.0)
    src, lens = _src(seed)
    _, gl = decoding.greedy(model, src, lens, BOS, EOS, 20)
    ids, bl, score = decoding.beam_search(model, src, lens, BOS, EOS, 20, beam_size=k, alpha=0.0)
    assert (bl >= gl - 1e-5).all(), (bl, gl)
    # the log-probability the search reports is the model's, recomputed by teacher forcing
    torch.testing.assert_close(bl, decoding.sequence_logprob(model, src, lens, ids, BOS, EOS))
    torch.testing.assert_close(score, bl)  # alpha = 0: no normalisation


def test_length_normalised_score_never_below_greedy():
    model = _model(1, sharp=2.0)
    src, lens = _src(1)
    g, gl = decoding.greedy(model, src, lens, BOS, EOS, 20)
    glen = torch.tensor([r.index(EOS) + 1 if EOS in r else len(r) for r in g.tolist()])
    _, bl, score = decoding.beam_search(model, src, lens, BOS, EOS, 20, beam_size=4, alpha=0.6)
    g_score = gl / ((5 + glen) / 6) ** 0.6
    assert (score >= g_score - 1e-5).all()


def test_a_beam_as_wide_as_the_search_space_finds_the_best_sequence():
    """Exhaustive check on a tiny vocabulary: every sequence of up to 3 tokens (then forced end)."""
    V, L = 5, 3
    model = _model(3, V=V, sharp=1.5)
    src, lens = _src(3, B=2)
    ids, bl, _ = decoding.beam_search(model, src, lens, BOS, EOS, L, beam_size=V ** L, alpha=0.0,
                                      keep_greedy=False)
    for b in range(2):
        best = -float("inf")
        seqs = [list(s) + [EOS] for n in range(L) for s in itertools.product(range(V), repeat=n)]
        seqs = [s for s in seqs if EOS not in s[:-1]] + [list(s) for s in itertools.product(range(V), repeat=L)
                                                         if EOS not in s]
        for s in seqs:
            t = torch.tensor([s + [PAD] * (L - len(s))])  # pads after <eos> do not count
            best = max(best, float(decoding.sequence_logprob(model, src[b:b + 1], lens[b:b + 1], t, BOS, EOS)))
        assert float(bl[b]) == pytest.approx(best, abs=1e-4)


def test_length_penalty():
    assert decoding.length_penalty(7, 0.0) == 1.0
    assert decoding.length_penalty(1, 0.6) == 1.0
    assert decoding.length_penalty(10, 1.0) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="alpha"):
        decoding.length_penalty(3, -1)
    with pytest.raises(ValueError, match="alpha"):
        decoding.length_penalty(3, float("nan"))


def test_bad_inputs_are_refused():
    model = _model(0)
    src, lens = _src(0)
    with pytest.raises(ValueError, match="max_steps"):
        decoding.greedy(model, src, lens, BOS, EOS, 0)
    with pytest.raises(TypeError, match="max_steps"):
        decoding.greedy(model, src, lens, BOS, EOS, 2.5)
    with pytest.raises(ValueError, match="eos"):
        decoding.greedy(model, src, lens, BOS, 99, 5)
    with pytest.raises(ValueError, match="beam_size"):
        decoding.beam_search(model, src, lens, BOS, EOS, 5, beam_size=0)
    with pytest.raises(TypeError, match="EncoderDecoder"):
        decoding.greedy("model", src, lens, BOS, EOS, 5)
    with pytest.raises((TypeError, ValueError), match="src"):
        decoding.greedy(model, src.float(), lens, BOS, EOS, 5)
    with pytest.raises(ValueError, match="src_len"):
        decoding.greedy(model, src, lens[:2], BOS, EOS, 5)
    with pytest.raises(TypeError, match="use_cache"):
        decoding.greedy(model, src, lens, BOS, EOS, 5, use_cache="yes")
    rnn = seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(20, 12))
    with pytest.raises(TypeError, match="TransformerDecoder"):
        decoding.beam_search(rnn, src, lens, BOS, EOS, 5)


def test_no_cache_greedy_works_for_the_rnn_models_too():
    model = tasks.rnn_seq2seq(seq2seq.Seq2SeqConfig(20, 12)).eval() if hasattr(tasks, "rnn_seq2seq") \
        else seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(20, 12)).eval()
    src, lens = _src(0)
    a, _ = decoding.greedy(model, src, lens, BOS, EOS, 10, use_cache=True)
    b, _ = decoding.greedy(model, src, lens, BOS, EOS, 10, use_cache=False)
    assert torch.equal(a, b)
