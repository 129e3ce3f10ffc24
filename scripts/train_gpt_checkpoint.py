"""Train chapter 10's checkpoint: a small GPT language model on the Wikipedia articles.

    python scripts/train_gpt_checkpoint.py --cpu-minutes 15 --minutes 60   # as shipped
    python scripts/train_gpt_checkpoint.py --minutes 0 --resume            # only re-measure the figures

The tokenizer is ``d2lt.lm.wiki_bpe()`` (byte-level BPE, 4,096 symbols, trained
on the train split), the model ``d2lt.lm.wiki_gpt`` (``small``: 4 pre-norm
blocks, 6 heads, width 192, context 128, dropout 0.1, tied embeddings), the
optimizer ``d2lt.lm.ScheduledAdamW`` (AdamW, betas 0.9/0.95, weight decay 0.1
on the matrices, linear warm-up then cosine decay), batches of 32 blocks cut at
random offsets of the train stream. ``--cpu-minutes`` budgets the process's
CPU *training* time over all runs (stored in the checkpoint); the held-out
loss measured every ``--every`` steps is timed apart and not counted. Run
with ``OMP_NUM_THREADS=1``.

The checkpoint is saved in float16 after every stretch (atomically). At the
end the saved weights are loaded back and scored: the perplexity on the
valid and test splits, and the unigram perplexity of the train counts on the
same test tokens, are stored in the checkpoint; chapter 10 prints them and
``tests/test_lm.py`` checks that today's code reproduces them.
"""
import argparse
import time

import d2lt
from d2lt import lm, train

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=60, help="wall-clock budget of this run")
p.add_argument("--cpu-minutes", type=float, default=15,
               help="stop once the checkpoint has had this much CPU training time in total (one thread)")
p.add_argument("--steps", type=int, default=600,
               help="length of the learning-rate schedule (shortened when the budget allows fewer steps)")
p.add_argument("--warmup", type=int, default=50)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--every", type=int, default=50, help="steps between held-out evaluations")
p.add_argument("--resume", action="store_true")
args = p.parse_args()

S = d2lt.setup(0)
tok = lm.wiki_bpe()
model, config, path = lm.wiki_gpt(tok)
T = model.config.block_size
train_ids = lm.wiki_tokens(tok, "train")
blocks = {s: lm.TokenBlocks(lm.wiki_tokens(tok, s), T) for s in ("valid", "test")}
extra = train.load_checkpoint(path, model, config) if args.resume else {}
losses, curve = list(extra.get("losses", [])), list(extra.get("valid_curve", []))
steps_before = int(extra.get("steps", 0))
opt = lm.ScheduledAdamW(model, args.lr, args.warmup, args.steps, start_step=steps_before)
budget = train.CPUBudget(args.minutes, args.cpu_minutes, float(extra.get("cpu_seconds", 0.0)))
recipe = {"lr": args.lr, "warmup": args.warmup, "schedule_steps": args.steps, "batch_size": args.batch_size,
          "weight_decay": 0.1, "betas": [0.9, 0.95]}
recipe.update(extra.get("recipe", {}))  # a resumed run keeps the recipe it was trained with

start, cpu_start = time.time(), budget.cpu_seconds()
while budget.seconds_left() > 0 and opt.steps_taken < opt.total:
    n = min(args.every, opt.total - opt.steps_taken)
    h = train.fit(model, lm.TokenBlocks(train_ids, T).batches(args.batch_size, n, seed=opt.steps_taken),
                  lm.lm_step, optimizer=opt, progress=False, log_every=10,
                  max_seconds=max(1, budget.seconds_left()), device=S.device)
    losses.extend(h.losses)
    with budget.excluded():  # scoring is not training time
        valid = lm.evaluate_loss(model, blocks["valid"], device=S.device)
    curve.append([opt.steps_taken, budget.cpu_seconds() / 60, valid])
    print(f"step {opt.steps_taken}: train loss {h.losses[-1]:.3f}, valid loss {valid:.3f} "
          f"(lr {opt.current_lr():.2e}, {h.seconds:.0f} s for {h.steps[-1]} steps, "
          f"{budget.cpu_seconds() / 60:.1f} CPU minutes in total)", flush=True)
    train.save_checkpoint(path, model.cpu(), config, half=True, losses=losses, valid_curve=curve,
                          cpu_seconds=budget.cpu_seconds(), steps=opt.steps_taken, recipe=recipe)
    # On a shared machine the budget may end before --steps: shorten the schedule to the steps the
    # remaining budget allows at the pace so far, so that the learning rate still decays to its end.
    # The pace is this run's average so far (evaluations included), so one slow stretch moves it little.
    done = opt.steps_taken - steps_before
    wall_pace, cpu_pace = (time.time() - start) / done, max(budget.cpu_seconds() - cpu_start, 1e-3) / done
    wall_left = budget.minutes * 60 - (time.time() - start)
    cpu_left = (budget.cpu_minutes * 60 - budget.cpu_seconds()) if budget.cpu_minutes else wall_left
    fits = opt.steps_taken + int(max(0.0, min(wall_left / wall_pace, cpu_left / cpu_pace)))
    opt.total = max(opt.warmup + 1, min(args.steps, max(fits, opt.steps_taken)))
    recipe["schedule_steps"] = opt.total

final, _, _ = lm.wiki_gpt(tok)
train.load_checkpoint(path, final, config)  # score exactly what is shipped (float16 weights)
ppl = {s: lm.perplexity(final, b) for s, b in blocks.items()}
test_ids = blocks["test"].ids[1:blocks["test"].num_tokens() + 1]  # the predicted tokens
unigram = lm.unigram_perplexity(train_ids, test_ids, tok.get_vocab_size())
print(f"perplexity: valid {ppl['valid']:.2f}, test {ppl['test']:.2f}; unigram on test {unigram:.2f}")
train.save_checkpoint(path, final, config, half=True, losses=losses, valid_curve=curve,
                      cpu_seconds=budget.cpu_seconds(), steps=opt.steps_taken, recipe=recipe,
                      valid_perplexity=ppl["valid"], test_perplexity=ppl["test"], unigram_perplexity=unigram)
