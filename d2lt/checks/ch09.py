"""Checks for the chapter-9 exercises (T5, text to text).

Every check builds its own test material (fresh random masks, offsets and
sentences), computes the right answer with code nobody here wrote where
there is some (``transformers``, ``rouge-score``) or with the course's own,
and compares; a failure says what is wrong without printing the answer.
"""
import random

import torch

from . import expect, not_none, passed
from .. import t5 as t5lib


def _describe(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


# ------------------------------------------------------------------ task 1: span corruption, any mask

def _random_masks(rng, n):
    """Masks of length n: random ones and the corner cases (none, all but one, spans at both ends)."""
    yield [False] * n
    yield [True] + [False] * (n - 1)
    yield [False] * (n - 1) + [True]
    yield [True] * n
    yield [i % 2 == 0 for i in range(n)]
    for _ in range(20):
        p = rng.uniform(0.1, 0.7)
        yield [rng.random() < p for _ in range(n)]


def task1(corrupt):
    """``corrupt(tokens, mask, sentinel) -> (inputs, targets)``: T5's span corruption for any mask;
    ``sentinel(k)`` is the k-th sentinel."""
    not_none(corrupt, "task 1")
    rng = random.Random()
    cases = 0
    for trial in range(6):
        n = rng.randint(1, 14)
        if trial % 2:
            tokens = [rng.randint(0, 50) for _ in range(n)]
            sentinel = (lambda k, V=1000: V - 1 - k)
        else:
            tokens = [rng.choice("abcdefgh") * rng.randint(1, 3) for _ in range(n)]
            sentinel = (lambda k: f"<s{k}>")
        for mask in _random_masks(rng, n):
            want = t5lib.span_corrupt(list(tokens), list(mask), sentinel)
            got = corrupt(list(tokens), list(mask), sentinel)
            expect(isinstance(got, tuple) and len(got) == 2,
                   f"expected a pair (inputs, targets), got {type(got).__name__}")
            inputs, targets = list(got[0]), list(got[1])
            n_spans = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
            expect(sum(t == sentinel(k) for t in inputs for k in range(n_spans + 1)) == n_spans,
                   f"the inputs must hold one sentinel per span: {n_spans} span(s) in mask {mask}, "
                   f"inputs {inputs}")
            expect(bool(targets) and targets[-1] == sentinel(n_spans),
                   "the targets must end with one more sentinel, the one after the last span's "
                   f"(mask {mask}: targets {targets})")
            expect(inputs == want[0], f"inputs differ for mask {mask}: kept tokens in order, each span "
                                      f"replaced by its sentinel (got {inputs})")
            expect(targets == want[1], f"targets differ for mask {mask}: sentinel k then the tokens of "
                                       f"span k, for each span in order (got {targets})")
            cases += 1
    print(f"{cases} random masks")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: the relative position bucket

def task2(bucket):
    """``bucket(relative_position (long tensor), bidirectional, num_buckets, max_distance)`` -> the
    bucket of each offset, as in T5."""
    not_none(bucket, "task 2")
    from transformers.models.t5.modeling_t5 import T5Attention

    g = torch.Generator().manual_seed(random.randrange(1 << 30))
    configs = [(32, 128), (16, 40), (8, 20)] + [(int(torch.randint(3, 33, (1,), generator=g)) * 2,
                                                 int(torch.randint(40, 300, (1,), generator=g)))
                                                for _ in range(3)]
    for num_buckets, max_distance in configs:
        rel = torch.cat([torch.arange(-40, 41),
                         torch.randint(-3 * max_distance, 3 * max_distance, (300,), generator=g)])
        rel = rel.view(-1, 1).expand(-1, 2).clone()  # a 2-d tensor, as attention uses
        for bidirectional in (True, False):
            want = T5Attention._relative_position_bucket(rel, bidirectional, num_buckets, max_distance)
            got = bucket(rel.clone(), bidirectional, num_buckets, max_distance)
            expect(torch.is_tensor(got) and tuple(got.shape) == tuple(rel.shape),
                   f"expected a tensor of shape {tuple(rel.shape)}, got {_describe(got)}")
            wrong = got.long() != want
            kind = "bidirectional" if bidirectional else "causal"
            if bool(wrong.any()):
                r = rel[wrong]
                near = bool((r.abs() < num_buckets // 4).any())
                far = bool((r.abs() >= max_distance).any())
                where = ("small offsets (the exact buckets)" if near else
                         "offsets beyond max_distance (the last bucket)" if far else
                         "the logarithmic buckets")
                expect(False, f"{kind} buckets differ from T5's for {int(wrong.sum())} of {rel.numel()} "
                              f"offsets (num_buckets={num_buckets}, max_distance={max_distance}), "
                              f"among them {where}; the offset is key minus query, j - i")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: ROUGE-L

_WORDS = ("the model a method we propose parsing Parsing results show 3.5 BLEU x-ray of on "
          "and for data New new . , ( ) improves").split()


def task3(rouge_l):
    """``rouge_l(hypothesis, reference) -> F1`` in [0, 1]: ROUGE-L as ``rouge-score`` defines it."""
    not_none(rouge_l, "task 3")
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random()
    pairs = [("a b c d", "a c b d"), ("the cat", "dog"), ("", "the cat"), ("A B", "a b")]
    for _ in range(150):
        h = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 14)))
        r = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 14)))
        pairs.append((h, r))
        words = r.split()  # a hypothesis that keeps an ordered subset of the reference's words
        pairs.append((" ".join(w for w in words if rng.random() < 0.6) + " new", r))
    for h, r in pairs:
        want = scorer.score(r, h)["rougeL"].fmeasure
        got = rouge_l(h, r)
        expect(isinstance(got, (float, int)) or (torch.is_tensor(got) and got.numel() == 1),
               f"expected a number, got {type(got).__name__}")
        expect(abs(float(got) - want) < 1e-9,
               f"ROUGE-L differs from rouge-score's for hypothesis {h!r} and reference {r!r}: "
               "tokens are lower-cased runs of a-z0-9; the F1 of precision and recall of the longest "
               "common subsequence (not necessarily contiguous)")
    print(f"{len(pairs)} sentence pairs")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: one decoder-only example

def task4(gpt_example):
    """``gpt_example(prompt_ids, target_ids, sep) -> (idx, targets)``: the sequence
    ``prompt + [sep] + target`` shifted by one, with ``targets`` -1 wherever the next token belongs to
    the prompt or is the separator."""
    not_none(gpt_example, "task 4")
    rng = random.Random()
    for _ in range(60):
        prompt = [rng.randint(3, 99) for _ in range(rng.randint(1, 12))]
        target = [rng.randint(3, 99) for _ in range(rng.randint(1, 6))] + [1]
        sep = rng.choice([1, 2, 100])
        got = gpt_example(list(prompt), list(target), sep)
        expect(isinstance(got, tuple) and len(got) == 2,
               f"expected a pair (idx, targets), got {type(got).__name__}")
        idx, targets = (list(x.tolist()) if torch.is_tensor(x) else list(x) for x in got)
        seq = prompt + [sep] + target
        expect(len(idx) == len(seq) - 1 and len(targets) == len(idx),
               f"idx and targets must both have len(prompt) + len(target) = {len(seq) - 1} ids, got "
               f"{len(idx)} and {len(targets)}")
        expect(idx == seq[:-1], "idx must be prompt, sep, target without its last id")
        kept = [t for t in targets if t != -1]
        expect(kept == target, "the targets that are not -1 must be exactly the target ids, in order: "
                               f"the loss falls on them and on nothing else (got {kept} for {target})")
        expect(all(t == -1 for t in targets[:len(prompt)]),
               "every position whose next token is in the prompt or is sep must have target -1")
        expect(targets[len(prompt):] == target,
               "position t must predict the id at t + 1: the separator's position predicts the "
               "first target id")
        # the loss a GPT computes with them is the mean over the target tokens only
        V = 128
        logits = torch.randn(len(idx), V)
        t = torch.tensor(targets)
        loss = torch.nn.functional.cross_entropy(logits, t, ignore_index=-1)
        ref = torch.nn.functional.cross_entropy(logits[len(prompt):], torch.tensor(target))
        expect(torch.allclose(loss, ref), "the masked loss must equal the mean cross entropy of the "
                                          "target tokens")
    return passed("task 4")
