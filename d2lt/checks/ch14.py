"""Checks for the chapter-14 exercises (training at scale).

Every check builds its own models and batches, computes the right answer with
its own code or with PyTorch's FLOP counter, and compares; a failure says what
is wrong without printing the answer.
"""
import copy
import math

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import expect, not_none, passed
from .. import bench
from ..gpt import GPT, GPTConfig, IGNORE_INDEX


# ------------------------------------------------------------------ task 1: FLOPs per token, exactly

def counted_flops_per_token(config, T, B=2):
    """Matmul FLOPs of one forward + backward pass per token, counted by ``FlopCounterMode``."""
    torch.manual_seed(0)
    m = GPT(config)
    x = torch.randint(0, config.vocab_size, (B, T))
    with bench.explicit_attention(), FlopCounterMode(display=False) as fc:
        m(x, x)[1].backward()
    return fc.get_total_flops() // (B * T)


def task1(training_flops):
    """``training_flops(config: GPTConfig, T) -> int``: the exact matmul FLOPs per token of a training
    step (forward and backward) as torch's FLOP counter counts them, explicit attention."""
    not_none(training_flops, "task 1")
    cases = [dict(vocab_size=97, n_layer=2, n_head=2, n_embd=32, T=24),
             dict(vocab_size=211, n_layer=3, n_head=4, n_embd=48, T=40, tie_weights=False),
             dict(vocab_size=61, n_layer=1, n_head=2, n_embd=40, T=64, n_inner=72),
             dict(vocab_size=150, n_layer=2, n_head=3, n_embd=24, T=16, n_inner=40, tie_weights=False)]
    for c in cases:
        c = dict(c)
        T = c.pop("T")
        cfg = GPTConfig(block_size=T, **c)
        want = counted_flops_per_token(cfg, T)
        got = training_flops(copy.deepcopy(cfg), T)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"expected an int, got {type(got).__name__}")
        desc = ", ".join(f"{k}={v}" for k, v in c.items()) + f", T={T}"
        expect(got == want, f"config ({desc}): your count is {'above' if got > want else 'below'} the "
                            f"counted figure by {abs(got - want) / want:.1%}")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: accumulation with padding

def _full_grads(model, X, Y):
    m = copy.deepcopy(model)
    m.zero_grad(set_to_none=True)
    m(X, Y)[1].backward()
    return [p.grad.clone() for p in m.parameters()]


def task2(accumulate):
    """``accumulate(model, X (B,T), Y (B,T), k)``: leaves in ``model``'s ``.grad`` the gradient of the mean
    loss over every non-ignored target of the whole batch, computed on ``k`` micro-batches
    ``X.chunk(k)`` (one forward each); ``.grad`` may hold old gradients when it is called."""
    not_none(accumulate, "task 2")
    for trial, (B, T, k) in enumerate(((8, 12, 4), (6, 10, 3), (9, 8, 3))):
        torch.manual_seed(40 + trial)
        model = GPT(GPTConfig(vocab_size=50, block_size=T, n_layer=1, n_head=2, n_embd=16))
        g = torch.Generator().manual_seed(50 + trial)
        X = torch.randint(0, 50, (B, T), generator=g)
        Y = torch.randint(0, 50, (B, T), generator=g)
        rows = B // k
        for i in range(B):  # rows of uneven length: padding at the end, more in later micro-batches
            real = max(1, T - (i // rows) * (T // (k + 1)) - i % 2)
            Y[i, real:] = IGNORE_INDEX
        want = _full_grads(model, X, Y)
        for p in model.parameters():  # stale gradients from an earlier step
            p.grad = torch.randn_like(p)
        sizes = []
        hook = model.register_forward_pre_hook(lambda mod, args: sizes.append(args[0].shape[0]))
        try:
            accumulate(model, X.clone(), Y.clone(), k)
        finally:
            hook.remove()
        expect(len(sizes) == k and max(sizes) <= math.ceil(B / k),
               f"trial {trial + 1}: expected {k} forward calls on micro-batches of at most "
               f"{math.ceil(B / k)} rows, got calls on {sizes}")
        got = [p.grad for p in model.parameters()]
        expect(all(g_ is not None for g_ in got), "some parameters have no gradient")
        err = max((a - b).abs().max().item() for a, b in zip(got, want))
        expect(err < 1e-5, f"trial {trial + 1}: the accumulated gradient differs from the whole batch's "
                           f"(largest difference {err:.2e}); start from clean gradients and weight each "
                           "micro-batch by its share of the real (non-ignored) targets")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: data parallelism by hand

def task3(data_parallel_step):
    """``data_parallel_step(replicas: list of GPT, shards: list of (X, Y), lr)``: one SGD step
    ``p -= lr * g`` on every replica, with ``g`` the gradient averaged over the replicas (each replica's
    loss on its own shard), as DDP's all-reduce does; equal shards."""
    not_none(data_parallel_step, "task 3")
    for trial, (R, b, T) in enumerate(((2, 3, 8), (4, 2, 6), (3, 2, 10))):
        torch.manual_seed(60 + trial)
        base = GPT(GPTConfig(vocab_size=40, block_size=T, n_layer=1, n_head=2, n_embd=16))
        g = torch.Generator().manual_seed(70 + trial)
        X = torch.randint(0, 40, (R * b, T), generator=g)
        Y = torch.randint(0, 40, (R * b, T), generator=g)
        lr = 0.5
        ref = copy.deepcopy(base)
        ref(X, Y)[1].backward()
        with torch.no_grad():
            for p in ref.parameters():
                p -= lr * p.grad
        replicas = [copy.deepcopy(base) for _ in range(R)]
        shards = [(X[r * b:(r + 1) * b].clone(), Y[r * b:(r + 1) * b].clone()) for r in range(R)]
        data_parallel_step(replicas, shards, lr)
        expect(isinstance(replicas, list) and len(replicas) == R, "keep the list of replicas as it is")
        for r, m in enumerate(replicas[1:], 1):
            same = all(torch.equal(p, q) for p, q in zip(m.parameters(), replicas[0].parameters()))
            expect(same, f"trial {trial + 1}: replica {r} differs from replica 0 after the step; every "
                         "replica must apply the same averaged gradient")
        moved = max((p - q).abs().max().item() for p, q in zip(replicas[0].parameters(), base.parameters()))
        expect(moved > 0, "the replicas did not change: take the SGD step")
        err = max((p - q).abs().max().item() for p, q in zip(replicas[0].parameters(), ref.parameters()))
        expect(err < 1e-5, f"trial {trial + 1} ({R} replicas): the step differs from one model's SGD step on "
                           f"the whole global batch (largest weight difference {err:.2e})")
    return passed("task 3")
