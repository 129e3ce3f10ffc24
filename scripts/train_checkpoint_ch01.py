"""Train the chapter-1 GRU encoder-decoder on the verse pairs and save the course checkpoint.

    python scripts/train_checkpoint_ch01.py --minutes 30            # train from scratch
    python scripts/train_checkpoint_ch01.py --minutes 10 --resume   # continue training
    python scripts/train_checkpoint_ch01.py --minutes 0 --resume    # only re-measure the figures

The checkpoint is saved in float16 after every epoch (atomically). At the end
the saved weights are loaded back and scored on the test split, and the BLEU by
source length is stored in the checkpoint: the notebook prints it, and
``tests/test_checkpoints.py`` checks that today's code reproduces it.
"""
import argparse
import time

import d2lt
from d2lt import seq2seq, train

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=30)
p.add_argument("--resume", action="store_true")
p.add_argument("--out", default=str(train.course_checkpoint("ch01_gru_verses.pt")))
args = p.parse_args()

S = d2lt.setup(0)
task = seq2seq.verse_task()
cfg = seq2seq.Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), embed_size=128, num_hiddens=256)
config = {**cfg.to_dict(), **task.settings()}
model = seq2seq.rnn_seq2seq(cfg)
extra = train.load_checkpoint(args.out, model, config) if args.resume else {}
losses = list(extra.get("losses", []))
deadline = time.time() + 60 * args.minutes
while time.time() < deadline:
    h = train.fit(model, task.train.loader(64, seed=len(losses)),
                  lambda m, b: seq2seq.seq2seq_step(m, b, task.tgt_vocab.pad),
                  lr=2e-3, progress=False, max_seconds=max(1, deadline - time.time()), device=S.device)
    losses.append(h.losses[-1])
    print(f"epoch {len(losses)}: loss {losses[-1]:.3f}", flush=True)
    train.save_checkpoint(args.out, model.cpu(), config, half=True, losses=losses)

final = seq2seq.rnn_seq2seq(cfg)
train.load_checkpoint(args.out, final, config)  # score exactly what is shipped (float16 weights)
rows = seq2seq.bleu_by_length(final.eval(), task.test_pairs, task.src_vocab, task.tgt_vocab,
                              task.src_steps, task.tgt_steps + 5, seq2seq.VERSE_EDGES)
for r in rows:
    print(r)
train.save_checkpoint(args.out, final, config, half=True, losses=losses,
                      bleu_by_length=[r["bleu"] for r in rows])
