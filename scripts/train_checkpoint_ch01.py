"""Train the chapter-1 GRU encoder-decoder on the verse pairs and save the course checkpoint.

    python scripts/train_checkpoint_ch01.py --minutes 25

The notebook loads ``checkpoints/ch01_gru_verses.pt`` when it is present and
its config matches; ``tests/test_checkpoints.py`` checks that it still
reproduces the BLEU figures stored in it.
"""
import argparse
import time

import d2lt
from d2lt import seq2seq, train

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=25)
p.add_argument("--out", default="checkpoints/ch01_gru_verses.pt")
args = p.parse_args()

S = d2lt.setup(0)
task = seq2seq.verse_task()
cfg = seq2seq.Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), embed_size=128, num_hiddens=256)
config = {**cfg.to_dict(), **task.settings()}
model = seq2seq.rnn_seq2seq(cfg)
deadline = time.time() + 60 * args.minutes
hist = train.History()
while time.time() < deadline:
    h = train.fit(model, task.train.loader(64, seed=len(hist.losses)),
                  lambda m, b: seq2seq.seq2seq_step(m, b, task.tgt_vocab.pad),
                  lr=2e-3, progress=False, max_seconds=max(1, deadline - time.time()), device=S.device)
    hist.losses += h.losses
    print(f"epoch done: loss {h.losses[-1]:.3f}, {time.time() - deadline + 60 * args.minutes:.0f} s", flush=True)
    model.cpu()
    train.save_checkpoint(args.out, model, config, half=True, epochs_loss=hist.losses[-1])
model.cpu()
rows = seq2seq.bleu_by_length(model, task.test_pairs, task.src_vocab, task.tgt_vocab,
                              task.src_steps, task.tgt_steps + 5, seq2seq.VERSE_EDGES)
print(rows)
train.save_checkpoint(args.out, model, config, half=True, bleu_by_length=[r["bleu"] for r in rows])
