"""The chapter-1 exercise checks reject the stub and plausible wrong answers, and accept the solutions."""
import collections
import math
import re

import pytest
import torch
from torch.nn import functional as F

from d2lt.checks import ch01
from helpers import solution_namespace, stub


@pytest.fixture(scope="module")
def solution():
    """The functions defined in solutions/01_seq2seq_rnn.md."""
    return solution_namespace("01_seq2seq_rnn")


@pytest.mark.parametrize("task", [ch01.task1, ch01.task2, ch01.task3])
def test_checks_reject_the_stub_and_none(task):
    with pytest.raises(NotImplementedError):
        task(stub)
    with pytest.raises(AssertionError, match="got None"):
        task(None)


# ------------------------------------------------------------------ task 1

def test_task1_accepts_the_solution(solution):
    assert ch01.task1(solution["accuracy"])


def _tf(model, batch):
    src, src_len, dec_in, tgt = batch
    return model(src, dec_in, src_len).argmax(-1), tgt


def with_padding(model, batch, pad):
    """Counts padding positions as tokens."""
    pred, tgt = _tf(model, batch)
    right = pred == tgt
    return {"token": right.float().mean().item(), "sentence": right.all(1).float().mean().item()}


def without_eos(model, batch, pad):
    """Leaves <eos> out (the last real token of each target)."""
    pred, tgt = _tf(model, batch)
    real = tgt != pad
    last = real.sum(1) - 1
    real[torch.arange(len(tgt)), last] = False
    right = (pred == tgt) & real
    return {"token": right.sum().item() / max(1, real.sum().item()),
            "sentence": (right | ~real).all(1).float().mean().item()}


def per_sentence_mean(model, batch, pad):
    """Averages per-sentence accuracies instead of pooling the tokens."""
    pred, tgt = _tf(model, batch)
    real = tgt != pad
    right = (pred == tgt) & real
    per = right.sum(1).float() / real.sum(1).float()
    return {"token": per.mean().item(), "sentence": (per == 1).float().mean().item()}


def greedy_prefix(model, batch, pad):
    """Scores the free-running greedy output token by token (not teacher forcing)."""
    src, src_len, dec_in, tgt = batch
    B, T = tgt.shape
    state = model.decoder.init_state(model.encoder(src, src_len), src_len)
    y, out = dec_in[:, :1], []
    for _ in range(T):
        logits, state = model.decoder(y, state)
        y = logits.argmax(-1)
        out.append(y)
    pred = torch.cat(out, 1)
    real = tgt != pad
    right = (pred == tgt) & real
    return {"token": right.sum().item() / real.sum().item(),
            "sentence": (right | ~real).all(1).float().mean().item()}


@pytest.mark.parametrize("wrong", [with_padding, without_eos, per_sentence_mean, greedy_prefix])
def test_task1_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        ch01.task1(wrong)


def test_task1_rejects_a_constant():
    with pytest.raises(AssertionError):
        ch01.task1(lambda model, batch, pad: {"token": 0.5, "sentence": 0.25})


# ------------------------------------------------------------------ task 2

def test_task2_accepts_the_solution(solution):
    assert ch01.task2(solution["scheduled_sampling"])


def teacher_forcing_only(model, src, src_len, dec_in, eps, generator):
    """Ignores eps."""
    B, T = dec_in.shape
    return model(src, dec_in, src_len), dec_in.clone(), torch.zeros(B, T, dtype=torch.bool)


def one_pass(model, src, src_len, dec_in, eps, generator):
    """Replaces tokens by the argmax of a teacher-forced pass, then runs a second pass."""
    B, T = dec_in.shape
    own = model(src, dec_in, src_len).argmax(-1)
    use = torch.rand(B, T, generator=generator) < eps
    use[:, 0] = False
    inputs = dec_in.clone()
    inputs[:, 1:] = torch.where(use[:, 1:], own[:, :-1], dec_in[:, 1:])
    return model(src, inputs, src_len), inputs, use


def _stepwise(model, src, src_len, dec_in, draw):
    B, T = dec_in.shape
    state = model.decoder.init_state(model.encoder(src, src_len), src_len)
    y = dec_in[:, :1]
    logits, inputs, from_model = [], [y], [torch.zeros(B, 1, dtype=torch.bool)]
    for t in range(T):
        step, state = model.decoder(y, state)
        logits.append(step)
        if t == T - 1:
            break
        use = draw(t)
        y = torch.where(use, step.argmax(-1), dec_in[:, t + 1:t + 2])
        inputs.append(y)
        from_model.append(use)
    return torch.cat(logits, 1), torch.cat(inputs, 1), torch.cat(from_model, 1)


def inverted_probability(model, src, src_len, dec_in, eps, generator):
    """Uses the model's token with probability 1 - eps."""
    B = dec_in.shape[0]
    return _stepwise(model, src, src_len, dec_in, lambda t: torch.rand(B, 1, generator=generator) >= eps)


def one_draw_per_step(model, src, src_len, dec_in, eps, generator):
    """One coin per step for the whole batch."""
    B = dec_in.shape[0]
    return _stepwise(model, src, src_len, dec_in,
                     lambda t: (torch.rand(1, 1, generator=generator) < eps).expand(B, 1))


def sampled_not_argmax(model, src, src_len, dec_in, eps, generator):
    """Samples the model's token from its softmax instead of taking the most likely one."""
    B, T = dec_in.shape
    state = model.decoder.init_state(model.encoder(src, src_len), src_len)
    y = dec_in[:, :1]
    logits, inputs, from_model = [], [y], [torch.zeros(B, 1, dtype=torch.bool)]
    for t in range(T):
        step, state = model.decoder(y, state)
        logits.append(step)
        if t == T - 1:
            break
        use = torch.rand(B, 1, generator=generator) < eps
        own = torch.multinomial(F.softmax(step[:, 0], -1), 1, generator=generator)
        y = torch.where(use, own, dec_in[:, t + 1:t + 2])
        inputs.append(y)
        from_model.append(use)
    return torch.cat(logits, 1), torch.cat(inputs, 1), torch.cat(from_model, 1)


@pytest.mark.parametrize("wrong", [teacher_forcing_only, one_pass, inverted_probability, one_draw_per_step,
                                   sampled_not_argmax])
def test_task2_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        ch01.task2(wrong)


# ------------------------------------------------------------------ task 3

def test_task3_accepts_the_solution(solution):
    assert ch01.task3(solution["corpus_bleu"])


def _counts(h, g, n):
    hc = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
    rc = collections.Counter(tuple(g[i:i + n]) for i in range(len(g) - n + 1))
    return hc, rc


def _sentence(h, g, clip=True):
    h, g = h.split(), g.split()
    logs = []
    for n in range(1, 5):
        hc, rc = _counts(h, g, n)
        m = sum(min(k, rc[x]) if clip else (k if rc[x] else 0) for x, k in hc.items())
        t = max(0, len(h) - n + 1)
        if m == 0:
            return 0.0
        logs.append(math.log(m / t))
    bp = 1.0 if len(h) > len(g) else math.exp(1 - len(g) / len(h))
    return 100 * bp * math.exp(sum(logs) / 4)


def mean_of_sentences(hyps, refs):
    return sum(_sentence(h, r) for h, r in zip(hyps, refs)) / len(hyps)


def _corpus(hyps, refs, clip=True, bp_per_sentence=False):
    matches, totals, c, r, bp_sum = [0] * 4, [0] * 4, 0, 0, 0.0
    for hyp, ref in zip(hyps, refs):
        h, g = hyp.split(), ref.split()
        c, r = c + len(h), r + len(g)
        bp_sum += 1.0 if len(h) > len(g) else math.exp(1 - len(g) / len(h))
        for n in range(1, 5):
            hc, rc = _counts(h, g, n)
            matches[n - 1] += sum(min(k, rc[x]) if clip else (k if rc[x] else 0) for x, k in hc.items())
            totals[n - 1] += max(0, len(h) - n + 1)
    if min(matches) == 0:
        return 0.0
    bp = bp_sum / len(hyps) if bp_per_sentence else (1.0 if c > r else math.exp(1 - r / c))
    return 100 * bp * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / 4)


def unclipped(hyps, refs):
    return _corpus(hyps, refs, clip=False)


def brevity_per_sentence(hyps, refs):
    return _corpus(hyps, refs, bp_per_sentence=True)


def library_call(hyps, refs):
    from d2lt import metrics
    return metrics.corpus_bleu(hyps, refs)


@pytest.mark.parametrize("wrong", [mean_of_sentences, unclipped, brevity_per_sentence, library_call])
def test_task3_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        ch01.task3(wrong)


def test_task3_restores_the_library_scorers():
    import sacrebleu
    from d2lt import metrics
    before = (metrics.corpus_bleu, metrics.bleu_stats, sacrebleu.corpus_bleu)
    with pytest.raises(AssertionError):
        ch01.task3(library_call)
    assert (metrics.corpus_bleu, metrics.bleu_stats, sacrebleu.corpus_bleu) == before


@pytest.mark.parametrize("task, wrong", [(ch01.task1, with_padding), (ch01.task1, per_sentence_mean),
                                         (ch01.task3, mean_of_sentences), (ch01.task3, unclipped)])
def test_failure_messages_do_not_print_the_answer(task, wrong):
    """A wrong answer's message says what is wrong, never a score to copy."""
    with pytest.raises(AssertionError) as e:
        task(wrong)
    assert not re.search(r"\d\.\d", str(e.value)), str(e.value)
