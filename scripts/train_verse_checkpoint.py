"""Train a verse-translation checkpoint of the course: chapter 1's GRU model or chapter 2's attention model.

    python scripts/train_verse_checkpoint.py gru --cpu-minutes 18.5 --minutes 120        # as shipped
    python scripts/train_verse_checkpoint.py attention --cpu-minutes 18.5 --minutes 120  # as shipped
    python scripts/train_verse_checkpoint.py gru --minutes 10 --resume   # continue training
    python scripts/train_verse_checkpoint.py gru --minutes 0 --resume    # only re-measure the figures

Both models see the same task (``d2lt.tasks.verse_task``), sizes (embedding
128, hidden 256), batch (64) and learning rate (2e-3); only the decoder
differs. ``--cpu-minutes`` budgets the process's CPU time over all runs (stored
in the checkpoint): on a shared machine the wall-clock time a run gets depends
on what else runs, the CPU time of a one-thread process does not, so equal CPU
minutes make the chapter-2 comparison fair. Run with ``OMP_NUM_THREADS=1``.

The checkpoint is saved in float16 after every epoch (atomically). At the end
the saved weights are loaded back and scored on the test split, and the BLEU by
source length is stored in the checkpoint: the chapters print it, and
``tests/test_checkpoints.py`` checks that today's code reproduces it.
"""
import argparse

import d2lt
from d2lt import seq2seq, tasks, train

p = argparse.ArgumentParser()
p.add_argument("kind", choices=sorted(tasks.VERSE_CHECKPOINTS))
p.add_argument("--minutes", type=float, default=30, help="wall-clock budget of this run")
p.add_argument("--cpu-minutes", type=float, default=None,
               help="stop once the checkpoint has had this much CPU time in total (one thread)")
p.add_argument("--resume", action="store_true")
args = p.parse_args()

S = d2lt.setup(0)
task = tasks.verse_task()
model, config, path = tasks.verse_model(args.kind, task)
extra = train.load_checkpoint(path, model, config) if args.resume else {}
losses = list(extra.get("losses", []))
budget = train.CPUBudget(args.minutes, args.cpu_minutes, float(extra.get("cpu_seconds", 0.0)))
while budget.seconds_left() > 0:
    h = train.fit(model, task.train.loader(64, seed=len(losses)),
                  lambda m, b: seq2seq.seq2seq_step(m, b, task.tgt_vocab.pad),
                  lr=2e-3, progress=False, max_seconds=max(1, budget.seconds_left()), device=S.device)
    losses.append(h.losses[-1])
    print(f"epoch {len(losses)}: loss {losses[-1]:.3f} ({h.steps[-1]} steps in {h.seconds:.0f} s, "
          f"{budget.cpu_seconds() / 60:.1f} CPU minutes in total)", flush=True)
    train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses, cpu_seconds=budget.cpu_seconds())

final, _, _ = tasks.verse_model(args.kind, task)
train.load_checkpoint(path, final, config)  # score exactly what is shipped (float16 weights)
rows = seq2seq.bleu_by_length(final.eval(), task.test_pairs, task.src_vocab, task.tgt_vocab,
                              task.src_steps, task.tgt_steps + 5, tasks.VERSE_EDGES)
for r in rows:
    print(r)
train.save_checkpoint(path, final, config, half=True, losses=losses, cpu_seconds=budget.cpu_seconds(),
                      bleu_by_length=[r["bleu"] for r in rows])
