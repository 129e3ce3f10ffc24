"""Benchmark chapter 10's GPT: training step time against ``transformers``' ``GPT2LMHeadModel``
with the same configuration, and greedy generation with and without the key-value cache, in one
run on one device.

    OMP_NUM_THREADS=1 python scripts/bench_gpt.py              # sizes for the device (CPU: small)
    OMP_NUM_THREADS=1 python scripts/bench_gpt.py --quick      # a smaller, faster check
    python scripts/bench_gpt.py --json bench_gpt.json          # also write the figures

1. Training steps (forward, loss, backward, AdamW) on the same random token
   batches: ``d2lt.gpt.GPT`` against ``GPT2LMHeadModel`` built from the same
   config (the reference's own attention implementation, SDPA by default in
   transformers 5), weights copied across (``GPT.from_hf``) so both start from
   the same point; bf16 autocast on CUDA for both. The two models alternate,
   after a warm-up, and the median of the repeats is reported: tokens per
   second for each and the ratio of step times (target: ours not slower, <= 1.0x).
2. Greedy generation of ``--new-tokens`` tokens (default 256) from a prompt,
   with the cache and without it (every step runs the whole prefix again):
   seconds, new tokens per second, the ratio (target: >= 3x) and whether both
   gave the same tokens.

Timings exclude the warm-up and synchronise on CUDA. Prints a small table.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import d2lt
from d2lt import bench, gpt
from d2lt.train import autocast

p = argparse.ArgumentParser()
p.add_argument("--new-tokens", type=int, default=256)
p.add_argument("--prompt", type=int, default=16, help="prompt length for generation")
p.add_argument("--gen-batch", type=int, default=1, help="prompts generated at once")
p.add_argument("--batch", type=int, default=None, help="training batch size")
p.add_argument("--seq", type=int, default=None, help="training sequence length")
p.add_argument("--layers", type=int, default=None)
p.add_argument("--heads", type=int, default=None)
p.add_argument("--embd", type=int, default=None)
p.add_argument("--vocab", type=int, default=50257)
p.add_argument("--train-steps", type=int, default=None, help="timed steps per model and repeat")
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--quick", action="store_true", help="a smaller model and fewer steps")
p.add_argument("--json", default=None, help="also write the figures to this file")
args = p.parse_args()

S = d2lt.setup(0, verbose=False)
dev = S.device
on_gpu = dev.type == "cuda"
# GPT-2 small on a GPU; a 6-layer, 384-wide model on a CPU (the same code, smaller sizes)
defaults = dict(layers=12, heads=12, embd=768, batch=16, seq=512, steps=10) if on_gpu else \
    dict(layers=6, heads=6, embd=384, batch=8, seq=128, steps=4)
if args.quick:
    defaults.update(layers=2, heads=4, embd=128, batch=4, seq=64, steps=3)
L = args.layers or defaults["layers"]
H = args.heads or defaults["heads"]
C = args.embd or defaults["embd"]
B = args.batch or defaults["batch"]
T = args.seq or defaults["seq"]
steps = args.train_steps or defaults["steps"]
block = max(T, args.prompt + args.new_tokens)


def sync():
    bench.sync(dev)  # the timing helpers shared with python -m d2lt.bench


hf = GPT2LMHeadModel(GPT2Config(vocab_size=args.vocab, n_positions=block, n_embd=C, n_layer=L, n_head=H,
                                resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                                eos_token_id=0)).to(dev)
ours = gpt.GPT.from_hf(hf.cpu()).to(dev)
hf = hf.to(dev)
results = {"device": str(dev), "threads": torch.get_num_threads(),
           "config": {"n_layer": L, "n_head": H, "n_embd": C, "vocab_size": args.vocab, "block_size": block},
           "parameters": ours.num_parameters(non_embedding=False),
           "hf_attn_implementation": getattr(hf.config, "_attn_implementation", None)}

# ----------------------------------------------------------------------------- 1. training
g = torch.Generator().manual_seed(0)
batches = [torch.randint(0, args.vocab, (B, T + 1), generator=g).to(dev) for _ in range(steps)]
models = {"d2lt": ours.train(), "transformers": hf.train()}
opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in models.items()}


def train_run(name):
    m, opt = models[name], opts[name]
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    for xb in batches:
        with autocast(dev):
            if name == "d2lt":
                loss = m(xb[:, :-1], xb[:, 1:])[1]
            else:
                loss = m(xb[:, :-1], labels=xb[:, :-1]).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    cpu[name].append(time.process_time() - c0)
    return time.perf_counter() - t0


cpu = {k: [] for k in models}  # process CPU seconds: on a shared CPU, less noisy than the wall clock
train_run("d2lt"), train_run("transformers")  # warm-up
cpu = {k: [] for k in models}
times = {k: [] for k in models}
for _ in range(args.repeats):
    for name in models:
        times[name].append(train_run(name))
tok = steps * B * T
t_ours, t_ref = statistics.median(times["d2lt"]), statistics.median(times["transformers"])
results.update(train_batch=B, train_seq=T, train_steps=steps, train_tokens=tok,
               d2lt_step_s=t_ours / steps, transformers_step_s=t_ref / steps,
               d2lt_train_tokens_per_s=tok / t_ours, transformers_train_tokens_per_s=tok / t_ref,
               train_time_ratio=t_ours / t_ref,
               train_cpu_ratio=statistics.median(cpu["d2lt"]) / statistics.median(cpu["transformers"]))

# ----------------------------------------------------------------------------- 2. generation
ours.eval()
prompt = torch.randint(0, args.vocab, (args.gen_batch, args.prompt), generator=g).to(dev)
ours.generate(prompt, 8, temperature=0, use_cache=True)  # warm-up
ours.generate(prompt, 8, temperature=0, use_cache=False)
gen_t, gen_cpu, outs = {}, {}, {}
for use_cache in (True, False):
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    with autocast(dev):
        outs[use_cache] = ours.generate(prompt, args.new_tokens, temperature=0, use_cache=use_cache)
    sync()
    gen_t[use_cache], gen_cpu[use_cache] = time.perf_counter() - t0, time.process_time() - c0
new = args.gen_batch * args.new_tokens
same = torch.equal(outs[True], outs[False])
results.update(gen_batch=args.gen_batch, gen_prompt=args.prompt, gen_new_tokens=args.new_tokens,
               cache_s=gen_t[True], no_cache_s=gen_t[False], cache_tokens_per_s=new / gen_t[True],
               no_cache_tokens_per_s=new / gen_t[False], cache_speedup=gen_t[False] / gen_t[True],
               same_tokens=same, cache_cpu_speedup=gen_cpu[False] / gen_cpu[True])

# ----------------------------------------------------------------------------- table
print(f"device {dev} ({results['threads']} threads); GPT {L} layers, {H} heads, width {C}, vocabulary "
      f"{args.vocab}: {results['parameters']:,} parameters; transformers attention: "
      f"{results['hf_attn_implementation']}")
rows = [("training step", f"batch {B} x {T}", f"{t_ours / steps * 1e3:.1f} ms", f"{t_ref / steps * 1e3:.1f} ms",
         f"{t_ours / t_ref:.2f}x time (target <= 1.0x)"),
        ("training tokens/s", "", f"{tok / t_ours:,.0f}", f"{tok / t_ref:,.0f}", ""),
        ("greedy generation", f"{args.new_tokens} new tokens", f"cache {gen_t[True]:.2f} s",
         f"no cache {gen_t[False]:.2f} s", f"{gen_t[False] / gen_t[True]:.1f}x (target >= 3x)"),
        ("generation tokens/s", "", f"{new / gen_t[True]:,.0f}", f"{new / gen_t[False]:,.0f}",
         f"same tokens: {same}")]
head = ("figure", "setting", "d2lt / cache", "transformers / no cache", "ratio")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]
for r in [head] + rows:
    print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
print(f"process CPU time ratios: training {results['train_cpu_ratio']:.2f}x, generation without/with "
      f"the cache {results['cache_cpu_speedup']:.1f}x")
if args.json:
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
