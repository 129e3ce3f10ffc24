"""Train chapter 13's instruction-tuned GPT: chapter 10's checkpoint fine-tuned on generated instructions.

    OMP_NUM_THREADS=1 flock /tmp/d2lt-train.lock python scripts/train_sft_checkpoint.py --cpu-minutes 12 --minutes 40

The base is ``checkpoints/ch10_gpt_wiki.pt`` (``d2lt.lm.wiki_gpt``; it must be
present and valid). The data is ``d2lt.align.instruction_data`` (4,000 training
instructions over 300 wiki words: repeat, reverse, first word, last word) with
demonstrations from ``d2lt.align.sft_items``: the correct response, followed by
``d2lt.align.FILLER`` in a share ``VERBOSE_SHARE`` (0.75) of them. The loss is
``d2lt.align.sft_step`` (cross entropy on the response tokens only), the
optimizer ``d2lt.lm.ScheduledAdamW`` (warm-up then cosine decay), batches of
32 instructions drawn at random. ``--cpu-minutes`` budgets the CPU training
time (one thread: run with ``OMP_NUM_THREADS=1``); the schedule is shortened
when the budget allows fewer than ``--steps`` steps, so that it still decays.

The checkpoint (float16, ``checkpoints/ch13_sft_gpt.pt``) stores the losses,
the CPU time and the behaviour of the base and the tuned model on the 200
held-out instructions under greedy decoding (``d2lt.align.follow_rate``),
measured on the saved weights.
"""
import argparse
import random

import d2lt
from d2lt import align, lm, train

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=40, help="wall-clock budget of this run")
p.add_argument("--cpu-minutes", type=float, default=12, help="CPU training time budget (one thread)")
p.add_argument("--steps", type=int, default=1500, help="length of the learning-rate schedule")
p.add_argument("--warmup", type=int, default=50)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--every", type=int, default=100, help="steps between progress lines")
args = p.parse_args()

S = d2lt.setup(0)
tok = lm.wiki_bpe()
base, base_cfg, base_path = lm.wiki_gpt(tok)
train.load_checkpoint(base_path, base, base_cfg)  # no fallback: the SFT model needs the real base
model, config, path = align.sft_gpt(tok)
train.load_checkpoint(base_path, model, base_cfg)
words, train_ex, test_ex = align.instruction_data(tok)
items = align.sft_items(tok, train_ex)
rng = random.Random(0)
budget = train.CPUBudget(args.minutes, args.cpu_minutes)
opt = lm.ScheduledAdamW(model, args.lr, args.warmup, args.steps)
recipe = {"lr": args.lr, "warmup": args.warmup, "schedule_steps": args.steps, "batch_size": args.batch_size,
          "train_instructions": len(train_ex), "test_instructions": len(test_ex)}
losses = []
while budget.seconds_left() > 0 and opt.steps_taken < opt.total:
    n = min(args.every, opt.total - opt.steps_taken)
    batches = [align.collate(rng.sample(items, args.batch_size)) for _ in range(n)]
    h = train.fit(model, batches, align.sft_step, optimizer=opt, progress=False, log_every=10,
                  max_seconds=max(1, budget.seconds_left()), device=S.device)
    losses.extend(h.losses)
    print(f"step {opt.steps_taken}: loss {h.losses[-1]:.3f} (lr {opt.current_lr():.2e}, "
          f"{budget.cpu_seconds() / 60:.1f} CPU minutes)", flush=True)
    pace = max(budget.cpu_seconds(), 1e-3) / opt.steps_taken
    fits = opt.steps_taken + int(max(0.0, budget.seconds_left()) / pace)
    opt.total = max(opt.warmup + 1, min(args.steps, max(fits, opt.steps_taken)))
    recipe["schedule_steps"] = opt.total

train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses, steps=opt.steps_taken,
                      cpu_seconds=budget.cpu_seconds(), recipe=recipe)
final, _, _ = align.sft_gpt(tok)
train.load_checkpoint(path, final, config)  # measure exactly what is shipped (float16 weights)
rates = {"base": align.follow_rate(base, tok, test_ex), "sft": align.follow_rate(final, tok, test_ex)}
print(f"held-out behaviour: {rates}")
train.save_checkpoint(path, final, config, half=True, losses=losses, steps=opt.steps_taken,
                      cpu_seconds=budget.cpu_seconds(), recipe=recipe, rates=rates)
