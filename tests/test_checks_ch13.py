"""The chapter-13 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import pytest
import torch

from torch.nn import functional as F

from d2lt import catalog, lm, moe
from d2lt.checks import ch13
from helpers import check_contract_tests


TASKS = [ch13.task1, ch13.task2, ch13.task3, ch13.task4, ch13.task5]
NAMES = ["above_line", "priority_keep", "sliding_window_mask", "reach", "vit_params"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("13_transformer_family", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def _ratio_rows(records, ratio, *, strict=False, keep_base=False, inverted=False):
    rows = []
    for i, r in enumerate(records):
        if (keep_base or r["base"] is None) and r["parameters"] and r["tokens"]:
            q = r["parameters"] / r["tokens"] if inverted else r["tokens"] / r["parameters"]
            if q > ratio if strict else q >= ratio:
                rows.append((q, i, r["name"]))
    return rows


def strictly_above(records, ratio=20):        # drops the model exactly on the line
    return [n for _, _, n in sorted(_ratio_rows(records, ratio, strict=True), key=lambda t: -t[0])]


def with_fine_tuned(records, ratio=20):       # keeps models further trained from a base
    return [n for _, _, n in sorted(_ratio_rows(records, ratio, keep_base=True),
                                    key=lambda t: -t[0])]


def parameters_per_token(records, ratio=20):  # the ratio upside down
    return [n for _, _, n in sorted(_ratio_rows(records, ratio, inverted=True),
                                    key=lambda t: -t[0])]


def catalog_order(records, ratio=20):         # right models, unsorted
    return [n for _, _, n in _ratio_rows(records, ratio)]


def only_the_catalog(records, ratio=20):      # the answer for the real catalog, whatever comes
    return ["RoBERTa", "BERT", "T5", "Llama 2", "Llama", "Chinchilla"]


@pytest.mark.parametrize("wrong", [strictly_above, with_fine_tuned, parameters_per_token,
                                   only_the_catalog])
def test_task1_rejects_wrong_sets(wrong):
    with pytest.raises(AssertionError, match="set of models differs"):
        ch13.task1(wrong)


def test_task1_rejects_the_wrong_order():
    with pytest.raises(AssertionError, match="order"):
        ch13.task1(catalog_order)


def test_task1_rejects_a_tuple(solution):
    with pytest.raises(AssertionError, match="list"):
        ch13.task1(lambda recs, ratio=20: tuple(solution["above_line"](recs, ratio)))


def test_task1_sees_the_catalog(solution):
    assert solution["above_line"](catalog.models()) == only_the_catalog(None)


# ------------------------------------------------------------------ task 2

def arrival_order(probs, cap):                # what the chapter's layer does
    return moe.switch_dispatch(probs, cap)[2]


def lowest_first(probs, cap):                 # priority reversed
    gate, expert = probs.max(-1)
    order = torch.sort(gate, stable=True).indices
    onehot = F.one_hot(expert[order], probs.shape[1])
    keep = torch.zeros(len(gate), dtype=torch.bool)
    keep[order] = (onehot.cumsum(0) * onehot).sum(-1) - 1 < cap
    return keep


def no_capacity(probs, cap):
    return torch.ones(probs.shape[0], dtype=torch.bool)


def global_top(probs, cap):                   # the top cap * E tokens overall, whatever the expert
    gate = probs.max(-1).values
    keep = torch.zeros(len(gate), dtype=torch.bool)
    keep[gate.argsort(descending=True)[:cap * probs.shape[1]]] = True
    return keep


def unstable_ties(probs, cap):                # ties broken by the later token
    gate, expert = probs.max(-1)
    N = len(gate)
    order = sorted(range(N), key=lambda t: (-float(gate[t]), -t))
    keep, taken = torch.zeros(N, dtype=torch.bool), {}
    for t in order:
        e = int(expert[t])
        if taken.get(e, 0) < cap:
            taken[e] = taken.get(e, 0) + 1
            keep[t] = True
    return keep


@pytest.mark.parametrize("wrong", [arrival_order, lowest_first, no_capacity, global_top,
                                   unstable_ties])
def test_task2_rejects_wrong_routing(wrong):
    with pytest.raises(AssertionError):
        ch13.task2(wrong)


def test_task2_rejects_a_float_mask(solution):
    with pytest.raises(AssertionError, match="bool"):
        ch13.task2(lambda p, c: solution["priority_keep"](p, c).float())


# ------------------------------------------------------------------ task 3

def _ij(T):
    return torch.arange(T)[:, None], torch.arange(T)[None, :]


def off_by_one(T, w):                         # reads window + 1 keys
    i, j = _ij(T)
    return (j <= i) & (i - j <= w)


def two_sided(T, w):                          # a band around the query, future included
    i, j = _ij(T)
    return (i - j).abs() < w


def as_floats(T, w):
    i, j = _ij(T)
    return ((j <= i) & (i - j < w)).float()


def looks_forward(T, w):                      # the window on the wrong side
    i, j = _ij(T)
    return (j >= i) & (j - i < w)


@pytest.mark.parametrize("wrong, message", [(off_by_one, "mask differs"), (two_sided, "after it"),
                                            (as_floats, "bool"), (looks_forward, "after it")])
def test_task3_rejects_wrong_masks(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch13.task3(wrong)


# ------------------------------------------------------------------ task 4

def one_layer(mask, n):                       # ignores the depth
    return mask | torch.eye(mask.shape[0], dtype=torch.bool)


def no_residual(mask, n):                     # composes the mask alone
    R = torch.eye(mask.shape[0])
    for _ in range(n):
        R = (mask.float() @ R > 0).float()
    return R.bool()


def wrong_order(mask, n):                     # composes columns with rows: the transpose
    T = mask.shape[0]
    step = (mask | torch.eye(T, dtype=torch.bool)).float()
    R = torch.eye(T)
    for _ in range(n):
        R = (step.T @ R > 0).float()
    return R.bool()


def everything(mask, n):
    return torch.ones_like(mask)


@pytest.mark.parametrize("wrong", [one_layer, no_residual, wrong_order, everything])
def test_task4_rejects_wrong_reach(wrong):
    with pytest.raises(AssertionError, match="reach differs"):
        ch13.task4(wrong)


def test_task4_measurement_agrees_with_the_closure(solution):
    """The check's truth is a measurement on real models; it equals the boolean closure."""
    for k, (mask, n) in enumerate(ch13.reach_cases()):
        assert torch.equal(ch13._measured_reach(mask, n, 1341 + k), solution["reach"](mask, n))
    assert torch.equal(solution["reach"](lm.prefix_mask(7, 2), 3), lm.prefix_mask(7, 2))


# ------------------------------------------------------------------ task 5

def _vit(img, p, C, D, F, L, K, *, pos_without_cls=False, no_cls=False, attn_bias=False,
         one_norm=False, conv_bias=True):
    N = (img // p) ** 2
    embed = C * p * p * D + (D if conv_bias else 0)
    tokens = (0 if no_cls else D) + (N if pos_without_cls else N + 1) * D
    block = 4 * D * D + (4 * D if attn_bias else 0) + (2 if one_norm else 4) * D + 2 * D * F + F + D
    return embed + tokens + L * block + D * K + K


@pytest.mark.parametrize("kw", [dict(pos_without_cls=True), dict(no_cls=True), dict(attn_bias=True),
                                dict(one_norm=True), dict(conv_bias=False)])
def test_task5_rejects_wrong_counts(kw):
    with pytest.raises(AssertionError, match="off by"):
        ch13.task5(lambda *a: _vit(*a, **kw))
    assert ch13.task5(lambda *a: _vit(*a))


def test_task5_rejects_floats(solution):
    with pytest.raises(AssertionError, match="an int"):
        ch13.task5(lambda *a: float(solution["vit_params"](*a)))
