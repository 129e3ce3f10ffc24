"""The checkpoints the course ships still reproduce the figures stored in them with today's code."""
import pytest
import torch

from d2lt import seq2seq, train


def _verse_model(builder):
    task = seq2seq.verse_task()
    cfg = seq2seq.Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), embed_size=128, num_hiddens=256)
    return task, cfg, builder(cfg)


@pytest.mark.parametrize("name, builder", [("ch01_gru_verses.pt", seq2seq.rnn_seq2seq)])
def test_verse_checkpoint_reproduces_its_bleu_by_length(name, builder):
    path = train.course_checkpoint(name)
    assert path.exists(), f"{path} is missing: run scripts/train_checkpoint_{name[:4]}.py"
    task, cfg, model = _verse_model(builder)
    extra = train.load_checkpoint(path, model, {**cfg.to_dict(), **task.settings()})
    stored = extra["bleu_by_length"]
    torch.manual_seed(0)
    rows = seq2seq.bleu_by_length(model.eval(), task.test_pairs, task.src_vocab, task.tgt_vocab,
                                  task.src_steps, task.tgt_steps + 5, seq2seq.VERSE_EDGES)
    got = [r["bleu"] for r in rows]
    assert got == pytest.approx(stored, abs=0.5), f"stored {stored}, reproduced {got}"
    assert got[0] > got[-1] + 1, f"the claimed fall on long verses is gone: {got}"
