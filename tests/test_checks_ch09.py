"""The chapter-9 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import re

import pytest
import torch

from d2lt.checks import ch09
from helpers import check_contract_tests, stub


TASKS = [ch09.task1, ch09.task2, ch09.task3, ch09.task4]
NAMES = ["corrupt", "bucket", "rouge_l", "gpt_example"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("09_t5", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def no_closing_sentinel(tokens, mask, sentinel):
    inputs, targets, k = [], [], 0
    for i, (t, m) in enumerate(zip(tokens, mask)):
        if m:
            if i == 0 or not mask[i - 1]:
                inputs.append(sentinel(k))
                targets.append(sentinel(k))
                k += 1
            targets.append(t)
        else:
            inputs.append(t)
    return inputs, targets


def sentinel_per_token(tokens, mask, sentinel):  # BERT-like: every dropped token its own sentinel
    inputs, targets, k = [], [], 0
    for t, m in zip(tokens, mask):
        if m:
            inputs.append(sentinel(k))
            targets += [sentinel(k), t]
            k += 1
        else:
            inputs.append(t)
    return inputs, targets + [sentinel(k)]


def one_sentinel_for_all(tokens, mask, sentinel):
    inputs, targets = [], []
    for i, (t, m) in enumerate(zip(tokens, mask)):
        if m:
            if i == 0 or not mask[i - 1]:
                inputs.append(sentinel(0))
                targets.append(sentinel(0))
            targets.append(t)
        else:
            inputs.append(t)
    return inputs, targets + [sentinel(1)]


def first_span_missed(tokens, mask, sentinel):  # a span at position 0 is not recognised as a start
    inputs, targets, k = [], [], 0
    for i, (t, m) in enumerate(zip(tokens, mask)):
        if m:
            if i > 0 and not mask[i - 1]:
                inputs.append(sentinel(k))
                targets.append(sentinel(k))
                k += 1
            targets.append(t)
        else:
            inputs.append(t)
    return inputs, targets + [sentinel(k)]


@pytest.mark.parametrize("wrong", [no_closing_sentinel, sentinel_per_token, one_sentinel_for_all,
                                   first_span_missed])
def test_task1_rejects_wrong_corruptions(wrong):
    with pytest.raises(AssertionError):
        ch09.task1(wrong)


def test_task1_rejects_a_copy_of_one_example():
    def memorised(tokens, mask, sentinel):
        return ["I", sentinel(0), "this", sentinel(1)], [sentinel(0), "love", sentinel(1), "red", "car",
                                                          sentinel(2)]
    with pytest.raises(AssertionError):
        ch09.task1(memorised)


# ------------------------------------------------------------------ task 2

def _bucket(rel, bidirectional, num_buckets, max_distance, *, flip=False, clip=True, causal_abs=False,
            rounding=False):
    import math
    n = -rel.long() if flip else rel.long()
    out = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        out += (n > 0).long() * num_buckets
        n = n.abs()
    else:
        n = n.abs() if causal_abs else -torch.clamp(n, max=0)
    exact = num_buckets // 2
    val = torch.log(n.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)
    large = exact + (val.round().long() if rounding else val.long())
    if clip:
        large = torch.clamp(large, max=num_buckets - 1)
    return out + torch.where(n < exact, n, large)


@pytest.mark.parametrize("options", [dict(flip=True), dict(clip=False), dict(causal_abs=True),
                                     dict(rounding=True)])
def test_task2_rejects_wrong_buckets(options):
    with pytest.raises(AssertionError):
        ch09.task2(lambda r, b, nb, md: _bucket(r, b, nb, md, **options))


def test_task2_rejects_exact_offsets_without_buckets():
    with pytest.raises(AssertionError):
        ch09.task2(lambda r, b, nb, md: r.clamp(-nb // 2, nb // 2 - 1) + nb // 2)


# ------------------------------------------------------------------ task 3

def _tok(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def _f1(overlap, nh, nr):
    if not overlap:
        return 0.0
    p, r = overlap / nh, overlap / nr
    return 2 * p * r / (p + r)


def rouge1_instead(h, r):
    from collections import Counter
    a, b = _tok(h), _tok(r)
    return _f1(sum((Counter(a) & Counter(b)).values()), len(a), len(b))


def _lcs(a, b):
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            t[i][j] = t[i - 1][j - 1] + 1 if x == y else max(t[i - 1][j], t[i][j - 1])
    return t[-1][-1]


def recall_only(h, r):
    a, b = _tok(h), _tok(r)
    return _lcs(a, b) / len(b) if a and b else 0.0


def longest_substring(h, r):  # contiguous, not a subsequence
    a, b = _tok(h), _tok(r)
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return _f1(best, len(a), len(b))


def whitespace_tokens(h, r):  # no lower-casing, punctuation kept
    a, b = h.split(), r.split()
    return _f1(_lcs(a, b), len(a), len(b)) if a and b else 0.0


@pytest.mark.parametrize("wrong", [rouge1_instead, recall_only, longest_substring, whitespace_tokens])
def test_task3_rejects_wrong_rouge(wrong):
    with pytest.raises(AssertionError):
        ch09.task3(wrong)


# ------------------------------------------------------------------ task 4

def unshifted(prompt, target, sep):
    seq = prompt + [sep] + target
    return seq[:-1], [-1] * len(prompt) + seq[len(prompt):-1]


def no_loss_mask(prompt, target, sep):
    seq = prompt + [sep] + target
    return seq[:-1], seq[1:]


def mask_off_by_one(prompt, target, sep):  # the separator's position is masked too
    seq = prompt + [sep] + target
    nxt = seq[1:]
    return seq[:-1], [-1] * (len(prompt) + 1) + nxt[len(prompt) + 1:]


def no_separator(prompt, target, sep):
    seq = prompt + target
    nxt = seq[1:]
    return seq[:-1], [-1] * (len(prompt) - 1) + nxt[len(prompt) - 1:]


@pytest.mark.parametrize("wrong", [unshifted, no_loss_mask, mask_off_by_one, no_separator])
def test_task4_rejects_wrong_examples(wrong):
    with pytest.raises(AssertionError):
        ch09.task4(wrong)


def test_task4_accepts_the_course_function():
    from d2lt import text2text as tt

    def course(prompt, target, sep):
        return tt.decoder_only_example(prompt, target, 10_000, sep=sep)
    assert ch09.task4(course)
