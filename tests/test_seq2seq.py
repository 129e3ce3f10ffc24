import pytest
import torch

from d2lt import seq2seq, tasks, text
from d2lt.compat import d2l
from helpers import assert_stepwise_equals_teacher_forced


def _small(V=12, E=6, H=10, L=2):
    torch.manual_seed(0)
    return seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(V, V, E, H, L))


def test_encoder_matches_d2l_without_padding():
    ref = d2l().Seq2SeqEncoder(12, 6, 10, 2)
    enc = seq2seq.Seq2SeqEncoder(12, 6, 10, 2)
    enc.embedding.load_state_dict(ref.embedding.state_dict())
    enc.rnn.load_state_dict(ref.rnn.rnn.state_dict())
    X = torch.randint(0, 12, (3, 5))
    out_ref, state_ref = ref(X)
    out, state = enc(X)
    torch.testing.assert_close(out, out_ref.transpose(0, 1))
    torch.testing.assert_close(state, state_ref)


def test_encoder_state_ignores_padding():
    model = _small()
    X = torch.randint(4, 12, (2, 6))
    lens = torch.tensor([3, 6])
    _, state = model.encoder(X, lens)
    X2 = X.clone()
    X2[0, 3:] = 0  # whatever sits in the padding does not matter
    _, state2 = model.encoder(X2, lens)
    torch.testing.assert_close(state, state2)
    _, alone = model.encoder(X[:1, :3])
    torch.testing.assert_close(state[:, :1], alone)


def test_decoder_step_by_step_equals_teacher_forced():
    model = _small()
    X, lens = torch.randint(4, 12, (3, 5)), torch.tensor([5, 2, 4])
    assert_stepwise_equals_teacher_forced(model, X, lens, torch.randint(4, 12, (3, 4)))


def test_sequence_loss_ignores_padding():
    logits = torch.randn(2, 3, 7)
    Y = torch.tensor([[4, 5, 0], [6, 0, 0]])
    manual = torch.nn.functional.cross_entropy(logits[[0, 0, 1], [0, 1, 0]], torch.tensor([4, 5, 6]))
    torch.testing.assert_close(seq2seq.sequence_loss(logits, Y, 0), manual)
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        seq2seq.sequence_loss(logits, Y[:, :2], 0)


def test_pair_tensors_shift_and_bad_inputs():
    pairs = [("a b", "x y z"), ("a", "x")]
    sv, tv = text.Vocab([["a", "b"]]), text.Vocab([["x", "y", "z"]])
    T = seq2seq.pair_tensors(pairs, sv, tv, 4, 4)
    assert T.dec_in[0].tolist() == [tv.bos, tv["x"], tv["y"], tv["z"]]
    assert T.tgt[0].tolist() == [tv["x"], tv["y"], tv["z"], tv.eos]
    assert T.dec_in[1].tolist() == [tv.bos, tv["x"], tv.pad, tv.pad]
    assert T.tgt_len.tolist() == [4, 2] and T.src_len.tolist() == [3, 2]
    with pytest.raises(ValueError, match="empty"):
        seq2seq.pair_tensors([], sv, tv, 4, 4)
    model = _small()
    with pytest.raises(TypeError, match=r"\(batch, steps\).*float32"):
        model.encoder(torch.randn(2, 3))
    with pytest.raises(ValueError, match="valid_lens"):
        model.encoder(torch.zeros(2, 3, dtype=torch.long), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"lie in \[1, 3\]"):
        model.encoder(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 4]))
    with pytest.raises(TypeError, match="Seq2SeqConfig"):
        seq2seq.rnn_seq2seq({"src_vocab": 3})
    with pytest.raises(TypeError, match="single str"):
        seq2seq.translate(model, "a b", sv, tv, 4, 4)


def test_greedy_decode_learns_a_copy_task():
    """A tiny model trained for a few hundred steps copies short sequences: the whole pipeline works."""
    from d2lt import train
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    words = [str(i) for i in range(6)]
    pairs = [(" ".join(s), " ".join(s)) for s in
             ([words[j] for j in torch.randint(0, 6, (int(torch.randint(1, 5, (1,), generator=g)),), generator=g)]
              for _ in range(600))]
    task = tasks.translation_task(pairs, pairs[:100], min_freq=1)
    model = seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), 16, 48))
    train.fit(model, task.train.loader(32), lambda m, b: seq2seq.seq2seq_step(m, b, task.tgt_vocab.pad),
              num_epochs=25, lr=1e-2, progress=False, device=torch.device("cpu"))
    rows = seq2seq.bleu_by_length(model, task.test_pairs, task.src_vocab, task.tgt_vocab, task.src_steps,
                                  task.tgt_steps + 2, [1, 3, 6])
    assert sum(r["exact"] * r["n"] for r in rows) / sum(r["n"] for r in rows) > 0.9


def test_greedy_decode_checks_and_keeps_the_mode():
    model = _small().train()
    X, lens = torch.randint(4, 12, (2, 4)), torch.tensor([4, 2])
    ids, _ = seq2seq.greedy_decode(model, X, lens, 1, 2, 3)
    assert ids.shape[0] == 2 and ids.shape[1] <= 3 and model.training
    with pytest.raises(ValueError, match="max_steps"):
        seq2seq.greedy_decode(model, X, lens, 1, 2, 0)


def test_length_drop_compares_buckets_with_enough_sentences():
    rows = [{"bleu": 50.0, "exact": 0.5, "n": 5},     # too small to count
            {"bleu": 90.0, "exact": 0.9, "n": 30},
            {"bleu": 70.0, "exact": 0.4, "n": 25},
            {"bleu": 10.0, "exact": 0.0, "n": 3}]
    bleu_drop, exact_drop = seq2seq.length_drop(rows)
    assert bleu_drop == pytest.approx(20.0) and exact_drop == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least two buckets"):
        seq2seq.length_drop(rows, min_count=26)
    with pytest.raises(TypeError, match="bleu_by_length"):
        seq2seq.length_drop([1, 2])


def test_length_buckets():
    assert seq2seq.length_buckets([1, 5, 6, 99], [1, 6, 11]) == [0, 0, 1, -1]
    for bad in ([5], [6, 1], [1, 1, 2], "1,6"):
        with pytest.raises(ValueError, match="increasing ints"):
            seq2seq.length_buckets([1], bad)
