"""The chapter-14 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""

import pytest
import torch

from d2lt.checks import ch14
from d2lt.gpt import IGNORE_INDEX
from helpers import check_contract_tests, stub


TASKS = [ch14.task1, ch14.task2, ch14.task3]
NAMES = ["training_flops", "accumulate", "data_parallel_step"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("14_training_at_scale", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def six_n_all_parameters(cfg, T):          # the chapter's estimate with every parameter
    return 6 * cfg.parameter_count() + 12 * cfg.n_layer * T * cfg.n_embd


def six_n_estimate(cfg, T):                # the chapter's 6N + 12LTd, N without the position table
    from d2lt import bench
    return bench.gpt_flops_per_token(cfg, T)


def causal_half(cfg, T):                   # halves attention for the mask: the counter does not
    C, F_, L, V = cfg.n_embd, cfg.ffn_width, cfg.n_layer, cfg.vocab_size
    return 6 * (L * (4 * C * C + 2 * C * F_) + V * C) + 6 * L * T * C


def forward_only(cfg, T):
    C, F_, L, V = cfg.n_embd, cfg.ffn_width, cfg.n_layer, cfg.vocab_size
    return 2 * (L * (4 * C * C + 2 * C * F_) + V * C) + 4 * L * T * C


def untied_counts_embedding(cfg, T):       # counts the input lookup as a product when untied
    C, F_, L, V = cfg.n_embd, cfg.ffn_width, cfg.n_layer, cfg.vocab_size
    heads = 1 if cfg.tie_weights else 2
    return 6 * (L * (4 * C * C + 2 * C * F_) + heads * V * C) + 12 * L * T * C


def four_c_mlp(cfg, T):                    # ignores n_inner
    C, L, V = cfg.n_embd, cfg.n_layer, cfg.vocab_size
    return 6 * (L * 12 * C * C + V * C) + 12 * L * T * C


@pytest.mark.parametrize("wrong", [six_n_all_parameters, six_n_estimate, causal_half, forward_only,
                                   untied_counts_embedding, four_c_mlp])
def test_task1_rejects_wrong_counts(wrong):
    with pytest.raises(AssertionError, match="counted figure"):
        ch14.task1(wrong)


def test_task1_rejects_a_float():
    with pytest.raises(AssertionError, match="int"):
        ch14.task1(lambda cfg, T: float(causal_half(cfg, T)))


# ------------------------------------------------------------------ task 2

def divide_by_k(model, X, Y, k):           # the chapter's rule: wrong with uneven padding
    model.zero_grad(set_to_none=True)
    for xb, yb in zip(X.chunk(k), Y.chunk(k)):
        (model(xb, yb)[1] / k).backward()


def keeps_stale_grads(model, X, Y, k):     # the right weights, but adds to the old .grad
    total = (Y != IGNORE_INDEX).sum()
    for xb, yb in zip(X.chunk(k), Y.chunk(k)):
        (model(xb, yb)[1] * (yb != IGNORE_INDEX).sum() / total).backward()


def whole_batch(model, X, Y, k):           # right gradient, but no accumulation
    model.zero_grad(set_to_none=True)
    model(X, Y)[1].backward()


def sum_of_means(model, X, Y, k):
    model.zero_grad(set_to_none=True)
    for xb, yb in zip(X.chunk(k), Y.chunk(k)):
        model(xb, yb)[1].backward()


@pytest.mark.parametrize("wrong", [divide_by_k, keeps_stale_grads, sum_of_means])
def test_task2_rejects_wrong_weights(wrong):
    with pytest.raises(AssertionError, match="differs from the whole batch"):
        ch14.task2(wrong)


def test_task2_rejects_no_accumulation():
    with pytest.raises(AssertionError, match="forward calls"):
        ch14.task2(whole_batch)


# ------------------------------------------------------------------ task 3

def own_gradient(replicas, shards, lr):    # no all-reduce: the replicas drift apart
    for m, (X, Y) in zip(replicas, shards):
        m.zero_grad()
        m(X, Y)[1].backward()
        with torch.no_grad():
            for p in m.parameters():
                p -= lr * p.grad


def summed(replicas, shards, lr):          # all-reduce with SUM, not the mean
    for m, (X, Y) in zip(replicas, shards):
        m.zero_grad()
        m(X, Y)[1].backward()
    with torch.no_grad():
        for group in zip(*[list(m.parameters()) for m in replicas]):
            g = torch.stack([p.grad for p in group]).sum(0)
            for p in group:
                p -= lr * g


def first_shard_only(replicas, shards, lr):  # every replica steps with replica 0's gradient
    m0 = replicas[0]
    m0.zero_grad()
    m0(*shards[0])[1].backward()
    with torch.no_grad():
        grads = [p.grad.clone() for p in m0.parameters()]
        for m in replicas:
            for p, g in zip(m.parameters(), grads):
                p -= lr * g


def nothing(replicas, shards, lr):
    for m, (X, Y) in zip(replicas, shards):
        m(X, Y)[1].backward()


@pytest.mark.parametrize("wrong, match", [(own_gradient, "differs from replica 0"),
                                          (summed, "differs from one model"),
                                          (first_shard_only, "differs from one model"),
                                          (nothing, "did not change")])
def test_task3_rejects_wrong_steps(wrong, match):
    with pytest.raises(AssertionError, match=match):
        ch14.task3(wrong)
