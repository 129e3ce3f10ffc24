"""Scores: BLEU for one sentence (as in ``d2l``) and corpus BLEU (as in ``sacrebleu``).

Sentence BLEU, the ``d2l`` definition, with ``p_n`` the clipped n-gram precision:

    BLEU = exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)

Corpus BLEU (Papineni et al., 2002), the standard one: n-gram matches and
counts are summed over the corpus before the precisions are formed,

    BLEU = BP * exp(sum_{n=1..4} log(p_n) / 4),  BP = min(1, exp(1 - r / c)),

and reported on a 0-100 scale like ``sacrebleu``.
"""
from __future__ import annotations

import collections
import math
from collections.abc import Sequence

from . import validate as check


_SENTENCE = "a space-separated str"
_ORDER = "a positive int (the largest n-gram order)"


def bleu(pred_seq: str, label_seq: str, k: int) -> float:
    """BLEU of one prediction against one label, both space-separated strings (0-1).

    Same contract and values as ``d2l.bleu``. An empty prediction scores 0; the
    label must hold at least one token.
    """
    check.string(pred_seq, "pred_seq", what=_SENTENCE)
    check.string(label_seq, "label_seq", what=_SENTENCE)
    k = check.integer(k, "k", low=1, what=_ORDER)
    if not label_seq.split():
        raise ValueError(f"label_seq must hold at least one token, got {label_seq!r}")
    pred, label = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred), len(label)
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        label_ngrams = collections.Counter(" ".join(label[i:i + n]) for i in range(len_label - n + 1))
        matches = 0
        for i in range(len_pred - n + 1):
            gram = " ".join(pred[i:i + n])
            if label_ngrams[gram] > 0:
                matches += 1
                label_ngrams[gram] -= 1
        score *= math.pow(matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def _ngrams(tokens, n):
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _check_corpus(hypotheses, references):
    for value, name in ((hypotheses, "hypotheses"), (references, "references")):
        if isinstance(value, (str, bytes)):
            raise TypeError(f"hypotheses and references must be lists of strings, got a single "
                            f"{type(value).__name__} as {name}; wrap one sentence in a list")
        if not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list of space-separated strings, got {type(value).__name__}")
    if len(hypotheses) != len(references):
        raise ValueError(f"need one reference per hypothesis, got {len(hypotheses)} hypotheses "
                         f"and {len(references)} references")
    if not hypotheses:
        raise ValueError("hypotheses and references are empty: BLEU of an empty corpus is undefined")
    for value, name in ((hypotheses, "hypotheses"), (references, "references")):
        for i, sentence in enumerate(value):
            if not isinstance(sentence, str):
                raise TypeError(f"{name}[{i}] must be a space-separated str, got {type(sentence).__name__}")


def bleu_stats(hypotheses, references, max_n: int = 4):
    """Summed clipped matches and totals per order, hypothesis and reference lengths.

    ``hypotheses`` and ``references`` are equally long, non-empty lists of
    whitespace-tokenised strings.
    """
    max_n = check.integer(max_n, "max_n", low=1, what=_ORDER)
    _check_corpus(hypotheses, references)
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for h, r in zip(hypotheses, references):
        ht, rt = h.split(), r.split()
        hyp_len += len(ht)
        ref_len += len(rt)
        for n in range(1, max_n + 1):
            hc, rc = _ngrams(ht, n), _ngrams(rt, n)
            matches[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            totals[n - 1] += max(0, len(ht) - n + 1)
    return matches, totals, hyp_len, ref_len


def corpus_bleu(hypotheses, references, max_n: int = 4) -> float:
    """Corpus BLEU on a 0-100 scale of whitespace-tokenised strings, one reference each.

    Equals ``sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none",
    smooth_method="none", force=True).score``. Both lists are equally long and
    not empty; a corpus with no n-gram match of some order scores 0.
    """
    max_n = check.integer(max_n, "max_n", low=1, what=_ORDER)
    matches, totals, c, r = bleu_stats(hypotheses, references, max_n)
    if c == 0 or min(matches) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return 100.0 * bp * math.exp(log_p)
