"""The chapter-10 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""

import pytest
import torch
from torch.nn import functional as F

from d2lt.checks import ch10
from helpers import check_contract_tests, stub


TASKS = [ch10.task1, ch10.task2, ch10.task3, ch10.task4]
NAMES = ["gpt_params", "repetition_penalty", "sliding_loss", "lm_batch"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("10_gpt", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def _count(V, T, L, d, bias, tie, inner=None, *, ln_f=True, pos=True, tie_counted_twice=False,
           ln_bias=True, ffn=None):
    b = int(bias)
    f = (ffn or 4 * d) if ffn else (inner or 4 * d)
    ln = d + (b if ln_bias else 0) * d
    block = 2 * ln + (3 * d * d + b * 3 * d) + (d * d + b * d) + (d * f + b * f) + (f * d + b * d)
    total = V * d + (T * d if pos else 0) + L * block + (ln if ln_f else 0)
    return total + (V * d if (not tie or tie_counted_twice) else 0)


@pytest.mark.parametrize("kw", [dict(ln_f=False), dict(pos=False), dict(tie_counted_twice=True),
                                dict(ln_bias=False), dict(ffn=-1)])
def test_task1_rejects_wrong_counts(kw):
    if kw.get("ffn") == -1:  # ignores n_inner: always 4d
        def wrong(V, T, L, d, bias, tie, inner=None):
            return _count(V, T, L, d, bias, tie, None)
    else:
        def wrong(*a):
            return _count(*a, **kw)
    with pytest.raises(AssertionError, match="off by"):
        ch10.task1(wrong)
    assert ch10.task1(lambda *a: _count(*a))  # the same count without the mistake passes


def test_task1_rejects_floats(solution):
    with pytest.raises(AssertionError, match="an int"):
        ch10.task1(lambda *a: float(solution["gpt_params"](*a)))


# ------------------------------------------------------------------ task 2

def divide_all(logits, prev, theta):          # a negative logit divided by theta becomes *more* likely
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, prev, True)
    return torch.where(seen, logits / theta, logits)


def per_occurrence(logits, prev, theta):      # a token seen k times penalised k times
    out = logits.clone()
    for b in range(logits.shape[0]):
        for tok in prev[b].tolist():
            z = out[b, tok]
            out[b, tok] = z / theta if z > 0 else z * theta
    return out


def across_rows(logits, prev, theta):         # the tokens of every row penalised in every row
    seen = torch.zeros(logits.shape[-1], dtype=torch.bool)
    seen[prev.reshape(-1)] = True
    z = torch.where(logits > 0, logits / theta, logits * theta)
    return torch.where(seen[None], z, logits)


def in_place(logits, prev, theta, solution=None):
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, prev, True)
    z = torch.where(logits > 0, logits / theta, logits * theta)
    logits[seen] = z[seen]
    return logits


@pytest.mark.parametrize("wrong", [divide_all, per_occurrence, across_rows])
def test_task2_rejects_wrong_penalties(wrong):
    with pytest.raises(AssertionError, match="penalised logits differ"):
        ch10.task2(wrong)


def test_task2_rejects_changing_the_input():
    with pytest.raises(AssertionError, match="in place"):
        ch10.task2(in_place)


# ------------------------------------------------------------------ task 3

@torch.no_grad()
def blocks_only(model, ids, window, stride):   # ignores the stride: non-overlapping windows
    N, total, count = ids.numel(), 0.0, 0
    for b in range(0, N - 1, window):
        x, y = ids[b:min(b + window, N - 1)], ids[b + 1:min(b + window, N - 1) + 1]
        total += F.cross_entropy(model(x[None])[0][0].double(), y, reduction="sum").item()
        count += y.numel()
    return total / count


@torch.no_grad()
def every_target(model, ids, window, stride):  # scores the overlapping targets again in every window
    N, total, count, begin = ids.numel(), 0.0, 0, 0
    while True:
        end = min(begin + window, N - 1)
        x, y = ids[begin:end], ids[begin + 1:end + 1]
        total += F.cross_entropy(model(x[None])[0][0].double(), y, reduction="sum").item()
        count += y.numel()
        if end == N - 1:
            return total / count
        begin += stride


@torch.no_grad()
def mean_of_windows(model, ids, window, stride):  # each new token once, but a mean of window means
    N, means, scored, begin = ids.numel(), [], 1, 0
    while scored < N:
        end = min(begin + window, N - 1)
        logp = F.log_softmax(model(ids[begin:end][None])[0][0].double(), -1)
        k = scored - begin - 1
        y = ids[begin + 1:end + 1]
        means.append(-logp[k:].gather(-1, y[k:, None]).mean().item())
        scored, begin = end + 1, begin + stride
    return sum(means) / len(means)


@pytest.mark.parametrize("wrong", [blocks_only, every_target, mean_of_windows])
def test_task3_rejects_wrong_losses(wrong):
    with pytest.raises(AssertionError, match="loss differs"):
        ch10.task3(wrong)


def test_task3_rejects_a_tensor_of_the_wrong_kind(solution):
    with pytest.raises(AssertionError, match="a float"):
        ch10.task3(lambda *a: [solution["sliding_loss"](*a)])


def test_task3_scoring_model_is_checked():
    with pytest.raises(TypeError):
        ch10.scoring_gpt("0")


# ------------------------------------------------------------------ task 4

def _rows(pairs, eos):
    return [list(p) + list(a) + [eos] for p, a in pairs]


def prompt_in_loss(pairs, pad, eos):           # trains on the prompt too
    rows = _rows(pairs, eos)
    L = max(map(len, rows)) - 1
    idx, tgt = torch.full((len(rows), L), pad), torch.full((len(rows), L), -1)
    for b, r in enumerate(rows):
        idx[b, :len(r) - 1], tgt[b, :len(r) - 1] = torch.tensor(r[:-1]), torch.tensor(r[1:])
    return idx, tgt


def padding_as_target(pairs, pad, eos):        # padding predicted as pad_id instead of ignored
    idx, tgt = _solution_like(pairs, pad, eos)
    return idx, torch.where((idx == pad) & (tgt == -1) & (torch.arange(idx.shape[1]) > 0), pad, tgt)


def first_answer_token_dropped(pairs, pad, eos):  # keeps targets from len(p) on: misses the first answer token
    idx, tgt = _solution_like(pairs, pad, eos)
    for b, (p, _) in enumerate(pairs):
        tgt[b, len(p) - 1] = -1
    return idx, tgt


def unshifted(pairs, pad, eos):                # targets equal the inputs
    rows = _rows(pairs, eos)
    L = max(map(len, rows)) - 1
    idx, tgt = torch.full((len(rows), L), pad), torch.full((len(rows), L), -1)
    for b, ((p, _), r) in enumerate(zip(pairs, rows)):
        idx[b, :len(r) - 1] = torch.tensor(r[:-1])
        tgt[b, len(p):len(r) - 1] = torch.tensor(r[len(p):-1])
    return idx, tgt


def _solution_like(pairs, pad, eos):
    rows = _rows(pairs, eos)
    L = max(map(len, rows)) - 1
    idx, tgt = torch.full((len(rows), L), pad), torch.full((len(rows), L), -1)
    for b, ((p, _), r) in enumerate(zip(pairs, rows)):
        idx[b, :len(r) - 1] = torch.tensor(r[:-1])
        tgt[b, len(p) - 1:len(r) - 1] = torch.tensor(r[len(p):])
    return idx, tgt


@pytest.mark.parametrize("wrong", [prompt_in_loss, padding_as_target, first_answer_token_dropped, unshifted])
def test_task4_rejects_wrong_batches(wrong):
    with pytest.raises(AssertionError, match="differ"):
        ch10.task4(wrong)
    assert ch10.task4(_solution_like)


def test_task4_rejects_a_wrong_shape():
    with pytest.raises(AssertionError, match="shape"):
        ch10.task4(lambda pairs, pad, eos: tuple(t[:, :-1] for t in _solution_like(pairs, pad, eos)))
