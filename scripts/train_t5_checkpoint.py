"""Train chapter 9's checkpoint: a small T5 pretrained by span corruption on the Wikipedia articles.

    OMP_NUM_THREADS=1 python scripts/train_t5_checkpoint.py --cpu-minutes 15 --minutes 60   # as shipped
    python scripts/train_t5_checkpoint.py --minutes 10 --resume    # continue training
    python scripts/train_t5_checkpoint.py --minutes 0 --resume     # only re-measure the held-out losses

The tokenizer (``d2lt.text2text.train_unigram``, 8,000 ids with 32 sentinels)
is trained on the train split of ``d2lt.data.load_wiki`` and stored in the
checkpoint. The text is cut into pieces of 128 ids; each piece is corrupted
afresh every epoch (noise density 0.15, mean span length 3: T5's settings).
The model is ``d2lt.text2text.wiki_t5``, trained with Adam under T5's
inverse-square-root schedule (warm-up 300 steps, peak 2e-3), batch 32.
``--cpu-minutes`` budgets the CPU *training* time of all runs together (stored
in the checkpoint); the held-out loss on the valid split measured after every
epoch is timed apart. The checkpoint is saved in float16 after every epoch;
at the end the saved weights are loaded back and their valid and test losses
(fixed masks) are stored: chapter 9 prints them and ``tests/test_text2text.py``
checks that today's code reproduces them.
"""
import argparse
import time

import d2lt
from d2lt import data, train
from d2lt import text2text as tt

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=30, help="wall-clock budget of this run")
p.add_argument("--cpu-minutes", type=float, default=None,
               help="stop once the checkpoint has had this much CPU training time in total (one thread)")
p.add_argument("--resume", action="store_true")
args = p.parse_args()

S = d2lt.setup(0)
R = tt.PRETRAINING
if args.resume:
    model, tok, extra = tt.load_wiki_t5()
    _, config, path = tt.wiki_t5(tok)
else:
    t0 = time.time()
    tok = tt.train_unigram([a.text for a in data.load_wiki("train")], tt.WIKI_VOCAB)
    print(f"tokenizer trained in {time.time() - t0:.0f} s", flush=True)
    model, config, path = tt.wiki_t5(tok)
    extra = {}
V = tok.get_vocab_size()
streams = {s: tt.token_stream(tok, data.load_wiki(s)) for s in ("train", "valid", "test")}
print({s: len(v) for s, v in streams.items()}, "ids", flush=True)
heldout = {s: tt.heldout_batches(streams[s], R["length"], V) for s in ("valid", "test")}
state = tt.tokenizer_state(tok)
losses, curve = list(extra.get("losses", [])), list(extra.get("valid_curve", []))
opt = tt.InverseSqrtAdam(model.parameters(), R["lr"], R["warmup"], start_step=int(extra.get("steps", 0)))
budget = train.CPUBudget(args.minutes, args.cpu_minutes, float(extra.get("cpu_seconds", 0.0)))
batches = tt.SpanCorruptionBatches(streams["train"], R["length"], R["batch_size"], V, R["noise_density"],
                                   R["mean_span_length"], seed=len(losses))

while budget.seconds_left() > 0:
    h = train.fit(model, batches, tt.t5_step, optimizer=opt, progress=False,
                  max_seconds=max(1, budget.seconds_left()), device=S.device)
    losses.extend(h.losses)
    with budget.excluded():  # scoring is not training time
        valid = tt.evaluate_loss(model, heldout["valid"])
    curve.append([budget.cpu_seconds() / 60, opt.steps_taken, valid])
    print(f"epoch {len(curve)}: train loss {h.losses[-1]:.3f} ({h.steps[-1]} steps in {h.seconds:.0f} s, "
          f"lr {opt.current_lr():.2e}, {budget.cpu_seconds() / 60:.1f} CPU minutes in total), "
          f"valid loss {valid:.3f}", flush=True)
    train.save_checkpoint(path, model.cpu(), config, half=True, tokenizer=state, losses=losses,
                          cpu_seconds=budget.cpu_seconds(), steps=opt.steps_taken, valid_curve=curve,
                          pretraining=R)

final, tok2, _ = tt.load_wiki_t5()  # score exactly what is shipped (float16 weights)
scores = {s: tt.evaluate_loss(final, tt.heldout_batches(tt.token_stream(tok2, data.load_wiki(s)), R["length"], V))
          for s in ("valid", "test")}
print("held-out loss per target token:", scores)
train.save_checkpoint(path, final, config, half=True, tokenizer=state, losses=losses,
                      cpu_seconds=budget.cpu_seconds(), steps=opt.steps_taken, valid_curve=curve,
                      pretraining=R, heldout_loss=scores)
