"""Train chapter 12's scaling ladder: six GPTs from 3.3k to 0.79M non-embedding parameters.

    flock /tmp/d2lt-train.lock python scripts/train_scaling_ladder.py --cpu-minutes 15   # as shipped

Every rung (``d2lt.scaling.LADDER``: pre-norm, tied embeddings, context 64,
the wiki BPE vocabulary of chapter 10) is trained on the same train stream
(``d2lt.lm.wiki_tokens(tok, "train")``), the same batches (16 blocks of 64
tokens cut at the same random offsets), with ``d2lt.scaling.train_rung``:
AdamW, a short linear warm-up, then a constant learning rate. Its loss on the
whole valid split is measured after log-spaced numbers of steps. The rungs run
smallest first under one budget of process CPU time (``--cpu-minutes``,
evaluation not counted); a rung the budget cuts short keeps the curve it
reached. Run with ``OMP_NUM_THREADS=1``.

Written: ``checkpoints/ch12_ladder.json`` (the curves, with a sha256 of their
own contents; rewritten after every rung) and, at the end,
``checkpoints/ch12_ladder_weights.pt`` (every rung's final weights in float16,
``d2lt.train.save_checkpoint``). The shipped weights are loaded back and
scored again (the whole valid split and its first 64 blocks); chapter 12 and
``tests/test_scaling.py`` check that today's code reproduces those figures.
"""
import argparse
import time

import torch

import d2lt
from d2lt import lm, scaling, train
from d2lt.gpt import GPT

p = argparse.ArgumentParser()
p.add_argument("--cpu-minutes", type=float, default=15, help="CPU training time for all rungs together")
p.add_argument("--minutes", type=float, default=60, help="wall-clock limit of the whole run")
p.add_argument("--steps", type=int, default=1300, help="optimizer steps per rung")
p.add_argument("--batch-size", type=int, default=16)
p.add_argument("--lr", type=float, default=3e-3, help="base rate, scaled by min(1, sqrt(64 / width))")
p.add_argument("--evals", type=int, default=14, help="held-out evaluations per rung (log-spaced)")
args = p.parse_args()

S = d2lt.setup(0)
torch.set_num_threads(1)
tok = lm.wiki_bpe()
T = 64
configs = scaling.ladder_configs(tok.get_vocab_size(), T)
train_ids = lm.wiki_tokens(tok, "train")
valid = lm.TokenBlocks(lm.wiki_tokens(tok, "valid"), T)
budget = train.CPUBudget(args.minutes, args.cpu_minutes)
body = {"tokenizer": lm.tokenizer_fingerprint(tok), "data": lm.TOKENS_LAYOUT, "block_size": T,
        "recipe": {"steps": args.steps, "batch_size": args.batch_size, "base_lr": args.lr,
                   "schedule": "linear warm-up then constant", "optimizer": "AdamW (0.9, 0.95), wd 0.1"},
        "valid_tokens": valid.num_tokens(), "rungs": {}, "complete": False}
models = {}
results = train.course_checkpoint(scaling.WEIGHTS).with_name(scaling.RESULTS)
for name, cfg in configs.items():
    d2lt.seed_everything(0)
    model = GPT(cfg)
    t0 = time.time()
    rec = scaling.train_rung(model, train_ids, valid, steps=args.steps, batch_size=args.batch_size,
                             lr=args.lr, evals=args.evals, budget=budget, device="cpu")
    if not rec["tokens"]:
        print(f"{name}: the budget ran out before this rung began; the ladder stops here", flush=True)
        break
    rec.update(config=cfg.to_dict(), N=scaling.non_embedding_params(model),
               params=model.num_parameters(non_embedding=False))
    body["rungs"][name] = rec
    models[name] = model
    print(f"{name}: N = {rec['N']:,}, {rec['steps']} steps, {rec['tokens'][-1]:,} tokens, valid loss "
          f"{rec['loss'][-1]:.3f}, {rec['cpu_seconds'] / 60:.1f} CPU min ({time.time() - t0:.0f} s wall), "
          f"{budget.cpu_seconds() / 60:.1f} CPU min in all", flush=True)
    scaling.save_results(results, body)

ladder = scaling.Ladder({k: configs[k] for k in models})
ladder.load_state_dict({f"{ladder.key(k)}.{n}": v for k, m in models.items()
                        for n, v in m.state_dict().items()})
wconfig = {"rungs": {k: c.to_dict() for k, c in configs.items() if k in models},
           "tokenizer": body["tokenizer"], "data": body["data"]}
path = train.course_checkpoint(scaling.WEIGHTS)
train.save_checkpoint(path, ladder, wconfig, half=True)
shipped = scaling.Ladder({k: configs[k] for k in models})
train.load_checkpoint(path, shipped, wconfig)  # score exactly what is shipped (float16 weights)
for name in models:
    m = shipped.rung(name)
    body["rungs"][name]["shipped_valid_loss"] = lm.evaluate_loss(m, valid)
    body["rungs"][name]["shipped_valid_loss_64"] = lm.evaluate_loss(m, valid, max_blocks=64)
    print(f"{name}: shipped float16 weights, valid loss {body['rungs'][name]['shipped_valid_loss']:.4f}")
body["complete"] = True
body["cpu_seconds"] = budget.cpu_seconds()
scaling.save_results(results, body)
print(f"wrote {results.name} and {path.name} ({path.stat().st_size / 1e6:.1f} MB), "
      f"{budget.cpu_seconds() / 60:.1f} CPU minutes of training")
