"""Train chapter 6's verse-translation checkpoint: a small Transformer on chapters 1-2's verse task.

    python scripts/train_transformer_checkpoint.py --cpu-minutes 18.5 --minutes 120   # as shipped
    python scripts/train_transformer_checkpoint.py --minutes 10 --resume  # continue training
    python scripts/train_transformer_checkpoint.py --minutes 0 --resume   # only re-measure the figures

Same task (``d2lt.tasks.verse_task``: same vocabularies, same disjoint test
split), same batch size (64) and the same CPU-time budget as the chapter-1/2
checkpoints made by ``scripts/train_verse_checkpoint.py``; the model is
``d2lt.transformer.verse_transformer`` trained with the paper's recipe (Adam
with beta2 = 0.98 and the warm-up schedule, label smoothing 0.1, dropout 0.1),
with the warm-up shortened to the few thousand steps this budget allows.
``--cpu-minutes`` budgets the process's CPU *training* time over all runs (stored
in the checkpoint): the test-split BLEU measured after every epoch, for the
BLEU-against-training-time curve, is timed apart and not counted. Run with
``OMP_NUM_THREADS=1``.

The checkpoint is saved in float16 after every epoch (atomically). At the end
the saved weights are loaded back and scored on the test split, and the BLEU by
source length (and the corpus BLEU) is stored in the checkpoint: chapter 6
prints it, and ``tests/test_transformer.py`` checks that today's code
reproduces it. ``--resume`` continues from the stored weights, CPU time and
step count (Adam's moment estimates start afresh).
"""
import argparse

import d2lt
from d2lt import metrics, seq2seq, tasks, train, transformer
from d2lt.text import tokenize

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=30, help="wall-clock budget of this run")
p.add_argument("--cpu-minutes", type=float, default=None,
               help="stop once the checkpoint has had this much CPU training time in total (one thread)")
p.add_argument("--resume", action="store_true")
args = p.parse_args()

S = d2lt.setup(0)
task = tasks.verse_task()
model, config, path = transformer.verse_transformer(task)
extra = train.load_checkpoint(path, model, config) if args.resume else {}
losses, curve = list(extra.get("losses", [])), list(extra.get("bleu_curve", []))
steps_before = int(extra.get("steps", 0))
T = transformer.VERSE_TRAINING
opt = transformer.NoamAdam(model.parameters(), model.encoder.num_hiddens, warmup=T["warmup"],
                           factor=T["factor"], start_step=steps_before)
budget = train.CPUBudget(args.minutes, args.cpu_minutes, float(extra.get("cpu_seconds", 0.0)))


def test_bleu(m):
    hyps = seq2seq.translate(m.eval(), [p[0] for p in task.test_pairs], task.src_vocab, task.tgt_vocab,
                             task.src_steps, task.tgt_steps + 5)
    return metrics.corpus_bleu(hyps, [" ".join(tokenize(p[1])) for p in task.test_pairs])


while budget.seconds_left() > 0:
    h = train.fit(model, task.train.loader(T["batch_size"], seed=len(losses)),
                  lambda m, b: transformer.transformer_step(m, b, task.tgt_vocab.pad, T["label_smoothing"]),
                  optimizer=opt, progress=False, max_seconds=max(1, budget.seconds_left()), device=S.device)
    losses.append(h.losses[-1])
    with budget.excluded():  # scoring is not training time
        bleu = test_bleu(model)
    curve.append([budget.cpu_seconds() / 60, bleu])
    print(f"epoch {len(losses)}: loss {losses[-1]:.3f} ({h.steps[-1]} steps in {h.seconds:.0f} s, "
          f"lr {opt.current_lr():.2e}, {budget.cpu_seconds() / 60:.1f} CPU minutes in total), test BLEU {bleu:.2f}",
          flush=True)
    train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses, cpu_seconds=budget.cpu_seconds(),
                          steps=opt.steps_taken, bleu_curve=curve)

final, _, _ = transformer.verse_transformer(task)
train.load_checkpoint(path, final, config)  # score exactly what is shipped (float16 weights)
rows = seq2seq.bleu_by_length(final.eval(), task.test_pairs, task.src_vocab, task.tgt_vocab,
                              task.src_steps, task.tgt_steps + 5, tasks.VERSE_EDGES)
for r in rows:
    print(r)
corpus = test_bleu(final)
print(f"corpus BLEU {corpus:.2f}")
train.save_checkpoint(path, final, config, half=True, losses=losses, cpu_seconds=budget.cpu_seconds(),
                      steps=opt.steps_taken, bleu_curve=curve, bleu_by_length=[r["bleu"] for r in rows],
                      corpus_bleu=corpus)
