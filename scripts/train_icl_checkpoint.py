"""Train chapter 11's checkpoints: an in-context learner and two chain-of-thought models.

    flock /tmp/d2lt-train.lock python scripts/train_icl_checkpoint.py             # as shipped
    python scripts/train_icl_checkpoint.py --only icl --score-only   # only re-measure the figures

Run with ``OMP_NUM_THREADS=1``. Three models over ``d2lt.icl.VOCAB``:

* ``icl`` -> ``checkpoints/ch11_icl_mappings.pt``: ``d2lt.icl.icl_gpt("icl")``
  (3 pre-norm blocks, 4 heads, width 128) trained on sequences of 17
  examples of a fresh random mapping each (8 letters -> 8 digits), the loss on
  the answers only; ``--icl-cpu-minutes`` of CPU training time, AdamW with
  warm-up and cosine decay (``d2lt.lm.ScheduledAdamW``, no weight decay),
  batches of 64.
* ``direct`` and ``scratchpad`` -> ``checkpoints/ch11_cot_direct.pt`` and
  ``checkpoints/ch11_cot_scratchpad.pt``: ``d2lt.icl.icl_gpt("direct")`` and
  ``("scratchpad")`` (the same config: 2 blocks, 2 heads, width 64) trained on
  fresh chains of 5 operations modulo 10, one to write the answer at once,
  one to write the steps first; the *same CPU time* each
  (``--cot-cpu-minutes``), so the direct model, whose sequences are shorter,
  takes more steps.

Budgets are in process CPU time (``d2lt.train.CPUBudget``): on a shared
machine the wall-clock time varies, the CPU time of one thread does not.
Evaluation is excluded from the budget. At the end each saved (float16)
checkpoint is loaded back and scored on held-out material; the figures are
stored with it, printed by chapter 11 and re-checked by ``tests/test_icl.py``.
"""
import argparse
import time

import torch

import d2lt
from d2lt import icl, lm, train

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=60, help="wall-clock budget of each model's run")
p.add_argument("--icl-cpu-minutes", type=float, default=5.0)
p.add_argument("--cot-cpu-minutes", type=float, default=1.5, help="CPU minutes of *each* chain model")
p.add_argument("--only", choices=("icl", "direct", "scratchpad"), default=None)
p.add_argument("--resume", action="store_true")
p.add_argument("--score-only", action="store_true", help="only re-measure the stored figures")
args = p.parse_args()

S = d2lt.setup(0)
torch.set_num_threads(1)
RECIPES = {"icl": dict(lr=1e-3, warmup=150, schedule_steps=2600, batch_size=64,
                       cpu_minutes=args.icl_cpu_minutes),
           "direct": dict(lr=3e-3, warmup=100, schedule_steps=8000, batch_size=64,
                          cpu_minutes=args.cot_cpu_minutes),
           "scratchpad": dict(lr=3e-3, warmup=100, schedule_steps=3000, batch_size=64,
                              cpu_minutes=args.cot_cpu_minutes)}
SHOTS = [0, 1, 2, 4, 8, 16]
EVAL_SEED, EVAL_N = 10_000, 2_000        # held-out tasks (the training batches use seeds < 10_000)
CHAIN_SEED, CHAIN_N, CHAIN_STEPS = 20_000, 1_000, 5


def batches(kind, recipe, n, seed):
    if kind == "icl":
        return icl.icl_batches(recipe["batch_size"], n, seed=seed)
    return icl.chain_batches(recipe["batch_size"], n, kind == "scratchpad", seed=seed, num_steps=CHAIN_STEPS)


def score(kind, model):
    model = model.eval()
    if kind == "icl":
        acc = icl.accuracy_vs_shots(model, SHOTS, n=EVAL_N, seed=EVAL_SEED)
        return {"accuracy_vs_shots": {str(k): v for k, v in acc.items()}, "eval_n": EVAL_N,
                "eval_seed": EVAL_SEED}
    problems = icl.sample_chains(CHAIN_N, CHAIN_STEPS, torch.Generator().manual_seed(CHAIN_SEED))
    return {"exact_match": icl.chain_accuracy(model, problems, kind == "scratchpad"), "eval_n": CHAIN_N,
            "eval_seed": CHAIN_SEED, "num_steps": CHAIN_STEPS}


def run(kind):
    model, config, path = icl.icl_gpt(kind)
    recipe = dict(RECIPES[kind])
    extra = train.load_checkpoint(path, model, config) if (args.resume or args.score_only) else {}
    recipe.update(extra.get("recipe", {}))
    losses, curve = list(extra.get("losses", [])), list(extra.get("curve", []))
    steps_before = int(extra.get("steps", 0))
    if not args.score_only:
        opt = lm.ScheduledAdamW(model, recipe["lr"], recipe["warmup"], recipe["schedule_steps"],
                                weight_decay=0.0, start_step=steps_before)
        budget = train.CPUBudget(args.minutes, recipe["cpu_minutes"], float(extra.get("cpu_seconds", 0.0)))
        start, cpu_start, every = time.time(), budget.cpu_seconds(), 100
        while budget.seconds_left() > 0 and opt.steps_taken < opt.total:
            n = min(every, opt.total - opt.steps_taken)
            h = train.fit(model, batches(kind, recipe, n, seed=opt.steps_taken), lm.lm_step, optimizer=opt,
                          progress=False, log_every=10, max_seconds=max(1, budget.seconds_left()),
                          device=S.device)
            losses.extend(h.losses)
            curve.append([opt.steps_taken, budget.cpu_seconds() / 60, h.losses[-1]])
            print(f"{kind} step {opt.steps_taken}: loss {h.losses[-1]:.3f} (lr {opt.current_lr():.2e}, "
                  f"{budget.cpu_seconds() / 60:.2f} CPU minutes)", flush=True)
            train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses, curve=curve,
                                  cpu_seconds=budget.cpu_seconds(), steps=opt.steps_taken, recipe=recipe)
            # shorten the schedule to the steps the remaining budget allows at the pace so far
            done = opt.steps_taken - steps_before
            cpu_pace = max(budget.cpu_seconds() - cpu_start, 1e-3) / done
            wall_pace = (time.time() - start) / done
            cpu_left = recipe["cpu_minutes"] * 60 - budget.cpu_seconds()
            wall_left = budget.minutes * 60 - (time.time() - start)
            fits = opt.steps_taken + int(max(0.0, min(cpu_left / cpu_pace, wall_left / wall_pace)))
            opt.total = max(opt.warmup + 1, min(recipe["schedule_steps"], max(fits, opt.steps_taken)))
            recipe["schedule_steps"] = opt.total
        extra = {"losses": losses, "curve": curve, "cpu_seconds": budget.cpu_seconds(),
                 "steps": opt.steps_taken, "recipe": recipe}
    final, _, _ = icl.icl_gpt(kind)
    train.load_checkpoint(path, final, config)  # score exactly what is shipped (float16 weights)
    figures = score(kind, final)
    print(kind, figures, flush=True)
    keep = {k: v for k, v in extra.items() if k in ("losses", "curve", "cpu_seconds", "steps", "recipe")}
    train.save_checkpoint(path, final, config, half=True, **keep, **figures)


for kind in ([args.only] if args.only else ["icl", "direct", "scratchpad"]):
    run(kind)
