"""Checks for the chapter-7 exercises (pretraining BERT).

Every check builds its own test material, computes the right answer with its
own code (or with the ``tokenizers`` library's) and compares; a failure says
what is wrong without printing the answer.
"""
import math
import random

import torch

from . import expect, not_none, passed
from .. import bert

IGNORE = bert.IGNORE_INDEX


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


# ------------------------------------------------------------------ task 1: whole-word masking

def _words(maskable, starts):
    """Per row, the list of words: each a list of positions (a start and its continuations)."""
    out = []
    for m_row, s_row in zip(maskable.tolist(), starts.tolist()):
        words, cur = [], None
        for j, (m, s) in enumerate(zip(m_row, s_row)):
            if m and s:
                cur = [j]
                words.append(cur)
            elif m and cur is not None:
                cur.append(j)
            else:
                cur = None
        out.append(words)
    return out


def _word_batch(g, B, T, V, mask_id):
    ids = torch.randint(5, V, (B, T), generator=g)
    lens = torch.randint(T // 2, T + 1, (B,), generator=g)
    maskable = torch.arange(T)[None] < lens[:, None]
    maskable[:, 0] = False                              # <cls>
    maskable[torch.arange(B), lens - 1] = False         # <sep>
    starts = (torch.rand(B, T, generator=g) < 0.6) & maskable
    starts[:, 1] = True                                 # the first piece begins a word
    starts &= maskable
    ids[~maskable] = torch.tensor([2, 3, 0])[torch.randint(0, 3, (int((~maskable).sum()),),
                                                           generator=g)]
    return ids, maskable, starts


def task1(whole_word_mask):
    """``whole_word_mask(ids, maskable, starts, mask_id, vocab_size, generator) -> (inputs, labels)``:
    15% of each row's words (``round``, at least one) chosen uniformly; a chosen word's
    pieces all become ``mask_id`` (80%), all random ids (10%) or all stay (10%)."""
    not_none(whole_word_mask, "task 1")
    V, mask_id = 97, 4
    totals = {"mask": 0, "keep": 0, "random": 0}
    chosen_half, offered_half = [0, 0], [0, 0]  # words in the first / second half of a row
    rand_vals = []
    for trial in range(60):
        g = torch.Generator().manual_seed(700 + trial)
        B, T = (6, 40) if trial % 2 == 0 else (3, 25)
        ids, maskable, starts = _word_batch(g, B, T, V, mask_id)
        before = ids.clone()
        mine = torch.Generator().manual_seed(9000 + trial)
        got = whole_word_mask(ids, maskable, starts, mask_id, V, mine)
        expect(isinstance(got, tuple) and len(got) == 2,
               f"expected a pair (inputs, labels), got {type(got).__name__}")
        inputs, labels = got
        expect(torch.is_tensor(inputs) and torch.is_tensor(labels)
               and inputs.shape == ids.shape == labels.shape,
               f"expected two tensors of shape {tuple(ids.shape)}, got {_shape(inputs)} and "
               f"{_shape(labels)}")
        expect(not inputs.is_floating_point() and not labels.is_floating_point(),
               "inputs and labels must hold integer ids")
        expect(torch.equal(ids, before), "ids was modified in place: work on a copy")
        if trial < 3:  # reproducible: the same generator state gives the same masking
            again = whole_word_mask(ids, maskable, starts, mask_id, V,
                                    torch.Generator().manual_seed(9000 + trial))
            expect(all(torch.equal(a, b) for a, b in zip(got, again)),
                   "the same generator seed gave a different masking: draw every random "
                   "number from `generator`")
        expect(bool(((inputs >= 0) & (inputs < V)).all()), f"inputs must hold ids in [0, {V})")
        for r, words in enumerate(_words(maskable, starts)):
            picked = labels[r] != IGNORE
            expect(bool((labels[r][picked] == ids[r][picked]).all()),
                   "labels must hold the original id at the masked positions")
            expect(bool((inputs[r][~picked] == ids[r][~picked]).all()),
                   "a position that is not labelled must keep its id")
            expect(not bool((picked & ~maskable[r]).any()),
                   "a position that is not maskable was chosen")
            k = max(1, round(0.15 * len(words)))
            chosen = [w for w in words if bool(picked[w].any())]
            expect(all(bool(picked[w].all()) for w in chosen),
                   "a word was only partly chosen: every piece of a chosen word is predicted")
            expect(len(chosen) == k,
                   f"a row with {len(words)} words had {len(chosen)} chosen; expected "
                   "round(0.15 x words), at least one")
            for j, w in enumerate(words):
                half = int(2 * j >= len(words))
                offered_half[half] += 1
                chosen_half[half] += w in chosen
            for w in chosen:
                got_w, orig = inputs[r][w], ids[r][w]
                if bool((got_w == mask_id).all()):
                    totals["mask"] += 1
                elif bool((got_w == orig).all()):
                    totals["keep"] += 1
                else:  # random ids (one may equal the original or <mask> by chance)
                    totals["random"] += 1
                    rand_vals += got_w.tolist()
    n = sum(totals.values())
    for kind, p in (("mask", 0.8), ("keep", 0.1), ("random", 0.1)):
        sd = math.sqrt(p * (1 - p) / n)
        expect(abs(totals[kind] / n - p) < 5 * sd + 0.002,
               f"the share of chosen words that are '{kind}' is {totals[kind] / n:.3f} over "
               f"{n} words; expected {p}")
    rate = [c / o for c, o in zip(chosen_half, offered_half)]
    expect(abs(rate[0] - rate[1]) < 0.05,
           "words at some positions are chosen much more often than at others: choose the "
           "words uniformly at random")
    vals = torch.tensor(rand_vals, dtype=torch.float)
    expect(vals.numel() > 50 and abs(vals.mean().item() - (V - 1) / 2) < 8
           and bool((vals < 5).any()) and bool((vals >= V - 5).any()),
           f"random replacements must be uniform over all ids [0, {V})")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: BERT's size by formula

def task2(bert_params):
    """``bert_params(vocab_size, num_hiddens, ffn_num_hiddens, num_blks, max_len, num_segments)
    -> int``: the parameter count of ``bert.BERTModel`` (with its pooler, MLM and NSP heads)."""
    not_none(bert_params, "task 2")
    cases = [(50, 16, 40, 2, 30, 2), (123, 24, 24, 1, 7, 3), (77, 32, 100, 3, 64, 1),
             (30522 // 7, 48, 192, 5, 512, 2)]
    for V, H, F, L, T, S in cases:
        heads = 4 if H % 4 == 0 else 1
        with torch.device("meta"):
            m = bert.BERTModel(V, H, F, heads, L, 0.0, max_len=T, num_segments=S)
        want = sum(p.numel() for p in m.parameters())
        got = bert_params(V, H, F, L, T, S)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"expected an int, got {type(got).__name__}")
        expect(got == want, f"config (vocab={V}, hidden={H}, ffn={F}, blocks={L}, max_len={T}, "
                            f"segments={S}): the count is off by {abs(got - want)} parameters")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: WordPiece by hand

def _vocab_and_words(seed):
    rng = random.Random(seed)
    letters = "abcdefghijklmnop"
    stems = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 5))) for _ in range(40)]
    vocab = {"<unk>": 0}
    for c in letters[:-2]:            # 'o' and 'p' never appear alone
        vocab.setdefault(c, len(vocab))
        vocab.setdefault("##" + c, len(vocab))
    for s in stems:
        vocab.setdefault(s, len(vocab))
        vocab.setdefault("##" + s[1:], len(vocab))
        vocab.setdefault("##" + s[:2], len(vocab))
    words = ["".join(rng.choice(stems) for _ in range(rng.randint(1, 3))) for _ in range(300)]
    words += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(300)]
    return vocab, words


def task3(wordpiece):
    """``wordpiece(word, vocab) -> list of pieces``: greedy longest-match-first WordPiece, with
    ``##`` on pieces inside a word and ``["<unk>"]`` for a word that cannot be split."""
    from tokenizers import models

    not_none(wordpiece, "task 3")
    for trial in range(3):
        vocab, words = _vocab_and_words(70 + trial)
        ref = models.WordPiece(vocab, unk_token="<unk>", max_input_chars_per_word=100)
        wrong = 0
        for w in words:
            want = [t.value for t in ref.tokenize(w)]
            got = wordpiece(w, dict(vocab))
            expect(isinstance(got, list) and all(isinstance(p, str) for p in got),
                   f"expected a list of str, got {type(got).__name__}")
            wrong += got != want
        expect(wrong == 0, f"vocabulary {trial + 1}: {wrong} of {len(words)} words are split "
                           "differently from WordPiece (longest piece first, '##' inside a "
                           "word, the whole word <unk> when a rest cannot be matched)")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: an offset score per head

def _offset_reference(weights, valid_lens, offset):
    B, H = weights.shape[:2]
    total, n = torch.zeros(H), 0
    for b in range(B):
        L = int(valid_lens[b])
        q = torch.arange(L)
        q = q[(q + offset >= 0) & (q + offset < L)]
        if len(q) == 0:
            continue
        total += weights[b][:, q, q + offset].mean(-1)
        n += 1
    return total / n


def _attention(g, B, H, T, lens, planted):
    scores = torch.randn(B, H, T, T, generator=g) * 2
    for h, off in planted.items():
        idx = torch.arange(T)
        k = (idx + off).clamp(0, T - 1)
        scores[:, h, idx, k] += 6.0
    pad = torch.arange(T)[None, None, None, :] >= lens[:, None, None, None]
    w = scores.masked_fill(pad, -1e9).softmax(-1)
    return w * (torch.arange(T)[None, None, :, None] < lens[:, None, None, None])


def task4(offset_score):
    """``offset_score(weights (B,H,T,T), valid_lens (B,), offset) -> (H,)``: per head, the mean
    weight a query at ``i`` puts on key ``i + offset`` over the real positions where both
    exist, averaged within each sentence, then over sentences."""
    not_none(offset_score, "task 4")
    for trial, (B, H, T, offset) in enumerate(((4, 3, 9, -1), (5, 4, 12, 1), (3, 2, 15, -3),
                                                (6, 5, 10, 2))):
        g = torch.Generator().manual_seed(400 + trial)
        lens = torch.randint(3, T + 1, (B,), generator=g)
        lens[0] = T
        w = _attention(g, B, H, T, lens, {0: offset, H - 1: -offset})
        want = _offset_reference(w, lens, offset)
        got = offset_score(w.clone(), lens.clone(), offset)
        expect(torch.is_tensor(got) and tuple(got.shape) == (H,),
               f"expected a tensor of shape {(H,)}, got {_shape(got)}")
        expect(torch.allclose(got.float(), want, atol=1e-5),
               f"trial {trial + 1} (offset {offset}): the scores differ; use key i + offset "
               "for query i, only where both are real tokens (not padding, not past either "
               "end), average within each sentence, then over sentences")
    return passed("task 4")
