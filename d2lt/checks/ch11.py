"""Checks for the chapter-11 exercises (in-context learning and chain of thought).

Every check builds its own test material, computes the right answer with its
own code and compares; a failure says what is wrong without printing the
answer.
"""
import math
from fractions import Fraction

import torch

from . import expect, is_int, not_none, passed
from .. import icl
from ..bench import gpt_flops_per_token
from ..gpt import GPTConfig


# ------------------------------------------------------------------ task 1: the best accuracy on permutations

def _occupancy(k, K):
    """P(d distinct inputs among k uniform draws from K), d = 0..K, exactly."""
    p = [Fraction(0)] * (K + 1)
    p[0] = Fraction(1)
    for _ in range(k):
        q = [Fraction(0)] * (K + 1)
        for d, pd in enumerate(p):
            if pd:
                q[d] += pd * Fraction(d, K)
                if d < K:
                    q[d + 1] += pd * Fraction(K - d, K)
        p = q
    return p


def _best_permutation(k, K):
    return float(sum(pd * Fraction(min(d + 1, K), K) for d, pd in enumerate(_occupancy(k, K))))


def task1(best_accuracy_permutation):
    """``best_accuracy_permutation(k, K) -> float``: the expected accuracy of the best learner on
    ``k``-shot prompts of a random *permutation* of ``K`` symbols (queries uniform), exactly."""
    not_none(best_accuracy_permutation, "task 1")
    cases = [(0, 8), (1, 8), (2, 8), (8, 8), (16, 8), (3, 2), (40, 5), (1, 3), (12, 16), (30, 6)]
    g = torch.Generator().manual_seed(1100)
    for _ in range(6):
        cases.append((int(torch.randint(0, 25, (1,), generator=g)),
                      int(torch.randint(2, 12, (1,), generator=g))))
    for k, K in cases:
        want = _best_permutation(k, K)
        got = best_accuracy_permutation(k, K)
        if torch.is_tensor(got) and got.numel() == 1:
            got = got.item()
        expect(isinstance(got, float) or is_int(got), f"expected a float, got {type(got).__name__}")
        expect(math.isfinite(got) and abs(got - want) <= 1e-9,
               f"k={k}, K={K}: the accuracy is off by {abs(got - want):.2e} (an exact value is expected, not "
               "an estimate; a query not shown can only have an output no shown input uses, and once all "
               "K inputs are shown no query is unseen)")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: a scratchpad for addition

def _addition_pad(a, b):
    da, db = str(a)[::-1], str(b)[::-1]
    carry, steps = 0, []
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        s = x + y + carry
        steps.append(f"{x}+{y}+{carry}={s}")
        carry = s // 10
    return ",".join(steps) + f">{a + b}"


def task2(addition_scratchpad):
    """``addition_scratchpad(a, b) -> str``: the column-addition steps from the units up, each
    ``x+y+c=s`` (digits, 0 where a number has no digit, the carry in, the column sum), joined by
    ``,``, then ``>`` and the sum."""
    not_none(addition_scratchpad, "task 2")
    cases = [(457, 68), (0, 0), (9, 1), (999, 1), (5, 12345), (1000, 1000), (99999, 99999), (7, 0)]
    g = torch.Generator().manual_seed(2100)
    for _ in range(40):
        digits = int(torch.randint(1, 8, (2,), generator=g)[0]), int(torch.randint(1, 8, (1,), generator=g))
        cases.append(tuple(int(torch.randint(0, 10 ** d, (1,), generator=g)) for d in digits))
    for a, b in cases:
        want = _addition_pad(a, b)
        got = addition_scratchpad(a, b)
        expect(isinstance(got, str), f"expected a str, got {type(got).__name__}")
        expect(got.rsplit(">", 1)[-1] == str(a + b), f"{a}+{b}: the text after the last '>' must be the sum")
        expect(got == want, f"{a}+{b}: the steps differ; one step per column from the units up, each "
                            "'x+y+c=s' with 0 for a missing digit and the carry of the column before")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: when fine-tuning pays off

def _break_even(config, k, steps, tokens_per_example):
    T = tokens_per_example * k + 1
    fwd = lambda t: Fraction(gpt_flops_per_token(config, t), 3)  # noqa: E731 (forward FLOPs per token)
    tune = steps * k * 3 * fwd(1)         # k one-token problems, forward and backward, every step
    per_call_icl, per_call_tuned = T * fwd(T), fwd(1)
    gain = per_call_icl - per_call_tuned
    return math.ceil(tune / gain)


def task3(break_even_calls):
    """``break_even_calls(config, k, steps, tokens_per_example=2) -> int``: the fewest calls after
    which fine-tuning (``steps`` full-batch steps on ``k`` one-token problems, then one-token calls)
    has cost no more FLOPs than answering every call with a ``k``-shot prompt."""
    not_none(break_even_calls, "task 3")
    cases = [(GPTConfig(vocab_size=36, block_size=48, n_layer=3, n_head=4, n_embd=128), 8, 20, 2),
             (GPTConfig(vocab_size=36, block_size=48, n_layer=2, n_head=2, n_embd=64), 16, 100, 2)]
    g = torch.Generator().manual_seed(3100)
    for _ in range(8):
        h = int(torch.randint(1, 9, (1,), generator=g))
        d = h * int(torch.randint(8, 64, (1,), generator=g))
        tpe = int(torch.randint(2, 6, (1,), generator=g))
        k = int(torch.randint(1, 40, (1,), generator=g))
        cfg = GPTConfig(vocab_size=int(torch.randint(30, 60_000, (1,), generator=g)),
                        block_size=tpe * k + 1 + int(torch.randint(0, 500, (1,), generator=g)),
                        n_layer=int(torch.randint(1, 48, (1,), generator=g)), n_head=h, n_embd=d,
                        tie_weights=bool(torch.randint(0, 2, (1,), generator=g)))
        cases.append((cfg, k, int(torch.randint(1, 3000, (1,), generator=g)), tpe))
    for cfg, k, steps, tpe in cases:
        want = _break_even(cfg, k, steps, tpe)
        got = break_even_calls(cfg, k, steps, tpe)
        expect(is_int(got), f"expected an int (a number of calls), got {type(got).__name__}")
        expect(got == want, f"config ({cfg.n_layer} blocks, width {cfg.n_embd}), k={k}, steps={steps}, "
                            f"{tpe} tokens per example: the number of calls is off by {abs(got - want)}; "
                            "count forward FLOPs as a third of bench.gpt_flops_per_token, the attention "
                            "term at each sequence's own length, and the fine-tuned model's calls too")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: the order of the examples

def task4(reversed_prompts):
    """``reversed_prompts(prompts (n, 2k+1)) -> (n, 2k+1)``: the same examples in the opposite order,
    each example kept whole, the query still last; the input left unchanged."""
    not_none(reversed_prompts, "task 4")
    for trial, (k, n) in enumerate(((4, 6), (1, 3), (0, 2), (9, 5))):
        prompts, _, _ = icl.shot_prompts(k, n, torch.Generator().manual_seed(4100 + trial))
        before = prompts.clone()
        got = reversed_prompts(prompts)
        expect(torch.is_tensor(got) and tuple(got.shape) == tuple(prompts.shape),
               f"expected a tensor of shape {tuple(prompts.shape)}, got "
               f"{tuple(got.shape) if torch.is_tensor(got) else type(got).__name__}")
        expect(torch.equal(prompts, before),
               "reversed_prompts changed its input in place; return a new tensor")
        want = torch.cat([prompts[:, :-1].reshape(n, k, 2).flip(1).reshape(n, 2 * k), prompts[:, -1:]], 1)
        expect(torch.equal(got.long(), want), f"trial {trial + 1} (k={k}): the prompts differ; reverse the "
                                              "order of the examples, keeping each input next to its output "
                                              "and the query at the end")
    return passed("task 4")
