"""The checkpoints the course ships still reproduce the figures stored in them with today's code."""
import pytest

from d2lt import seq2seq, tasks, train


@pytest.fixture(scope="module")
def task():
    return tasks.verse_task()


@pytest.mark.parametrize("kind", sorted(tasks.VERSE_CHECKPOINTS))
def test_verse_checkpoint_reproduces_its_bleu_by_length(kind, task):
    model, config, path = tasks.verse_model(kind, task)
    assert path.exists(), f"{path} is missing: run scripts/train_verse_checkpoint.py {kind}"
    extra = train.load_checkpoint(path, model, config)
    stored = extra["bleu_by_length"]
    rows = seq2seq.bleu_by_length(model.eval(), task.test_pairs, task.src_vocab, task.tgt_vocab,
                                  task.src_steps, task.tgt_steps + 5, tasks.VERSE_EDGES)
    got = [r["bleu"] for r in rows]
    assert got == pytest.approx(stored, abs=0.5), f"stored {stored}, reproduced {got}"
    assert got[0] > got[-1] + 1, f"the fall on long verses that the chapters show is gone: {got}"
    assert extra["losses"] and extra["cpu_seconds"] > 0


def test_attention_beats_the_plain_model_on_verses(task):
    """Chapter 2's claim on real data, from the shipped checkpoints (same data, sizes, CPU time)."""
    scores = {}
    for kind in tasks.VERSE_CHECKPOINTS:
        model, config, path = tasks.verse_model(kind, task)
        scores[kind] = train.load_checkpoint(path, model, config)
    assert scores["attention"]["cpu_seconds"] == pytest.approx(scores["gru"]["cpu_seconds"], rel=0.05)
    for a, g, r in zip(scores["attention"]["bleu_by_length"], scores["gru"]["bleu_by_length"],
                       [(tasks.VERSE_EDGES[i], tasks.VERSE_EDGES[i + 1]) for i in range(5)]):
        assert a > g, f"source lengths {r}: attention {a:.1f} BLEU, plain {g:.1f}"
