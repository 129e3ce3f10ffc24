"""The chapter-7 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""

import pytest
import torch

from d2lt import bert
from d2lt.checks import ch07
from helpers import check_contract_tests, stub


TASKS = [ch07.task1, ch07.task2, ch07.task3, ch07.task4]
NAMES = ["whole_word_mask", "bert_params", "wordpiece", "offset_score"]
solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions = \
    check_contract_tests("07_bert_pretraining", TASKS, NAMES)


# ------------------------------------------------------------------ task 1

def _wwm(ids, maskable, starts, mask_id, V, g, *, pick="uniform", k_rule="round",
         p_mask=0.8, p_rand=0.1, per_piece=False, in_place=False, labels_everywhere=False,
         rand_low=0):
    inputs = ids if in_place else ids.clone()
    labels = torch.full_like(ids, bert.IGNORE_INDEX)
    for r in range(ids.shape[0]):
        words = ch07._words(maskable[r:r + 1], starts[r:r + 1])[0]
        if not words:
            continue
        n = len(words)
        if k_rule == "round":
            k = max(1, round(0.15 * n))
        elif k_rule == "bernoulli":
            chosen = [j for j in range(n) if torch.rand((), generator=g) < 0.15]
        else:  # 15% of the tokens, not of the words
            k = max(1, round(0.15 * sum(len(w) for w in words)))
        if k_rule != "bernoulli":
            k = min(k, n)
            chosen = (list(range(k)) if pick == "first" else
                      torch.randperm(n, generator=g)[:k].tolist())
        for j in chosen:
            pos = torch.tensor(words[j])
            labels[r, pos] = ids[r, pos]
            if per_piece:
                for p in pos.tolist():
                    u = torch.rand((), generator=g).item()
                    if u < p_mask:
                        inputs[r, p] = mask_id
                    elif u < p_mask + p_rand:
                        inputs[r, p] = int(torch.randint(rand_low, V, (), generator=g))
                continue
            u = torch.rand((), generator=g).item()
            if u < p_mask:
                inputs[r, pos] = mask_id
            elif u < p_mask + p_rand:
                inputs[r, pos] = torch.randint(rand_low, V, (len(pos),), generator=g)
    if labels_everywhere:
        labels = ids.clone()
    return inputs, labels


def test_task1_accepts_the_right_rule_written_differently():
    assert ch07.task1(lambda *a: _wwm(*a))


@pytest.mark.parametrize("kw, message", [
    (dict(pick="first"), "uniformly"),
    (dict(k_rule="bernoulli"), "chosen; expected"),
    (dict(k_rule="tokens"), "chosen; expected"),
    (dict(p_mask=1.0, p_rand=0.0), "share of chosen words"),
    (dict(p_mask=0.8, p_rand=0.0), "share of chosen words"),
    (dict(per_piece=True), "share of chosen words"),
    (dict(in_place=True), "in place"),
    (dict(labels_everywhere=True), "not labelled|not maskable|partly"),
    (dict(rand_low=5), "uniform over all ids"),
])
def test_task1_rejects_wrong_maskings(kw, message):
    with pytest.raises(AssertionError, match=message):
        ch07.task1(lambda *a: _wwm(*a, **kw))


def test_task1_rejects_a_masking_that_ignores_the_generator():
    def own_seed(ids, maskable, starts, mask_id, V, g):
        return _wwm(ids, maskable, starts, mask_id, V, torch.Generator().manual_seed(
            int(torch.randint(0, 10**6, ()))))
    with pytest.raises(AssertionError, match="generator"):
        ch07.task1(own_seed)


def test_task1_rejects_token_level_masking():
    def token_level(ids, maskable, starts, mask_id, V, g):
        return bert.mask_tokens(ids, maskable, mask_id=mask_id, vocab_size=V, generator=g)
    with pytest.raises(AssertionError):
        ch07.task1(token_level)


# ------------------------------------------------------------------ task 2

def _count(V, H, F, L, T, S, *, emb_norm=True, pooler=True, mlm_norm=True, tied=False,
           attn_bias=True):
    b = 1 if attn_bias else 0
    emb = (V + S + T) * H + (2 * H if emb_norm else 0)
    block = 4 * (H * H + b * H) + H * F + F + F * H + H + 4 * H
    head = (H * H + H) + (2 * H if mlm_norm else 0) + (0 if tied else H * V) + V
    return emb + L * block + ((H * H + H) if pooler else 0) + head + 2 * H + 2


def test_task2_accepts_a_formula_written_differently():
    assert ch07.task2(lambda *a: _count(*a))


@pytest.mark.parametrize("kw", [dict(emb_norm=False), dict(pooler=False), dict(mlm_norm=False),
                                dict(tied=True), dict(attn_bias=False)])
def test_task2_rejects_wrong_counts(kw):
    with pytest.raises(AssertionError, match="off by"):
        ch07.task2(lambda *a: _count(*a, **kw))


def test_task2_rejects_a_float_and_a_count_that_ignores_the_segments(solution):
    with pytest.raises(AssertionError, match="an int"):
        ch07.task2(lambda *a: float(solution["bert_params"](*a)))
    with pytest.raises(AssertionError, match="off by"):
        ch07.task2(lambda V, H, F, L, T, S: _count(V, H, F, L, T, 2))


# ------------------------------------------------------------------ task 3

def _wp(word, vocab, *, longest=True, prefix="##", partial_unk=False):
    pieces, start = [], 0
    while start < len(word):
        ends = range(len(word), start, -1) if longest else range(start + 1, len(word) + 1)
        for end in ends:
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
        else:
            if partial_unk:
                return pieces + ["<unk>"]
            return ["<unk>"]
        pieces.append(piece)
        start = end
    return pieces


def test_task3_accepts_the_rule_written_differently():
    assert ch07.task3(lambda w, v: _wp(w, v))


@pytest.mark.parametrize("kw", [dict(longest=False), dict(prefix=""), dict(partial_unk=True)])
def test_task3_rejects_wrong_splits(kw):
    with pytest.raises(AssertionError, match="split differently"):
        ch07.task3(lambda w, v: _wp(w, v, **kw))


def test_task3_rejects_a_string_for_a_list():
    with pytest.raises(AssertionError, match="list of str"):
        ch07.task3(lambda w, v: " ".join(_wp(w, v)))


# ------------------------------------------------------------------ task 4

def _os(weights, lens, offset, *, pad=False, pooled=False, sign=1, wrap=False):
    off = sign * offset
    B, H, T, _ = weights.shape
    vals, per = [], []
    for b in range(B):
        n = T if pad else int(lens[b])
        i = torch.arange(n)
        if wrap:
            k = (i + off) % n
        else:
            keep = (i + off >= 0) & (i + off < n)
            i, k = i[keep], (i + off)[keep]
        w = weights[b][:, i, k]
        vals.append(w)
        per.append(w.mean(-1))
    if pooled:
        return torch.cat(vals, -1).mean(-1)
    return torch.stack(per).mean(0)


def test_task4_accepts_a_vectorised_answer():
    def vectorised(weights, lens, offset):
        B, H, T, _ = weights.shape
        i = torch.arange(T)
        k = i + offset
        ok = (k >= 0) & (k < T)
        real = ok[None] & (i[None] < lens[:, None]) & (k[None] < lens[:, None])  # (B, T)
        w = weights[:, :, i[ok], k[ok]]                                        # (B, H, n)
        m = real[:, ok].float()[:, None]
        per = (w * m).sum(-1) / m.sum(-1).clamp(min=1)
        has = m.sum(-1)[:, 0] > 0
        return per[has].mean(0)
    assert ch07.task4(vectorised)


@pytest.mark.parametrize("kw", [dict(pad=True), dict(pooled=True), dict(sign=-1), dict(wrap=True)])
def test_task4_rejects_wrong_scores(kw):
    with pytest.raises(AssertionError, match="scores differ"):
        ch07.task4(lambda w, l, o: _os(w, l, o, **kw))
