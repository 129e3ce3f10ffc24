"""The chapter-8 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import math

import pytest
import torch
from torch.nn import functional as F

from d2lt.checks import ch08
from helpers import check_contract_tests, stub

pytest.importorskip("transformers")


TASKS = [ch08.task1, ch08.task2, ch08.task3, ch08.task4]
NAMES = ["cosine_warmup", "layerwise_groups", "distill_loss", "prototype_predict"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("08_bert_finetuning", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def linear_decay(step, total, warm):  # the chapter's schedule
    if step < warm:
        return step / max(1, warm)
    return max(0.0, (total - step) / max(1, total - warm))


def cosine_over_all_steps(step, total, warm):  # the cosine runs from step 0, not after warm-up
    if step < warm:
        return step / max(1, warm)
    return 0.5 * (1 + math.cos(math.pi * step / total))


def warmup_off_by_one(step, total, warm):
    if step < warm:
        return (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    return 0.5 * (1 + math.cos(math.pi * p))


def full_cosine(step, total, warm):  # a whole period: back up to 1 at the end
    if step < warm:
        return step / max(1, warm)
    p = (step - warm) / max(1, total - warm)
    return 0.5 * (1 + math.cos(2 * math.pi * p))


@pytest.mark.parametrize("wrong", [linear_decay, cosine_over_all_steps, warmup_off_by_one,
                                   full_cosine])
def test_task1_rejects_wrong_schedules(wrong):
    with pytest.raises(AssertionError, match="multiplier at step"):
        ch08.task1(wrong)


def test_task1_rejects_non_numbers(solution):
    with pytest.raises(AssertionError, match="a number"):
        ch08.task1(lambda *a: str(solution["cosine_warmup"](*a)))


# ------------------------------------------------------------------ task 2

def modules_only(model, base_lr, decay):  # walks Linear/Embedding modules: misses norms, positions
    enc, L = model.encoder, len(model.encoder.blks)
    groups = [{"params": [enc.token_embedding.weight, enc.segment_embedding.weight],
               "lr": base_lr * decay ** (L + 1)}]
    for i, blk in enumerate(enc.blks):
        ps = [p for m in blk.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()]
        groups.append({"params": ps, "lr": base_lr * decay ** (L - i)})
    mine = {id(p) for p in enc.parameters()}
    groups.append({"params": [p for p in model.parameters() if id(p) not in mine], "lr": base_lr})
    return groups


def reversed_depth(model, base_lr, decay):  # the bottom block gets the largest rate
    enc, L = model.encoder, len(model.encoder.blks)
    in_blocks = {id(p) for p in enc.blks.parameters()}
    groups = [{"params": [p for p in enc.parameters() if id(p) not in in_blocks],
               "lr": base_lr * decay ** (L + 1)}]
    for i, blk in enumerate(enc.blks):
        groups.append({"params": list(blk.parameters()), "lr": base_lr * decay ** (i + 1)})
    mine = {id(p) for p in enc.parameters()}
    groups.append({"params": [p for p in model.parameters() if id(p) not in mine], "lr": base_lr})
    return groups


def embeddings_like_block0(model, base_lr, decay):
    enc, L = model.encoder, len(model.encoder.blks)
    in_blocks = {id(p) for p in enc.blks.parameters()}
    groups = [{"params": [p for p in enc.parameters() if id(p) not in in_blocks],
               "lr": base_lr * decay ** L}]
    for i, blk in enumerate(enc.blks):
        groups.append({"params": list(blk.parameters()), "lr": base_lr * decay ** (L - i)})
    mine = {id(p) for p in enc.parameters()}
    groups.append({"params": [p for p in model.parameters() if id(p) not in mine], "lr": base_lr})
    return groups


def head_twice(model, base_lr, decay):  # the whole model at base_lr, then the encoder again
    enc, L = model.encoder, len(model.encoder.blks)
    groups = [{"params": list(model.parameters()), "lr": base_lr}]
    for i, blk in enumerate(enc.blks):
        groups.append({"params": list(blk.parameters()), "lr": base_lr * decay ** (L - i)})
    return groups


@pytest.mark.parametrize("wrong, match", [(modules_only, "in no group"),
                                          (reversed_depth, "wrong learning rate"),
                                          (embeddings_like_block0, "wrong learning rate"),
                                          (head_twice, "more than one group")])
def test_task2_rejects_wrong_groups(wrong, match):
    with pytest.raises(AssertionError, match=match):
        ch08.task2(wrong)


def test_task2_rejects_a_dict():
    with pytest.raises(AssertionError, match="list of dicts"):
        ch08.task2(lambda model, lr, d: {"params": list(model.parameters()), "lr": lr})


# ------------------------------------------------------------------ task 3

def _kl(p_log, q_log):
    return (p_log.exp() * (p_log - q_log)).sum(-1).mean()


def no_t_squared(s, t, y, T, a):
    return a * _kl(F.log_softmax(t / T, -1), F.log_softmax(s / T, -1)) + (1 - a) * F.cross_entropy(s, y)


def reversed_kl(s, t, y, T, a):
    return (a * T * T * _kl(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1))
            + (1 - a) * F.cross_entropy(s, y))


def hard_teacher(s, t, y, T, a):  # the teacher not softened
    return (a * T * T * _kl(F.log_softmax(t, -1), F.log_softmax(s / T, -1))
            + (1 - a) * F.cross_entropy(s, y))


def ce_at_temperature(s, t, y, T, a):  # hard labels scored at temperature T too
    return (a * T * T * _kl(F.log_softmax(t / T, -1), F.log_softmax(s / T, -1))
            + (1 - a) * F.cross_entropy(s / T, y))


def batch_summed(s, t, y, T, a):  # F.kl_div's default reduction: mean over every element
    kl = F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True,
                  reduction="none").mean()
    return a * T * T * kl + (1 - a) * F.cross_entropy(s, y)


@pytest.mark.parametrize("wrong", [no_t_squared, reversed_kl, hard_teacher, ce_at_temperature,
                                   batch_summed])
def test_task3_rejects_wrong_losses(wrong):
    with pytest.raises(AssertionError, match="loss differs"):
        ch08.task3(wrong)


def test_task3_rejects_a_detached_loss(solution):
    def detached(*a):
        return solution["distill_loss"](*a).detach()

    with pytest.raises(AssertionError, match="differentiable"):
        ch08.task3(detached)


# ------------------------------------------------------------------ task 4

def euclidean(train_X, train_y, test_X):
    C = int(train_y.max()) + 1
    means = torch.stack([train_X[train_y == c].mean(0) for c in range(C)])
    return torch.cdist(test_X, means).argmin(1)


def raw_means(train_X, train_y, test_X):  # averages before normalising
    C = int(train_y.max()) + 1
    means = torch.stack([train_X[train_y == c].mean(0) for c in range(C)])
    return (F.normalize(test_X, dim=1) @ F.normalize(means, dim=1).T).argmax(1)


def unnormalised_means(train_X, train_y, test_X):  # dot product with the means as they are
    Z = F.normalize(train_X, dim=1)
    C = int(train_y.max()) + 1
    means = torch.stack([Z[train_y == c].mean(0) for c in range(C)])
    return (test_X @ means.T).argmax(1)


def nearest_neighbour(train_X, train_y, test_X):
    sims = F.normalize(test_X, dim=1) @ F.normalize(train_X, dim=1).T
    return train_y[sims.argmax(1)]


@pytest.mark.parametrize("wrong", [euclidean, raw_means, unnormalised_means, nearest_neighbour])
def test_task4_rejects_wrong_classifiers(wrong):
    with pytest.raises(AssertionError, match="get another class"):
        ch08.task4(wrong)


def test_task4_rejects_float_ids(solution):
    with pytest.raises(AssertionError, match="integer class ids"):
        ch08.task4(lambda *a: solution["prototype_predict"](*a).float())
