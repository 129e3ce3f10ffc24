"""Train chapter 7's checkpoint: a small BERT pretrained on the Wikipedia train split.

    python scripts/train_bert_checkpoint.py --cpu-minutes 15 --minutes 60   # as shipped
    python scripts/train_bert_checkpoint.py --minutes 0 --resume   # only re-measure the figures

The model is ``d2lt.mlm.wiki_bert`` (2 blocks, 128 hidden units, 4 heads, a
6,000-piece WordPiece vocabulary trained on the same split and stored in the
checkpoint), trained on
sentence pairs of at most 32 pieces with masked language modelling (80/10/10, masking drawn afresh
for every batch) and next-sentence prediction, Adam with a short warm-up and a
learning rate that decays linearly with the CPU time spent. ``--cpu-minutes``
budgets the process's CPU training time (one thread; the held-out evaluations
are timed apart and not counted). Run with ``OMP_NUM_THREADS=1``.

After every evaluation the checkpoint is saved in float16 (atomically). At the
end the saved weights are loaded back and scored on the test split: masked-token
accuracy (top-1 and top-5), the unigram baseline and NSP accuracy are stored
in the checkpoint, and ``tests/test_mlm.py`` checks that today's code
reproduces them.
"""
import argparse

import d2lt
from d2lt import mlm, train

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=30, help="wall-clock budget of this run")
p.add_argument("--cpu-minutes", type=float, default=None,
               help="stop once the checkpoint has had this much CPU training time in total")
p.add_argument("--resume", action="store_true")
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--batch-size", type=int, default=64)
args = p.parse_args()

S = d2lt.setup(0)
tok = (mlm.shipped_tokenizer() if args.resume else None) or mlm.wiki_tokenizer(mlm.WIKI_VOCAB_SIZE)
vocab = mlm.vocab_of(tok)  # stored with the weights: a retrained vocabulary can differ slightly
V = tok.get_vocab_size()
ex = mlm.wiki_examples(tok)
model, config, path = mlm.wiki_bert(tok)
extra = train.load_checkpoint(path, model, config) if args.resume else {}
losses, curve = list(extra.get("losses", [])), list(extra.get("valid_curve", []))
steps = int(extra.get("steps", 0))
budget = train.CPUBudget(args.minutes, args.cpu_minutes, float(extra.get("cpu_seconds", 0.0)))
total = 60 * (args.cpu_minutes or args.minutes)
batches = mlm.MLMBatches(ex["train"], args.batch_size, V, seed=steps)
valid = mlm.eval_batches(ex["valid"], V)
opt = train.torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98))
CHUNK, WARMUP, EVAL_EVERY = 50, 300, 500
print(f"{len(ex['train'])} training pairs, {len(ex['valid'])} valid, {len(ex['test'])} test; "
      f"{sum(q.numel() for q in model.parameters()) / 1e6:.2f}M parameters", flush=True)

while budget.seconds_left() > 0:
    warm = min(1.0, (steps + CHUNK) / WARMUP)
    decay = max(0.05, 1 - budget.cpu_seconds() / total)
    for g in opt.param_groups:
        g["lr"] = args.lr * warm * decay
    h = train.fit(model, batches, mlm.pretrain_step, optimizer=opt, max_steps=CHUNK,
                  progress=False, max_seconds=max(1, budget.seconds_left()), device=S.device,
                  log_every=CHUNK)
    steps += h.steps[-1]
    losses.append([steps, h.losses[-1]])
    if steps % EVAL_EVERY < CHUNK or budget.seconds_left() <= 0:
        with budget.excluded():
            r = mlm.evaluate(model, valid)
        curve.append([steps, budget.cpu_seconds() / 60, r["accuracy"], r["loss"]])
        print(f"step {steps}: train loss {h.losses[-1]:.3f}, valid masked accuracy "
              f"{r['accuracy']:.3f}, MLM loss {r['loss']:.3f}, NSP {r['nsp_accuracy']:.3f} "
              f"({budget.cpu_seconds() / 60:.1f} CPU min)", flush=True)
        train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses,
                              valid_curve=curve, steps=steps, cpu_seconds=budget.cpu_seconds(),
                              vocab=vocab)

train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses, valid_curve=curve,
                      steps=steps, cpu_seconds=budget.cpu_seconds(), vocab=vocab)
final, _, _ = mlm.wiki_bert(tok)
train.load_checkpoint(path, final, config)  # score exactly what is shipped (float16 weights)
test = mlm.eval_batches(ex["test"], V)
r = mlm.evaluate(final, test, topk=5)
base = mlm.unigram_baseline(ex["train"], test, V)
print(f"test: masked accuracy {r['accuracy']:.3f} (top-5 {r['topk_accuracy']:.3f}), MLM loss "
      f"{r['loss']:.3f}, NSP accuracy {r['nsp_accuracy']:.3f} on {r['predicted']} blanks; "
      f"unigram baseline {base['accuracy']:.3f} (loss {base['loss']:.3f})", flush=True)
train.save_checkpoint(path, final, config, half=True, losses=losses, valid_curve=curve,
                      steps=steps, cpu_seconds=budget.cpu_seconds(), test=r, unigram=base,
                      vocab=vocab)
