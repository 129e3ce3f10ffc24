"""Training throughput and model FLOPs utilisation (MFU), measured on the current device.

    python -m d2lt.bench                          # CPU: the "small" config, about 1-2 minutes
    python -m d2lt.bench --config gpt2-124m       # GPT-2 small (the GPU default)
    python -m d2lt.bench --steps 3 --json b.json  # fewer timed steps; also write the figures

One run prints, for the course's GPT (:mod:`d2lt.gpt`) at a stated config:

1. training tokens per second and MFU against ``transformers``'
   ``GPT2LMHeadModel`` built from the same config (weights copied across), and
   the ratio of step times (target: ours not slower, ratio <= 1.0);
2. fused attention (``scaled_dot_product_attention``) against the explicit
   ``softmax(Q K^T / sqrt(d) + mask) V`` (:func:`explicit_attention`);
3. the effect of mixed precision: bf16 autocast where the device supports it,
   fp16 autocast with a gradient scaler on a CUDA GPU without bf16;
4. the effect of ``torch.compile`` (with autocast on a GPU, the configuration
   of the 40% MFU target; fp32 on a CPU): the compile (the first call) is
   timed on its own, and a failure is reported as "not available", never raised.

On a CUDA device the fused and explicit rows also give the peak memory of a
training step. On a CPU the ratio against ``transformers`` is also given in
process CPU time, steadier than the wall clock on a shared machine.

**FLOPs per token** of a training step (forward and backward) follow
``6 N + 12 L T d`` (Kaplan et al., 2020; PaLM, Chowdhery et al., 2022,
appendix B): ``N`` parameters (the lookup tables left out: a lookup costs no
multiply), each used in one multiply-add (2 FLOPs) forward and two backward;
plus attention's ``Q K^T`` and ``A V`` (``2 * 2 T d`` per token and layer
forward, twice that backward), with ``L`` layers, ``T`` positions, width ``d``.

**MFU** is the measured FLOP/s over the device's peak. On a CPU the peak is
measured on the spot (the best of a few large fp32 matmuls), so the figure means
the same on every machine; on a GPU it comes from :data:`PEAK_FLOPS`, a table of
dense (no sparsity) peaks per accelerator and dtype with their sources, and an
accelerator not in the table gets "MFU not reported: unknown device".

Timing excludes warm-up steps and synchronises the device before reading the
clock (:func:`sync`, :func:`timed`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from . import validate as check

__all__ = ["flops_per_token", "gpt_flops_per_token", "PEAK_FLOPS", "lookup_peak", "peak_flops",
           "cpu_matmul_peak", "mfu", "sync", "timed", "explicit_attention", "CONFIGS", "bench_config",
           "amp_context", "backward_step", "main", "UNKNOWN_DEVICE"]

UNKNOWN_DEVICE = "MFU not reported: unknown device"

# --------------------------------------------------------------------------- FLOPs


def flops_per_token(n_params: int, n_layer: int, seq_len: int, n_embd: int) -> int:
    """Training FLOPs (forward + backward) per token: ``6 N + 12 L T d``."""
    n_params = check.integer(n_params, "n_params", 1)
    n_layer = check.integer(n_layer, "n_layer", 1)
    seq_len = check.integer(seq_len, "seq_len", 1)
    n_embd = check.integer(n_embd, "n_embd", 1)
    return 6 * n_params + 12 * n_layer * seq_len * n_embd


def gpt_flops_per_token(config, seq_len: int) -> int:
    """:func:`flops_per_token` of a :class:`d2lt.gpt.GPTConfig` trained on ``seq_len`` positions.

    ``N`` is every parameter but the lookup tables: the position table, and
    the token embedding when the head has its own matrix (an untied model); a
    tied matrix counts once, as the head's matmul.
    """
    from .gpt import GPTConfig
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a d2lt.gpt.GPTConfig, got {check.describe(config)}")
    seq_len = check.integer(seq_len, "seq_len", 1, config.block_size)
    n = config.parameter_count(non_embedding=True)
    if not config.tie_weights:
        n -= config.vocab_size * config.n_embd  # the input lookup; the head's matrix stays
    return flops_per_token(n, config.n_layer, seq_len, config.n_embd)


# --------------------------------------------------------------------------- peaks

_T = 1e12
_H100_SXM = "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM column; dense, sparsity figures halved)"
_H100_PCIE = "NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe column; dense, sparsity figures halved)"
_H200 = "NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column; dense, sparsity figures halved)"
_A100 = "NVIDIA A100 Tensor Core GPU datasheet (dense; sparsity figures halved)"
_L4 = "NVIDIA L4 Tensor Core GPU datasheet (dense; sparsity figures halved)"
_A10 = "NVIDIA A10 Tensor Core GPU datasheet (dense; sparsity figures halved)"
_V100 = "NVIDIA V100 Tensor Core GPU datasheet (SXM2 column)"
_T4 = "NVIDIA T4 Tensor Core GPU datasheet"

#: Dense peak FLOP/s per accelerator and dtype (quoted from the vendors' datasheets, not measured
#: here). ``tf32`` is the fp32 matmul peak with TF32 tensor cores allowed.
PEAK_FLOPS = {
    "H100 SXM": {"bf16": 989.4 * _T, "fp16": 989.4 * _T, "tf32": 494.7 * _T, "fp32": 66.9 * _T,
                 "source": _H100_SXM},
    "H100 PCIe": {"bf16": 756.5 * _T, "fp16": 756.5 * _T, "tf32": 378.0 * _T, "fp32": 51.2 * _T,
                  "source": _H100_PCIE},
    "H200": {"bf16": 989.4 * _T, "fp16": 989.4 * _T, "tf32": 494.7 * _T, "fp32": 66.9 * _T,
             "source": _H200},
    "A100": {"bf16": 312.0 * _T, "fp16": 312.0 * _T, "tf32": 156.0 * _T, "fp32": 19.5 * _T,
             "source": _A100},
    "L4": {"bf16": 121.0 * _T, "fp16": 121.0 * _T, "tf32": 60.0 * _T, "fp32": 30.3 * _T,
           "source": _L4},
    "A10": {"bf16": 125.0 * _T, "fp16": 125.0 * _T, "tf32": 62.5 * _T, "fp32": 31.2 * _T,
            "source": _A10},
    "V100": {"fp16": 125.0 * _T, "fp32": 15.7 * _T, "source": _V100},
    "T4": {"fp16": 65.0 * _T, "fp32": 8.1 * _T, "source": _T4},
}

# device names as torch.cuda.get_device_name reports them -> table key (first match wins)
_NAME_RULES = [
    (r"\bH200\b", "H200"),
    (r"\bH100\b.*\bPCIe\b", "H100 PCIe"),
    (r"\bH100\b.*(\bSXM|\bHBM3\b)", "H100 SXM"),
    (r"\bA100\b", "A100"),
    (r"\bL4\b", "L4"),
    (r"\bA10\b", "A10"),   # not A10G, whose peak differs
    (r"\bV100\b", "V100"),
    (r"\bT4\b", "T4"),
]
DTYPES = ("bf16", "fp16", "tf32", "fp32")


def lookup_peak(device_name: str, dtype: str):
    """``(peak FLOP/s, table key, source)`` for a device name and dtype, or ``None`` when unknown.

    ``dtype`` is one of ``bf16``, ``fp16``, ``tf32``, ``fp32``. A device the
    table does not hold, or a dtype it has no figure for (bf16 on a V100), is
    ``None``: the caller then reports :data:`UNKNOWN_DEVICE` instead of guessing.
    """
    check.string(device_name, "device_name")
    check.string(dtype, "dtype", choices=DTYPES)
    for pattern, key in _NAME_RULES:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            row = PEAK_FLOPS[key]
            return (row[dtype], key, row["source"]) if dtype in row else None
    return None


def cpu_matmul_peak(n: int = 1024, repeats: int = 10) -> float:
    """FLOP/s of the best of ``repeats`` fp32 ``n x n`` matmuls on this CPU (``2 n^3`` FLOPs each)."""
    n = check.integer(n, "n", 16)
    repeats = check.integer(repeats, "repeats", 1)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    a @ b  # warm-up
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


def peak_flops(device, dtype: str = "fp32"):
    """``(peak FLOP/s or None, how it was obtained)`` for a torch device and a compute dtype.

    CPU: measured now (:func:`cpu_matmul_peak`, fp32). CUDA: looked up in
    :data:`PEAK_FLOPS` by the device's name; ``None`` with :data:`UNKNOWN_DEVICE`
    when the device or dtype is not in the table. Other devices: ``None``.
    """
    from .train import as_device
    device = as_device(device)
    check.string(dtype, "dtype", choices=DTYPES)
    if device.type == "cpu":
        return cpu_matmul_peak(), "measured now: best fp32 1024 x 1024 matmul"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        found = lookup_peak(name, dtype)
        if found is None:
            return None, f"{UNKNOWN_DEVICE} ({name}, {dtype})"
        return found[0], f"{found[1]} {dtype} peak, quoted from the {found[2]}"
    return None, f"{UNKNOWN_DEVICE} ({device.type})"


def mfu(tokens_per_s: float, flops_token: float, peak: float | None):
    """Model FLOPs utilisation ``tokens/s * FLOPs/token / peak`` (``None`` when the peak is unknown)."""
    tokens_per_s = check.number(tokens_per_s, "tokens_per_s", 0)
    flops_token = check.number(flops_token, "flops_token", 0, strict=True)
    if peak is None:
        return None
    peak = check.number(peak, "peak", 0, strict=True)
    return tokens_per_s * flops_token / peak


# --------------------------------------------------------------------------- timing

def sync(device) -> None:
    """Wait until every queued kernel of ``device`` has finished (a no-op on CPU)."""
    device = torch.device(device) if isinstance(device, str) else device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn, device, repeats: int = 1):
    """Run ``fn()`` ``repeats`` times between two synchronisations: ``(wall s, process CPU s)``."""
    repeats = check.integer(repeats, "repeats", 1)
    if not callable(fn):
        raise TypeError(f"fn must be callable (one step to time), got {check.describe(fn)}")
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


# --------------------------------------------------------------------------- attention, precision

def _explicit_attend(q, k, v, scale, dropout_p):
    """``softmax(Q K^T * scale + causal mask) V`` written out (the (Q, K) score matrix is stored)."""
    from .attention import causal_mask
    Q, K = q.shape[2], k.shape[2]
    scores = (q @ k.transpose(-2, -1)) * scale                 # (B, h, Q, K)
    if Q > 1:
        scores = scores.masked_fill(~causal_mask(Q, q.device, num_keys=K), float("-inf"))
    weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    if dropout_p:
        weights = F.dropout(weights, dropout_p)
    return weights @ v


@contextlib.contextmanager
def explicit_attention():
    """Inside the block every :class:`d2lt.gpt.GPT` attends with the explicit formula, not SDPA."""
    from . import gpt
    fused = gpt._attend
    gpt._attend = _explicit_attend
    try:
        yield
    finally:
        gpt._attend = fused


def amp_context(device, enabled: bool = True):
    """``(autocast context, dtype name, GradScaler or None)`` for mixed precision on ``device``.

    bf16 autocast on a CPU and on a CUDA GPU with bf16; fp16 autocast with a
    ``torch.amp.GradScaler`` on a CUDA GPU without bf16; fp32 (no autocast)
    when ``enabled`` is false or elsewhere.
    """
    check.boolean(enabled, "enabled")
    if enabled and device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16), "bf16", None
        return torch.autocast("cuda", dtype=torch.float16), "fp16", torch.amp.GradScaler("cuda")
    if enabled and device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16), "bf16", None
    return contextlib.nullcontext(), ("tf32" if device.type == "cuda" and
                                      torch.backends.cuda.matmul.allow_tf32 else "fp32"), None


def backward_step(loss, opt, scaler=None) -> None:
    """Backward pass and optimiser step, through ``scaler`` (fp16's GradScaler) when there is one."""
    if scaler is None:
        loss.backward()
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


# --------------------------------------------------------------------------- configs

CONFIGS = {
    "tiny": dict(n_layer=2, n_head=2, n_embd=64, vocab_size=512, seq=64, batch=4),
    "small": dict(n_layer=4, n_head=4, n_embd=256, vocab_size=8192, seq=128, batch=8),
    "gpt2-124m": dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, seq=1024, batch=8),
    "gpt2-350m": dict(n_layer=24, n_head=16, n_embd=1024, vocab_size=50257, seq=1024, batch=8),
}


def bench_config(name: str):
    """``(GPTConfig, batch, seq)`` of a named benchmark config (:data:`CONFIGS`)."""
    from .gpt import GPTConfig
    check.string(name, "config", choices=tuple(CONFIGS))
    c = dict(CONFIGS[name])
    seq, batch = c.pop("seq"), c.pop("batch")
    return GPTConfig(block_size=seq, dropout=0.0, **c), batch, seq


# --------------------------------------------------------------------------- the benchmark

def _hf_model(config):
    from transformers import GPT2Config, GPT2LMHeadModel
    hc = GPT2Config(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
                    n_layer=config.n_layer, n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                    attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(hc)


def _trainer(model, device, batches, amp: bool, hf: bool = False):
    """A function running one optimiser step per batch of ``batches`` (forward, loss, backward, AdamW)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ctx_dtype = amp_context(device, amp)
    scaler = ctx_dtype[2]

    def run():
        for xb in batches:
            ctx = amp_context(device, amp)[0]
            with ctx:
                if hf:
                    loss = model(xb[:, :-1], labels=xb[:, :-1]).loss
                else:
                    loss = model(xb[:, :-1], xb[:, 1:])[1]
            opt.zero_grad(set_to_none=True)
            backward_step(loss, opt, scaler)
    return run, ctx_dtype[1]


def _measure(run, device, warmup, repeats, tokens):
    for _ in range(warmup):
        run()
    walls = [timed(run, device)[0] for _ in range(repeats)]
    return tokens / statistics.median(walls)


def run_benchmark(config_name: str = "small", steps: int | None = None, warmup: int = 1, repeats: int = 3,
                  compile: bool = True, device=None, out=sys.stdout) -> dict:
    """Run every measurement of the benchmark, print the table to ``out`` and return the figures."""
    from .gpt import GPT
    from .train import as_device
    device = as_device(device)
    cfg, B, T = bench_config(config_name)
    steps = check.integer(steps, "steps", 1, allow_none=True) or (10 if device.type == "cuda" else 3)
    warmup = check.integer(warmup, "warmup", 0)
    repeats = check.integer(repeats, "repeats", 1)
    check.boolean(compile, "compile")
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, cfg.vocab_size, (B, T + 1), generator=g).to(device) for _ in range(steps)]
    tokens = steps * B * T
    fpt = gpt_flops_per_token(cfg, T)
    res = {"device": str(device), "config": config_name, "n_layer": cfg.n_layer, "n_head": cfg.n_head,
           "n_embd": cfg.n_embd, "vocab_size": cfg.vocab_size, "batch": B, "seq": T, "steps": steps,
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "parameters": (fpt - 12 * cfg.n_layer * T * cfg.n_embd) // 6, "flops_per_token": fpt,
           "flops_formula": "6 N + 12 L T d", "rows": {}}
    if device.type == "cuda":
        res["device_name"] = torch.cuda.get_device_name(device)
    peaks = {}

    def peak_for(dtype):
        key = "fp32" if device.type == "cpu" else dtype  # one measured peak on a CPU
        if key not in peaks:
            peaks[key] = peak_flops(device, key)
        return peaks[key]

    def row(name, tok_s, dtype, note=""):
        p, how = peak_for(dtype)
        u = mfu(tok_s, fpt, p) if tok_s is not None else None
        res["rows"][name] = {"tokens_per_s": tok_s, "mfu": u, "dtype": dtype, "peak_flops": p,
                             "peak_from": how, "note": note}

    hf = _hf_model(cfg)
    ours = GPT.from_hf(hf).to(device).train()
    hf = hf.to(device).train()
    res["hf_attn_implementation"] = getattr(hf.config, "_attn_implementation", None)
    fp = "tf32" if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32 else "fp32"

    # 1. ours against transformers, alternating so that a shared machine's load hits both alike
    run_o, _ = _trainer(ours, device, batches, amp=False)
    run_h, _ = _trainer(hf, device, batches, amp=False, hf=True)
    for _ in range(warmup):
        run_o(), run_h()
    wo, wh, co, ch = [], [], [], []
    for _ in range(repeats):
        for run, w, c in ((run_o, wo, co), (run_h, wh, ch)):
            wall, cpu = timed(run, device)
            w.append(wall)
            c.append(cpu)
    t_o, t_h = tokens / statistics.median(wo), tokens / statistics.median(wh)
    res["ratio_time_ours_over_transformers"] = t_h / t_o
    # process CPU time: on a shared CPU less noisy than the wall clock (one thread: the work done)
    res["ratio_cpu_time_ours_over_transformers"] = statistics.median(co) / statistics.median(ch)
    cpu_note = (f", process CPU time {res['ratio_cpu_time_ours_over_transformers']:.2f}x"
                if device.type == "cpu" else "")
    row("d2lt GPT (fused attention)", t_o, fp)
    row("transformers GPT2LMHeadModel", t_h, fp,
        f"ours/transformers step time {t_h / t_o:.2f}x{cpu_note} (target <= 1.0)")

    # 2. explicit attention (on CUDA also the peak memory of a training step, fused and explicit)
    def peak_mib(run):
        if device.type != "cuda":
            return None
        torch.cuda.reset_peak_memory_stats(device)
        run()
        sync(device)
        return torch.cuda.max_memory_allocated(device) / 2**20
    mem_f = peak_mib(run_o)
    with explicit_attention():
        run_e, _ = _trainer(ours, device, batches, amp=False)
        t_e = _measure(run_e, device, warmup, repeats, tokens)
        mem_e = peak_mib(run_e)
    mem = "" if mem_f is None else f"; peak memory {mem_e:,.0f} MiB explicit, {mem_f:,.0f} MiB fused"
    res["peak_mib_fused"], res["peak_mib_explicit"] = mem_f, mem_e
    row("d2lt GPT, explicit attention", t_e, fp, f"fused is {t_o / t_e:.2f}x as fast{mem}")

    # 3. mixed precision
    run_a, amp_dtype = _trainer(ours, device, batches, amp=True)
    t_a = None
    if amp_dtype in ("bf16", "fp16"):
        try:
            t_a = _measure(run_a, device, warmup, repeats, tokens)
            row(f"d2lt GPT, {amp_dtype} autocast", t_a, amp_dtype,
                f"{t_a / t_o:.2f}x the fp32 throughput" + (" (with a GradScaler)" if amp_dtype == "fp16"
                                                           else ""))
        except RuntimeError as e:
            row(f"d2lt GPT, {amp_dtype} autocast", None, amp_dtype,
                f"not available: {str(e).splitlines()[0][:80]}")
    else:
        row("d2lt GPT, autocast", None, amp_dtype, f"not available on {device.type}")

    # 4. torch.compile, its compile time apart; on a GPU with autocast (the configuration of the
    # 40% MFU target), on a CPU in fp32 (where bf16 autocast rarely pays)
    c_amp = device.type == "cuda" and t_a is not None
    c_dtype, c_base = (amp_dtype, t_a) if c_amp else (fp, t_o)
    name = f"d2lt GPT, torch.compile{' + ' + amp_dtype + ' autocast' if c_amp else ''}"
    if not compile:
        row(name, None, c_dtype, "skipped (--no-compile)")
    else:
        quiet = logging.getLogger("torch._dynamo")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # graph breaks at the argument checks are expected
        try:
            cm = torch.compile(ours)
            run_c, _ = _trainer(cm, device, batches[:1], amp=c_amp)
            wall_compile = timed(run_c, device)[0]  # the first step compiles
            run_c, _ = _trainer(cm, device, batches, amp=c_amp)
            t_c = _measure(run_c, device, warmup, repeats, tokens)
            res["compile_seconds"] = wall_compile
            row(name, t_c, c_dtype, f"{t_c / c_base:.2f}x eager {c_dtype}; compiling took "
                                    f"{wall_compile:.1f} s")
        except Exception as e:  # compile needs a C++ toolchain / Triton; report, never crash
            res["compile_seconds"] = None
            row(name, None, c_dtype, f"not available: {type(e).__name__}: {str(e).splitlines()[0][:80]}"
                if str(e) else f"not available: {type(e).__name__}")
        finally:
            quiet.setLevel(level)
    if device.type == "cpu":  # measure the peak again at the end; a busy moment lowers a measurement
        first = peaks["fp32"][0]
        best = max(first, cpu_matmul_peak())
        res["cpu_peak_measurements"] = [first, best]
        for r in res["rows"].values():
            r["peak_flops"] = best
            r["mfu"] = None if r["tokens_per_s"] is None else mfu(r["tokens_per_s"], fpt, best)
    print_table(res, out)
    return res


def print_table(res: dict, out=sys.stdout) -> None:
    """Print the figures of :func:`run_benchmark` as a table."""
    print(f"device {res['device']}{' (' + res['device_name'] + ')' if 'device_name' in res else ''}, "
          f"{res['threads']} CPU threads, torch {res['torch']}; config {res['config']!r}: "
          f"{res['n_layer']} layers, {res['n_head']} heads, width {res['n_embd']}, vocabulary "
          f"{res['vocab_size']}, batch {res['batch']} x {res['seq']} tokens, {res['steps']} timed steps",
          file=out)
    print(f"FLOPs per token = 6 N + 12 L T d = 6 x {res['parameters']:,} + 12 x {res['n_layer']} x "
          f"{res['seq']} x {res['n_embd']} = {res['flops_per_token']:,}", file=out)
    head = ("run", "dtype", "tokens/s", "MFU", "note")
    rows = []
    for name, r in res["rows"].items():
        tok = "-" if r["tokens_per_s"] is None else f"{r['tokens_per_s']:,.0f}"
        if r["tokens_per_s"] is None:
            u = "-"
        elif r["mfu"] is None:
            u = UNKNOWN_DEVICE
        else:
            u = f"{100 * r['mfu']:.1f}%"
        rows.append((name, r["dtype"], tok, u, r["note"]))
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)
    hows = sorted({r["peak_from"] for r in res["rows"].values()})
    for how in hows:
        print(f"peak: {how}", file=out)
    peak = next(iter(res["rows"].values()))["peak_flops"]
    if peak is not None:
        print(f"peak used for MFU: {peak / 1e9:,.1f} GFLOP/s", file=out)
    if any((r["mfu"] or 0) > 1 for r in res["rows"].values()):
        print("an MFU above 100% means the run beat the matmul measured as the peak (a busy machine "
              "while it was measured, or kernels faster than torch's plain fp32 matmul)", file=out)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m d2lt.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=None, choices=tuple(CONFIGS),
                   help="model size (default: small on a CPU, gpt2-124m on a GPU)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per timed repeat")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up repeats")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    a = p.parse_args(argv)
    from .core import device
    dev = device()
    name = a.config or ("gpt2-124m" if dev.type == "cuda" else "small")
    res = run_benchmark(name, a.steps, a.warmup, a.repeats, compile=not a.no_compile, device=dev)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
