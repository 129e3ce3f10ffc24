"""Data-parallel training of the course's GPT with ``torchrun`` and ``DistributedDataParallel``.

Every process (a *rank*) holds a full replica of the model and takes its
``1 / world_size`` share of each global batch; after the backward pass DDP
averages the gradients over the ranks (an all-reduce), so every replica takes
the same optimiser step and the replicas stay identical. The result equals
single-process training on the whole global batch (up to the order of the
floating-point sums). The backend is NCCL on CUDA GPUs and gloo on CPUs (gloo
runs on Linux, macOS and Windows; nothing here forks).

Launch (``scripts/train_ddp.py`` calls :func:`main`)::

    python scripts/train_ddp.py                                   # 1 process, no launcher
    python -m torch.distributed.run --nproc-per-node 2 scripts/train_ddp.py   # 2 CPU processes
    torchrun --nproc-per-node 8 scripts/train_ddp.py              # 8 GPUs of one machine
    torchrun --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 \\
             --nproc-per-node 8 scripts/train_ddp.py              # on each of 2 machines

Bad launches fail fast with a message, never hang: a world size above 1
without ``MASTER_ADDR``/``MASTER_PORT`` is refused at once, a rank out of
range or a global batch the world size does not divide too, and a rendezvous
that does not complete (fewer processes started than ``WORLD_SIZE`` says)
ends after ``--timeout`` seconds.

Checkpoints: every ``--save-every`` steps rank 0 writes the weights, the
AdamW state and the losses so far with :func:`d2lt.train.save_checkpoint`
(atomic, checksummed). The batch of step ``s`` depends on ``s`` and the seed
only, so a run started again with the same arguments resumes at the saved
step and continues with the same losses as an uninterrupted run.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch import distributed as dist

from . import validate as check

__all__ = ["DistEnv", "read_env", "init", "shard", "batch_at", "TrainState", "train", "main",
           "DEFAULT_TIMEOUT", "make_data", "byte_tokens", "parser"]

DEFAULT_TIMEOUT = 60.0  # seconds a rendezvous or a collective may wait


# --------------------------------------------------------------------------- the launch environment

class DistEnv:
    """The rank, world size and local rank of this process, and where to meet the others."""

    def __init__(self, rank=0, world_size=1, local_rank=0, master_addr=None, master_port=None):
        world_size = check.integer(world_size, "world_size", 1)
        rank = check.integer(rank, "rank", 0, world_size - 1)
        local_rank = check.integer(local_rank, "local_rank", 0)
        check.string(master_addr, "master_addr", allow_none=True)
        check.string(master_port, "master_port", allow_none=True)
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.master_addr, self.master_port = master_addr, master_port

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or self.master_addr is not None

    def __repr__(self):
        return (f"DistEnv(rank={self.rank}, world_size={self.world_size}, local_rank={self.local_rank}, "
                f"master={self.master_addr}:{self.master_port})")


def _env_int(environ, name, default, low):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def read_env(environ=None) -> DistEnv:
    """The launch variables torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_*``), checked.

    Nothing set: one process, no process group. A world size above 1 without
    ``MASTER_ADDR`` and ``MASTER_PORT`` is a ``ValueError`` (a rendezvous
    address is needed), as is a rank outside ``[0, WORLD_SIZE)``.
    """
    environ = os.environ if environ is None else environ
    world = _env_int(environ, "WORLD_SIZE", 1, 1)
    rank = _env_int(environ, "RANK", 0, 0)
    local = _env_int(environ, "LOCAL_RANK", rank, 0)
    if rank >= world:
        raise ValueError(f"RANK must be in [0, WORLD_SIZE) = [0, {world}), got RANK={rank}")
    addr = environ.get("MASTER_ADDR") or None
    port = environ.get("MASTER_PORT") or None
    if world > 1 and (addr is None or port is None):
        missing = [n for n, v in (("MASTER_ADDR", addr), ("MASTER_PORT", port)) if v is None]
        raise ValueError(f"WORLD_SIZE={world} but {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not set: the processes need a rendezvous "
                         "address; launch with `python -m torch.distributed.run --nproc-per-node N "
                         "scripts/train_ddp.py` (torchrun sets it) or set MASTER_ADDR and MASTER_PORT")
    if port is not None:
        _env_int(environ, "MASTER_PORT", None, 1)
    return DistEnv(rank, world, local, addr, port)


def init(env: DistEnv | None = None, timeout: float = DEFAULT_TIMEOUT):
    """Join the process group of ``env`` (NCCL on CUDA, else gloo); return ``(env, device)``.

    One process without ``MASTER_ADDR``: no group, ``device`` is the course's
    default. A rendezvous that does not complete within ``timeout`` seconds is
    a ``TimeoutError`` that says how many processes were expected.
    """
    env = read_env() if env is None else env
    if not isinstance(env, DistEnv):
        raise TypeError(f"env must be a DistEnv, got {check.describe(env)}")
    timeout = check.number(timeout, "timeout", 0, strict=True)
    from .core import device as default_device
    cuda = default_device().type == "cuda"  # D2LT_DEVICE=cpu keeps a GPU machine's ranks on gloo
    if cuda:
        torch.cuda.set_device(env.local_rank % torch.cuda.device_count())
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device("cpu")
    if not env.distributed:
        return env, (device if cuda else default_device())
    backend = "nccl" if cuda else "gloo"
    t0 = time.monotonic()
    try:
        kwargs = {"device_id": device} if cuda else {}
        dist.init_process_group(backend, rank=env.rank, world_size=env.world_size,
                                timeout=datetime.timedelta(seconds=timeout), **kwargs)
        dist.barrier()  # every rank is there
    except Exception as e:
        if dist.is_initialized():
            dist.destroy_process_group()
        waited = time.monotonic() - t0
        raise TimeoutError(
            f"rank {env.rank}: the rendezvous at {env.master_addr}:{env.master_port} did not complete "
            f"after {waited:.0f} s (timeout {timeout:g} s): WORLD_SIZE={env.world_size} processes were "
            "expected; check that --nproc-per-node x --nnodes matches and that every machine can reach "
            f"the address ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})") from e
    return env, device


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rows ``rank * b : (rank + 1) * b`` of a global batch of ``world_size * b`` rows."""
    check.tensor(batch, "batch", nonempty=True)
    world_size = check.integer(world_size, "world_size", 1)
    rank = check.integer(rank, "rank", 0, world_size - 1)
    n = batch.shape[0]
    if n % world_size:
        raise ValueError(f"the global batch ({n} rows) must be divisible by the world size {world_size}")
    b = n // world_size
    return batch[rank * b:(rank + 1) * b]


def batch_at(data: torch.Tensor, step: int, global_batch: int, seq: int, seed: int = 0) -> torch.Tensor:
    """The global batch of step ``step``: ``(global_batch, seq + 1)`` windows of the token stream ``data``.

    The offsets depend on ``(seed, step)`` only, so every rank draws the same
    global batch and a resumed run draws what the interrupted one would have.
    """
    check.tensor(data, "data", dims=1, kind="int", nonempty=True)
    step = check.integer(step, "step", 0)
    global_batch = check.integer(global_batch, "global_batch", 1)
    seq = check.integer(seq, "seq", 1)
    if data.numel() < seq + 2:
        raise ValueError(f"data must hold more than seq + 1 = {seq + 1} tokens, got {data.numel()}")
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    starts = torch.randint(0, data.numel() - seq - 1, (global_batch,), generator=g)
    return torch.stack([data[s:s + seq + 1] for s in starts.tolist()])


def byte_tokens(split: str = "train", limit: int | None = None) -> torch.Tensor:
    """The wiki text (:func:`d2lt.data.load_wiki`) as UTF-8 bytes: a token stream with 256 ids."""
    from .data import load_wiki
    text = "\n\n".join(a.text for a in load_wiki(split))
    raw = text.encode("utf-8")[:limit]
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()


def make_data(kind: str, vocab: int) -> torch.Tensor:
    """The token stream of ``--data``: ``wiki`` (bytes of the wiki text) or ``random`` (seeded tokens)."""
    check.string(kind, "data", choices=("wiki", "random"))
    vocab = check.integer(vocab, "vocab", 1)
    if kind == "wiki":
        if vocab < 256:
            raise ValueError(f"--vocab must be >= 256 for the byte-level wiki text, got {vocab}")
        return byte_tokens("train")
    return torch.randint(0, vocab, (200_000,), generator=torch.Generator().manual_seed(1234))


# --------------------------------------------------------------------------- state and checkpoints

class TrainState(nn.Module):
    """The model and its AdamW moments as one module, so that one checksummed checkpoint holds both.

    The optimiser's state tensors are created up front (zeros, step 0: what
    AdamW would create at its first step) and registered as buffers: loading a
    checkpoint into this module writes into the optimiser's own tensors.
    """

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer):
        super().__init__()
        self.model = model
        for i, p in enumerate(model.parameters()):
            st = opt.state[p]
            if not st:
                st["step"] = torch.tensor(0.0)
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            for k in ("step", "exp_avg", "exp_avg_sq"):
                self.register_buffer(f"opt_{i}_{k}", st[k])


def _params_flat(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in model.parameters()])


def train(args, env: DistEnv, device, data: torch.Tensor, log=print) -> dict:
    """Train ``args.steps`` steps on ``env``'s share of every global batch; return the run's figures."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    from .bench import amp_context, backward_step
    from .gpt import GPT, GPTConfig
    from .train import load_checkpoint, save_checkpoint
    if args.global_batch % env.world_size:
        raise ValueError(f"--global-batch {args.global_batch} must be divisible by the world size "
                         f"{env.world_size} (each process takes an equal share)")
    cfg = GPTConfig(vocab_size=args.vocab, block_size=args.seq, n_layer=args.layers, n_head=args.heads,
                    n_embd=args.embd, dropout=0.0)
    torch.manual_seed(args.seed)  # every rank builds the same initial weights (DDP also broadcasts rank 0's)
    model = GPT(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, foreach=False)
    state = TrainState(model, opt)  # no .to(): the buffers must stay the optimiser's own tensors
    run_config = {"model": cfg.to_dict(), "global_batch": args.global_batch, "seq": args.seq,
                  "lr": args.lr, "seed": args.seed, "data": args.data, "amp": bool(args.amp)}
    step, losses = 0, []
    ckpt = Path(args.checkpoint) if args.checkpoint else None
    if ckpt is not None and ckpt.is_file():
        extra = load_checkpoint(ckpt, state, run_config)
        step, losses = int(extra["step"]), list(extra["losses"])
        log(f"resumed from {ckpt} at step {step}")
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None) if env.distributed \
        else model
    ctx_maker = lambda: amp_context(device, bool(args.amp))  # noqa: E731
    scaler = ctx_maker()[2]
    t0, tokens = time.perf_counter(), 0
    while step < args.steps:
        xb = shard(batch_at(data, step, args.global_batch, args.seq, args.seed), env.rank, env.world_size)
        xb = xb.to(device)
        with ctx_maker()[0]:
            loss = ddp(xb[:, :-1], xb[:, 1:])[1]
        opt.zero_grad(set_to_none=False)
        backward_step(loss, opt, scaler)
        mean_loss = loss.detach().float()
        if env.distributed:
            dist.all_reduce(mean_loss)
            mean_loss /= env.world_size  # equal shares: the mean of the means is the global mean
        losses.append(mean_loss.item())
        step += 1
        tokens += xb.shape[0] * args.seq * env.world_size
        if step % args.log_every == 0 or step == args.steps:
            log(f"step {step}/{args.steps}: loss {losses[-1]:.4f}")
        if ckpt is not None and (step % args.save_every == 0 or step == args.steps):
            if env.rank == 0:
                save_checkpoint(ckpt, state, run_config, step=step, losses=losses)
            if env.distributed:
                dist.barrier()
        if args.stop_after is not None and step >= args.stop_after and step < args.steps:
            log(f"stopping after step {step} (--stop-after)")
            break
    seconds = time.perf_counter() - t0
    flat = _params_flat(model)
    spread = 0.0
    if env.distributed:  # the largest difference between any two replicas' weights
        hi, lo = flat.clone().to(device), flat.clone().to(device)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        spread = (hi - lo).abs().max().item()
    return {"world_size": env.world_size, "backend": dist.get_backend() if env.distributed else None,
            "device": str(device), "step": step, "losses": losses, "replica_max_diff": spread,
            "tokens_per_s": tokens / seconds if seconds > 0 else None, "seconds": seconds,
            "param_sum": float(flat.double().sum()), "param_abs_sum": float(flat.double().abs().sum())}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/train_ddp.py",
                                description="Data-parallel GPT training (torchrun + DistributedDataParallel)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--global-batch", type=int, default=8, help="rows per step over all processes")
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--embd", type=int, default=64)
    p.add_argument("--vocab", type=int, default=256, help="256 for the byte-level wiki text")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", choices=("wiki", "random"), default="wiki",
                   help="wiki: the course's Wikipedia text as bytes; random: uniform random tokens")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (fp16 + GradScaler without bf16)")
    p.add_argument("--checkpoint", default=None, help="resume from / save to this file")
    p.add_argument("--save-every", type=int, default=10)
    p.add_argument("--stop-after", type=int, default=None, help="stop after this step (an interruption)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="rendezvous timeout, seconds")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--json", default=None, help="rank 0 writes the run's figures to this file")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    for name in ("steps", "global_batch", "seq", "layers", "heads", "embd", "vocab", "save_every",
                 "log_every"):
        check.integer(getattr(args, name), "--" + name.replace("_", "-"), 1)
    check.integer(args.stop_after, "--stop-after", 1, allow_none=True)
    try:
        env = read_env()
        env, device = init(env, args.timeout)
    except (ValueError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        data = make_data(args.data, args.vocab)
        log = print if env.rank == 0 else (lambda *a, **k: None)
        log(f"{env.world_size} process(es), backend "
            f"{('nccl' if device.type == 'cuda' else 'gloo') if env.distributed else 'none'}, device {device}")
        res = train(args, env, device, data, log)
        if env.rank == 0:
            log(f"done: step {res['step']}, loss {res['losses'][-1]:.4f}, {res['tokens_per_s']:,.0f} tokens/s, "
                f"replicas differ by at most {res['replica_max_diff']:.3g}")
            if args.json:
                Path(args.json).write_text(json.dumps(res, indent=2))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0
