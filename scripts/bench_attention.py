"""Benchmark: multi-head self-attention, d2lt against torch, forward + backward.

Times four implementations on the same input with the same weights (mapped
across, outputs checked equal before timing), in interleaved rounds, and prints
median times and the ratio to ``torch.nn.MultiheadAttention(bias=False)``:

* d2lt MultiHeadAttention, fused path (``F.scaled_dot_product_attention``);
* d2lt MultiHeadAttention, explicit path (``softmax(Q K^T / sqrt(d)) V``);
* torch.nn.MultiheadAttention (``need_weights=False``);
* F.scaled_dot_product_attention with the same projections written by hand.

Run it on its own::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_attention.py
    .venv/bin/python scripts/bench_attention.py --steps 128 512 --hiddens 512 --forward-only

``make bench`` runs the same script with the default settings and one thread
(``OMP_NUM_THREADS=1`` unless the variable is already set).

This is a benchmark, not a test: it reports, it does not fail on a slow result.
"""
from __future__ import annotations

import argparse
import os
import platform

import torch

from d2lt.complexity import benchmark_attention

TARGET = 1.2  # the d2lt fused path should stay within this factor of torch.nn.MultiheadAttention


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, nargs="+", default=[128, 256, 512],
                   help="sequence lengths n to time (one row each)")
    p.add_argument("--hiddens", type=int, default=256, help="model width d")
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--repeats", type=int, default=9, help="interleaved rounds; the median is reported")
    p.add_argument("--min-time", type=float, default=0.05, help="seconds per timing sample (at least)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--forward-only", action="store_true", help="time the forward pass alone")
    args = p.parse_args(argv)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"torch {torch.__version__} | python {platform.python_version()} | device {device} | "
          f"{os.cpu_count()} CPU cores | torch threads {torch.get_num_threads()} | "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    what = "forward" if args.forward_only else "forward + backward"
    print(f"multi-head self-attention, {what}: batch {args.batch_size}, width {args.hiddens}, "
          f"{args.heads} heads, median of {args.repeats} interleaved rounds\n")

    worst = 0.0
    for n in args.steps:
        r = benchmark_attention(batch_size=args.batch_size, num_steps=n, num_hiddens=args.hiddens,
                                num_heads=args.heads, repeats=args.repeats, min_time=args.min_time,
                                device=device, backward=not args.forward_only)
        print(f"n = {n}")
        for name, sec in r["seconds"].items():
            print(f"  {name:34s} {sec * 1e3:9.2f} ms   {r['ratio'][name]:5.2f} x torch.nn")
        worst = max(worst, r["ratio"]["d2lt fused"])
        print()
    verdict = "within" if worst <= TARGET else "NOT within"
    print(f"d2lt fused path: at worst {worst:.2f} x torch.nn.MultiheadAttention "
          f"({verdict} the {TARGET}x target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
