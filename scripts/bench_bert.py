"""Benchmark chapter 8's fine-tuning: the course's encoder against ``transformers``' ``BertModel``.

    OMP_NUM_THREADS=1 python scripts/bench_bert.py                   # batch 32, the default
    OMP_NUM_THREADS=1 python scripts/bench_bert.py --quick           # fewer steps
    python scripts/bench_bert.py --json bench_bert.json              # also write the figures

Both models hold the same all-MiniLM-L6-v2 weights (``d2lt.pretrained``) and
the same added layer (mean pooling, one linear layer to two classes); both
train with AdamW, dropout 0.1, on the same batches of real sentences (Rotten
Tomatoes, padded to the longest in each batch), on the same device. One
training step is forward, cross-entropy, backward and the optimizer step.
The steps of each model are timed in blocks that alternate between the two
(so a change in the machine's load hits both), after ``--warmup`` untimed
steps; CUDA is synchronised before every clock reading. The figure per model
is the median over the blocks: seconds per step, sentences per second, and
the ratio of the course's time to the reference's (target: at most 1.0). On
the CPU the process CPU time per step is reported too: on a machine shared
with other work, wall time measures the load as much as the code.
The reference is run with ``transformers``' default attention (``sdpa``)
and with its explicit ("eager") attention; the course's encoder with its
fused path (the default, ``scaled_dot_product_attention``) and with the
explicit matrix form (``fused=False``).

Before timing, the two models' logits are compared in eval mode (they must
agree to 1e-4), so that the benchmark times the same function.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

import d2lt
from d2lt import data, pretrained
from d2lt import finetune as ft
from d2lt.bert import hf_attention_mask

p = argparse.ArgumentParser()
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--steps", type=int, default=5, help="timed steps per block")
p.add_argument("--blocks", type=int, default=3, help="alternating timed blocks per model")
p.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
p.add_argument("--quick", action="store_true", help="2 blocks of 3 steps")
p.add_argument("--json", default=None, help="also write the figures to this file")
args = p.parse_args()
if args.quick:
    args.steps, args.blocks, args.warmup = 3, 2, 1

S = d2lt.setup(0)
dev = S.device


class Reference(nn.Module):
    """transformers' BertModel with the same added layer as the course's classifier."""

    def __init__(self, bert, head: nn.Linear):
        super().__init__()
        self.bert = bert
        self.dropout = nn.Dropout(0.1)
        self.output = head

    def forward(self, tokens, segments, valid_lens):
        mask = hf_attention_mask(valid_lens, tokens.shape[1])
        X = self.bert(input_ids=tokens, token_type_ids=segments,
                      attention_mask=mask).last_hidden_state          # (B, T, D)
        return self.output(self.dropout(ft.pool(X, valid_lens, "mean")))


def reference(attn):
    from transformers import BertModel

    with pretrained.quiet_transformers():
        bert = BertModel.from_pretrained(str(data.minilm_dir()), local_files_only=True,
                                         attn_implementation=attn, add_pooling_layer=False)
    return bert


encoder, tok = pretrained.minilm()
ours = ft.SentenceClassifier(encoder, pooling="mean").to(dev)
models = {"course BERTEncoder": ours}
explicit = ft.SentenceClassifier(pretrained.minilm()[0], pooling="mean").to(dev)
explicit.output.load_state_dict(ours.output.state_dict())
for blk in explicit.encoder.blks:   # d2l's matrix form instead of the fused kernel
    blk.attention.fused = False
models["course BERTEncoder (explicit)"] = explicit
for attn in ("sdpa", "eager"):
    head = nn.Linear(ours.output.in_features, 2)
    head.load_state_dict(ours.output.state_dict())
    models[f"transformers BertModel ({attn})"] = Reference(reference(attn), head).to(dev)

sentences = data.load_sentiment("train")
texts = [s.text for s in sentences]
labels = [s.label for s in sentences]
need = args.warmup + args.steps * args.blocks
batches = ft.make_batches(tok, texts, labels, args.batch_size, shuffle=True, seed=0,
                          by_length=False)
batches = [b.to(dev) for b in (batches * (need // len(batches) + 1))[:need]]

with torch.no_grad():  # the same function: eval mode, the same logits
    b = batches[0]
    want = ours.eval()(b.tokens, b.segments, b.valid_lens)
    for name, m in models.items():
        got = m.eval()(b.tokens, b.segments, b.valid_lens)
        diff = (got - want).abs().max().item()
        assert diff < 1e-4, f"{name} differs from the course's model by {diff:.1e}"
print(f"device {dev} | threads {torch.get_num_threads()} | batch {args.batch_size} | "
      f"{args.blocks} blocks of {args.steps} steps after {args.warmup} warm-up steps | "
      "logits agree to 1e-4")

opts = {name: torch.optim.AdamW(m.parameters(), lr=5e-5, weight_decay=0.01)
        for name, m in models.items()}


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def step(name, batch):
    m, opt = models[name], opts[name]
    loss = F.cross_entropy(m(batch.tokens, batch.segments, batch.valid_lens), batch.labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


for m in models.values():
    m.train()
for name in models:
    for b in batches[:args.warmup]:
        step(name, b)
sync()
times = {name: [] for name in models}
cpu_times = {name: [] for name in models}
for k in range(args.blocks):
    block = batches[args.warmup + k * args.steps: args.warmup + (k + 1) * args.steps]
    for name in models:
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for b in block:
            step(name, b)
        sync()
        times[name].append((time.perf_counter() - t0) / len(block))
        cpu_times[name].append((time.process_time() - c0) / len(block))

sentences_per_step = statistics.fmean(len(b) for b in batches[args.warmup:])
REF = "transformers BertModel (sdpa)"
base = statistics.median(times[REF])
cpu_base = statistics.median(cpu_times[REF])
results = {"device": str(dev), "threads": torch.get_num_threads(),
           "batch_size": args.batch_size, "steps_per_block": args.steps, "blocks": args.blocks,
           "tokens_per_batch": statistics.fmean(b.tokens.numel() for b in batches), "models": {}}
print(f"\n{'model':34s} {'s/step':>8s} {'sentences/s':>12s} {'time ratio':>11s} "
      f"{'CPU s/step':>11s} {'CPU ratio':>10s}")
for name, ts in times.items():
    med, cpu = statistics.median(ts), statistics.median(cpu_times[name])
    results["models"][name] = {"seconds_per_step": med, "sentences_per_second":
                               sentences_per_step / med, "ratio_to_sdpa": med / base,
                               "cpu_seconds_per_step": cpu, "cpu_ratio_to_sdpa": cpu / cpu_base,
                               "blocks": ts, "cpu_blocks": cpu_times[name]}
    print(f"{name:34s} {med:8.3f} {sentences_per_step / med:12.1f} {med / base:10.2f}x "
          f"{cpu:11.3f} {cpu / cpu_base:9.2f}x")
ratio = results["models"]["course BERTEncoder"]["ratio_to_sdpa"]
print(f"\ncourse / transformers (sdpa) time: {ratio:.2f}x (target: <= 1.0x)")
if dev.type == "cpu":  # process CPU time: what the steps cost, whatever else the machine runs
    cpu_ratio = results["models"]["course BERTEncoder"]["cpu_ratio_to_sdpa"]
    print(f"course / transformers (sdpa) process CPU time: {cpu_ratio:.2f}x "
          "(the figure to trust on a shared machine)")
if args.json:
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {args.json}")
