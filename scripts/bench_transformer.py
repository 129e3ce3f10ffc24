"""Benchmark chapter 6's Transformer: decoding with and without the key-value cache, and training
throughput against ``torch.nn.Transformer`` with the same configuration, in one run on one device.

    OMP_NUM_THREADS=1 python scripts/bench_transformer.py                 # the verse model's sizes
    OMP_NUM_THREADS=1 python scripts/bench_transformer.py --quick         # a smaller, faster check

1. Greedy decoding of test verses, exactly ``--new-tokens`` tokens per sentence
   (``<eos>`` is replaced by ``<pad>``, which a trained model never emits, so
   no row stops early), with the cache and without it: seconds, tokens per
   second and the ratio (target: >= 3x at 100 new tokens).
2. Training steps (forward, backward, Adam) on verse batches: the course's
   model against ``torch.nn.Transformer`` wrapped with the same embeddings,
   positions and tied output layer, dropout 0.1, post-norm, ReLU (``nn.Transformer``
   also puts a final layer norm after each stack, a small extra cost); target
   tokens per second and the ratio of step times (target: <= 1.1x the
   reference's time). Both are timed on the same batches, alternating, after a
   warm-up, and the median of the repeats is reported.

The verse checkpoint is used when it is present (decoding speed does not
depend on the weights, only on the shapes; the cache-vs-none token check does
use them). Prints one line per figure and, with ``--json PATH``, writes them.
"""
import argparse
import json
import math
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

import d2lt
from d2lt import decoding, tasks, train, transformer
from d2lt.attention import PositionalEncoding
from d2lt.text import encode, tokenize

p = argparse.ArgumentParser()
p.add_argument("--new-tokens", type=int, default=100)
p.add_argument("--sentences", type=int, default=256, help="test verses to decode")
p.add_argument("--train-steps", type=int, default=20, help="timed training steps per model and repeat")
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--quick", action="store_true", help="fewer sentences and steps")
p.add_argument("--json", default=None, help="also write the figures to this file")
args = p.parse_args()
if args.quick:
    args.sentences, args.train_steps, args.repeats = 64, 5, 2

S = d2lt.setup(0)
task = tasks.verse_task()
model, config, path = transformer.verse_transformer(task)
try:
    train.load_checkpoint(path, model, config)
    weights = f"checkpoint {path.name}"
except (FileNotFoundError, ValueError) as e:
    weights = f"random weights ({e})"
print(f"weights: {weights}")
model = model.to(S.device).eval()
results = {"device": str(S.device), "threads": torch.get_num_threads(), "weights": weights}


def sync():
    if S.device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- 1. decoding
pairs = task.test_pairs[:args.sentences]
src, src_len = encode([tokenize(p_[0]) for p_ in pairs], task.src_vocab, task.src_steps)
src, src_len = src.to(S.device), src_len.to(S.device)
pad = task.tgt_vocab.pad
times, outs = {}, {}
for use_cache in (True, False, True, False):
    sync()
    t0 = time.perf_counter()
    ids, _ = decoding.greedy(model, src, src_len, task.tgt_vocab.bos, pad, args.new_tokens,
                             use_cache=use_cache, pad=pad)
    sync()
    times.setdefault(use_cache, []).append(time.perf_counter() - t0)
    outs[use_cache] = ids
same = torch.equal(outs[True], outs[False])
n_tok = outs[True].shape[0] * outs[True].shape[1]
t_cache, t_none = min(times[True]), min(times[False])
results.update(decode_new_tokens=int(outs[True].shape[1]), decode_sentences=len(pairs),
               decode_same_tokens=same, cache_seconds=t_cache, no_cache_seconds=t_none,
               cache_tokens_per_s=n_tok / t_cache, no_cache_tokens_per_s=n_tok / t_none,
               cache_speedup=t_none / t_cache)
print(f"decoding {len(pairs)} verses x {outs[True].shape[1]} new tokens: cache {t_cache:.2f} s "
      f"({n_tok / t_cache:,.0f} tokens/s), no cache {t_none:.2f} s ({n_tok / t_none:,.0f} tokens/s): "
      f"{t_none / t_cache:.1f}x; same tokens: {same}")


# ----------------------------------------------------------------------------- 2. training
class TorchReference(nn.Module):
    """``torch.nn.Transformer`` with the course model's embeddings, positions and tied output layer."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg.num_hiddens
        self.d = d
        self.src_emb, self.tgt_emb = nn.Embedding(cfg.src_vocab, d), nn.Embedding(cfg.tgt_vocab, d)
        self.pos = PositionalEncoding(d, cfg.dropout, cfg.max_len)
        self.core = nn.Transformer(d, cfg.num_heads, cfg.num_blks, cfg.num_blks, cfg.ffn_num_hiddens,
                                   cfg.dropout, batch_first=True)
        self.dense = nn.Linear(d, cfg.tgt_vocab)
        self.dense.weight = self.tgt_emb.weight
        transformer.init_transformer(self)

    def forward(self, src, dec_in, src_len):
        pad = torch.arange(src.shape[1], device=src.device)[None] >= src_len[:, None]  # True = ignore
        causal = nn.Transformer.generate_square_subsequent_mask(dec_in.shape[1], device=src.device)
        out = self.core(self.pos(self.src_emb(src) * math.sqrt(self.d)),
                        self.pos(self.tgt_emb(dec_in) * math.sqrt(self.d)), tgt_mask=causal,
                        src_key_padding_mask=pad, memory_key_padding_mask=pad, tgt_is_causal=True)
        return self.dense(out)


cfg = transformer.TransformerConfig(**{k: config[k] for k in transformer.TransformerConfig.__dataclass_fields__})
ours = transformer.transformer_seq2seq(cfg).to(S.device).train()
ref = TorchReference(cfg).to(S.device).train()
print(f"parameters: ours {transformer.count_parameters(ours):,}, torch {transformer.count_parameters(ref):,}")
batches = []
for b in task.train.loader(64, seed=0):
    batches.append([t.to(S.device) for t in transformer.trim_batch(b, pad)])
    if len(batches) == args.train_steps:
        break
tgt_tokens = sum(int((b[3] != pad).sum()) for b in batches)
opts = {name: torch.optim.Adam(m.parameters(), lr=1e-4) for name, m in (("ours", ours), ("torch", ref))}
models = {"ours": ours, "torch": ref}


def run(name):
    m, opt = models[name], opts[name]
    sync()
    t0 = time.perf_counter()
    for b in batches:
        loss = transformer.transformer_step(m, b, pad) if name == "ours" else \
            F.cross_entropy(m(b[0], b[2], b[1]).flatten(0, 1), b[3].flatten(), ignore_index=pad,
                                        label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - t0


run("ours"), run("torch")  # warm-up
step_times = {"ours": [], "torch": []}
for _ in range(args.repeats):
    for name in ("ours", "torch"):
        step_times[name].append(run(name))
t_ours, t_ref = statistics.median(step_times["ours"]), statistics.median(step_times["torch"])
results.update(train_batches=len(batches), train_target_tokens=tgt_tokens,
               ours_tokens_per_s=tgt_tokens / t_ours, torch_tokens_per_s=tgt_tokens / t_ref,
               train_time_ratio=t_ours / t_ref)
print(f"training {len(batches)} batches ({tgt_tokens:,} target tokens): ours {tgt_tokens / t_ours:,.0f} "
      f"tokens/s, torch.nn.Transformer {tgt_tokens / t_ref:,.0f} tokens/s: ours takes "
      f"{t_ours / t_ref:.2f}x the reference's time")
if args.json:
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
