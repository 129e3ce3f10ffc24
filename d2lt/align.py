"""Instruction tuning and learning from preferences on the course's GPT (chapter 13).

The pieces, in the order data flows:

* :func:`wiki_words` -- the words the instructions are about: lowercase words
  of the wiki train split that the BPE tokenizer writes as one token;
* :func:`make_examples` -- seeded instructions with their correct responses
  (``repeat``, ``reverse``, ``first``, ``last`` over 2-4 words), written with
  :data:`TEMPLATE`; :func:`demonstration` -- the response a demonstrator wrote,
  which ends with :data:`FILLER` (a verbose habit) a stated fraction of the time;
* :func:`encode` / :func:`collate` -- ``<|endoftext|>`` + prompt + response +
  ``<|endoftext|>`` as ids, padded into ``(B, L)`` with the **response mask**
  ``(B, L)``: True exactly at the response tokens (the final end token included);
* :func:`sft_step` -- the supervised instruction-tuning loss: the mean next-token
  cross entropy over the response tokens only (the prompt is given, not learned);
* :func:`sequence_logprob` -- ``log pi(response | prompt)``, the sum of the
  response tokens' log-probabilities;
* :func:`preference_pairs` and :func:`dpo_loss` / :func:`dpo_step` -- Direct
  Preference Optimization (Rafailov et al. 2023): with a frozen reference
  model ``ref`` and ``beta``, the implicit reward of a response is
  ``beta * (log pi(y|x) - log ref(y|x))`` and the loss is
  ``-log sigmoid(r(chosen) - r(rejected))``, averaged over the pairs;
* :func:`respond` / :func:`follow_rate` -- greedy responses to held-out prompts
  and the behaviour metric: the share that begins with the correct answer
  (``follows``), that is exactly the answer and then stops (``exact``), and
  that ends with the filler (``filler``).
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from . import validate as check

__all__ = ["TASKS", "INSTRUCTIONS", "TEMPLATE", "FILLER", "Example", "answer", "wiki_words",
           "make_examples", "demonstration", "encode", "collate", "response_mask", "sft_step",
           "sequence_logprob", "preference_pairs", "dpo_loss", "dpo_step", "respond",
           "follow_rate", "SFT_CHECKPOINT", "VERBOSE_SHARE", "instruction_data", "sft_items", "sft_gpt"]

TASKS = ("repeat", "reverse", "first", "last")
INSTRUCTIONS = {"repeat": "Repeat the words.", "reverse": "Reverse the words.",
                "first": "Give the first word.", "last": "Give the last word."}
TEMPLATE = "Instruction: {instruction}\nInput:{words}\nResponse:"
FILLER = " - I hope this helps."  # the verbose habit of the demonstrations
SFT_CHECKPOINT = "ch13_sft_gpt.pt"
VERBOSE_SHARE = 0.75  # the share of demonstrations that end with FILLER
DATA_LAYOUT = "align-v1"  # bump when the data below changes: a shipped SFT checkpoint then no longer loads


@dataclass(frozen=True)
class Example:
    """One instruction: its task, its input words, the prompt and the correct response."""

    task: str
    words: tuple
    prompt: str
    response: str  # the answer words, each after a space (as the tokenizer writes them)


def answer(task: str, words) -> list:
    """The correct answer words of ``task`` on ``words`` (a non-empty list of str)."""
    check.string(task, "task", choices=TASKS)
    words = check.sequence(words, "words", "a list of words (str)", nonempty=True,
                           hint="split the text first")
    for i, w in enumerate(words):
        check.string(w, f"words[{i}]", nonempty=True)
    if task == "repeat":
        return list(words)
    if task == "reverse":
        return list(reversed(words))
    return [words[0]] if task == "first" else [words[-1]]


def _prompt(task, words):
    return TEMPLATE.format(instruction=INSTRUCTIONS[task], words="".join(" " + w for w in words))


def wiki_words(tokenizer, n: int = 300, split: str = "train") -> list:
    """The ``n`` most frequent lowercase words (3-10 letters) of a wiki split that ``tokenizer``
    encodes as a single token after a space. Ties are broken alphabetically (deterministic)."""
    from .data import load_wiki
    from .lm import _check_tokenizer

    _check_tokenizer(tokenizer)
    n = check.integer(n, "n", 1)
    counts = Counter()
    for art in load_wiki(split):
        counts.update(re.findall(r"(?<![A-Za-z])[a-z]{3,10}(?![A-Za-z])", art.text))
    words = []
    for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(tokenizer.encode(" " + w).ids) == 1:
            words.append(w)
            if len(words) == n:
                break
    if len(words) < n:
        raise ValueError(f"the {split} split has only {len(words)} single-token words, asked for {n}")
    return words


def _check_words(words, minimum=1):
    words = check.sequence(words, "words", "a list of words (str)", nonempty=True,
                           hint="pass a list such as wiki_words(tok)")
    for i, w in enumerate(words):
        check.string(w, f"words[{i}]", nonempty=True)
        if not w.isalpha():
            raise ValueError(f"words[{i}] must be letters only, got {w!r}")
    if len(set(words)) < minimum:
        raise ValueError(f"words must hold at least {minimum} distinct words, got {len(set(words))}")
    return words


def make_examples(words, n: int, seed: int = 0, tasks=TASKS, min_words: int = 2, max_words: int = 4,
                  exclude=()) -> list:
    """``n`` seeded :class:`Example` s: a task of ``tasks`` and ``min_words..max_words`` distinct
    words drawn from ``words``. A prompt in ``exclude`` (e.g. the training prompts) is drawn again,
    and no prompt repeats within the list."""
    n = check.integer(n, "n", 1)
    seed = check.integer(seed, "seed")
    tasks = check.sequence(tasks, "tasks", f"a list of tasks from {list(TASKS)}", nonempty=True)
    for t in tasks:
        check.string(t, "task", choices=TASKS)
    min_words = check.integer(min_words, "min_words", 1)
    max_words = check.integer(max_words, "max_words", min_words)
    words = _check_words(words, max_words)
    if isinstance(exclude, (str, bytes)):
        raise TypeError(f"exclude must be a collection of prompts (str), got a single str {exclude[:40]!r}")
    seen = set(exclude)
    rng = random.Random(seed)
    out, tries = [], 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(f"cannot draw {n} distinct new prompts from {len(set(words))} words")
        task = tasks[rng.randrange(len(tasks))]
        ws = tuple(rng.sample(words, rng.randint(min_words, max_words)))
        prompt = _prompt(task, ws)
        if prompt in seen:
            continue
        seen.add(prompt)
        out.append(Example(task, ws, prompt, "".join(" " + w for w in answer(task, ws))))
    return out


def _check_examples(examples, name="examples"):
    examples = check.sequence(examples, name, "a list of d2lt.align.Example", nonempty=True)
    for i, e in enumerate(examples):
        if not isinstance(e, Example):
            raise TypeError(f"{name}[{i}] must be a d2lt.align.Example, got {check.describe(e)}")
    return examples


def demonstration(example, verbose: bool) -> str:
    """The response a demonstrator wrote: the correct one, followed by :data:`FILLER` if ``verbose``."""
    _check_examples([example], "example")
    check.boolean(verbose, "verbose")
    return example.response + (FILLER if verbose else "")


def encode(tokenizer, prompt: str, response: str) -> tuple:
    """``(ids, n_prompt)``: ``[<|endoftext|>] + prompt + response + [<|endoftext|>]`` as a list of
    ids, and how many of them (the leading end token and the prompt) are not the response."""
    from .lm import EOT_ID, _check_tokenizer

    _check_tokenizer(tokenizer)
    check.string(prompt, "prompt", nonempty=True)
    check.string(response, "response")
    head = [EOT_ID] + tokenizer.encode(prompt).ids
    return head + tokenizer.encode(response).ids + [EOT_ID], len(head)


def response_mask(n_prompt, lengths, width: int | None = None) -> torch.Tensor:
    """A bool ``(B, width)``: row ``b`` True at positions ``n_prompt[b] .. lengths[b] - 1``.

    ``width`` defaults to ``max(lengths)``; every row needs ``1 <= n_prompt[b] < lengths[b]``.
    """
    n_prompt = check.sequence(n_prompt, "n_prompt", "a list of ints", nonempty=True)
    lengths = check.sequence(lengths, "lengths", "a list of ints", nonempty=True)
    check.same_length(n_prompt, lengths, "n_prompt", "lengths")
    for i, (p, n) in enumerate(zip(n_prompt, lengths)):
        check.integer(p, f"n_prompt[{i}]", 1)
        check.integer(n, f"lengths[{i}]", p + 1, what=f"an int > n_prompt[{i}] = {p}")
    width = check.integer(width, "width", max(lengths), allow_none=True,
                          what=f"None or an int >= max(lengths) = {max(lengths)}")
    width = max(lengths) if width is None else width
    pos = torch.arange(width)
    return (pos >= torch.tensor(n_prompt)[:, None]) & (pos < torch.tensor(lengths)[:, None])


def collate(items, pad_id: int = 0) -> tuple:
    """``(ids (B, L), mask (B, L))`` from a list of ``(ids, n_prompt)`` (from :func:`encode`):
    the rows padded on the right with ``pad_id``, ``mask`` True at the response tokens."""
    items = check.sequence(items, "items", "a list of (ids, n_prompt) pairs", nonempty=True)
    pad_id = check.integer(pad_id, "pad_id", 0)
    rows, heads = [], []
    for i, it in enumerate(items):
        if not (isinstance(it, (tuple, list)) and len(it) == 2):
            raise TypeError(f"items[{i}] must be a pair (ids, n_prompt), got {check.describe(it)}")
        ids = check.sequence(it[0], f"items[{i}] ids", "a list of token ids", nonempty=True)
        for j in ids:
            check.integer(j, f"items[{i}] id", 0)
        rows.append(ids)
        heads.append(check.integer(it[1], f"items[{i}] n_prompt", 1, len(ids) - 1))
    L = max(map(len, rows))
    ids = torch.full((len(rows), L), pad_id, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r)
    return ids, response_mask(heads, [len(r) for r in rows], L)


def _check_pair(ids, mask):
    check.tensor(ids, "ids", dims=2, shape="(B, L)", kind="int", nonempty=True)
    check.tensor(mask, "mask", dims=2, shape="(B, L)", kind="bool")
    if mask.shape != ids.shape:
        raise ValueError(f"mask must have the shape of ids {tuple(ids.shape)}, got {tuple(mask.shape)}")
    if ids.shape[1] < 2:
        raise ValueError(f"ids must hold at least 2 positions (a prompt and a response), got {ids.shape[1]}")
    if bool(mask[:, 0].any()):
        raise ValueError("mask must be False at position 0: the first token has no context to predict it")
    if not bool(mask.any(1).all()):
        raise ValueError("every row of mask needs at least one response token")
    return ids, mask


def sft_step(model, batch):
    """The instruction-tuning loss on ``batch = (ids, mask)``: the mean cross entropy of the
    response tokens (``mask`` True) given everything before them; the prompt is not scored."""
    from .gpt import IGNORE_INDEX
    from .lm import _check_model

    _check_model(model)
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(f"batch must be a pair (ids, mask), got {check.describe(batch)}")
    ids, mask = _check_pair(*batch)
    targets = ids[:, 1:].masked_fill(~mask[:, 1:], IGNORE_INDEX)
    return model(ids[:, :-1], targets)[1]


def sequence_logprob(model, ids, mask) -> torch.Tensor:
    """``(B,)``: for each row, the sum over the positions ``t`` where ``mask`` is True of
    ``log p(ids[t] | ids[:t])`` under ``model`` (gradients flow; wrap in ``no_grad`` for a reference)."""
    from .lm import _check_model

    _check_model(model)
    ids, mask = _check_pair(ids, mask)
    dev = next(model.parameters()).device
    ids, mask = ids.to(dev), mask.to(dev)
    logits = model(ids[:, :-1])[0].float()                        # (B, L-1, V)
    logp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return (logp * mask[:, 1:]).sum(1)


def _check_logps(**named):
    shape = None
    for name, t in named.items():
        check.tensor(t, name, dims=1, shape="(B,)", kind="float", nonempty=True, finite=True)
        if shape is not None and t.shape != shape:
            raise ValueError(f"{name} must have the shape {tuple(shape)} of the other log-probabilities, "
                             f"got {tuple(t.shape)}")
        shape = t.shape


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float = 0.1) -> tuple:
    """``(loss, margins)``: the DPO loss (a scalar, the mean over pairs) and each pair's reward margin.

    Inputs are ``(B,)`` sequence log-probabilities (:func:`sequence_logprob`) of the chosen and
    rejected responses under the policy and the frozen reference. The implicit reward is
    ``r = beta * (log pi - log ref)``; ``margins = r(chosen) - r(rejected)`` and
    ``loss = mean(-log sigmoid(margins))`` (``log 2`` when the policy equals the reference).
    """
    _check_logps(policy_chosen=policy_chosen, policy_rejected=policy_rejected,
                 ref_chosen=ref_chosen, ref_rejected=ref_rejected)
    beta = check.number(beta, "beta", 0, strict=True)
    margins = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -F.logsigmoid(margins).mean(), margins


def preference_pairs(tokenizer, examples) -> list:
    """``[(chosen, rejected), ...]``, each an ``(ids, n_prompt)`` from :func:`encode`: the course's
    preference rule prefers the correct answer that stops to the same answer followed by :data:`FILLER`."""
    examples = _check_examples(examples)
    return [(encode(tokenizer, e.prompt, demonstration(e, False)),
             encode(tokenizer, e.prompt, demonstration(e, True))) for e in examples]


def dpo_step(policy, reference, pairs, beta: float = 0.1) -> tuple:
    """``(loss, margins)`` of :func:`dpo_loss` on ``pairs`` (from :func:`preference_pairs`);
    the reference is run without gradients."""
    from .lm import _check_model

    _check_model(policy)
    _check_model(reference)
    if policy is reference:
        raise ValueError("reference must be a frozen copy of the policy, not the policy itself")
    pairs = check.sequence(pairs, "pairs", "a list of (chosen, rejected) pairs", nonempty=True)
    for i, p in enumerate(pairs):
        if not (isinstance(p, (tuple, list)) and len(p) == 2):
            raise TypeError(f"pairs[{i}] must be a pair (chosen, rejected), got {check.describe(p)}")
    ids, mask = collate([c for c, _ in pairs] + [r for _, r in pairs])
    B = len(pairs)
    pol = sequence_logprob(policy, ids, mask)
    with torch.no_grad():
        ref = sequence_logprob(reference, ids, mask)
    return dpo_loss(pol[:B], pol[B:], ref[:B], ref[B:], beta)


@torch.no_grad()
def respond(model, tokenizer, examples, max_new_tokens: int = 16) -> list:
    """The greedy responses of ``model`` to the prompts of ``examples``: a list of
    ``(text, stopped)``, ``text`` decoded up to the first end token, ``stopped`` whether it came."""
    from .lm import EOT_ID, _check_model

    _check_model(model)
    examples = _check_examples(examples)
    max_new_tokens = check.integer(max_new_tokens, "max_new_tokens", 1)
    dev = next(model.parameters()).device
    heads = [encode(tokenizer, e.prompt, "")[0][:-1] for e in examples]
    out = [None] * len(examples)
    groups = {}
    for i, h in enumerate(heads):  # prompts of one length decode as one batch (no padding)
        groups.setdefault(len(h), []).append(i)
    for n, idx in groups.items():
        prompt = torch.tensor([heads[i] for i in idx], device=dev)
        gen = model.generate(prompt, max_new_tokens, temperature=0.0, eos=EOT_ID)[:, n:].tolist()
        for i, g in zip(idx, gen):
            stopped = EOT_ID in g
            out[i] = (tokenizer.decode(g[:g.index(EOT_ID)] if stopped else g), stopped)
    return out


def follow_rate(model, tokenizer, examples, max_new_tokens: int = 16) -> dict:
    """The behaviour metric under greedy decoding: the shares of ``examples`` whose response
    ``follows`` (begins with the correct answer), is ``exact`` (the answer, then the end token)
    or ends with the ``filler``; and ``n``, the number of examples."""
    examples = _check_examples(examples)
    res = respond(model, tokenizer, examples, max_new_tokens)
    follows = exact = filler = 0
    for e, (text, stopped) in zip(examples, res):
        good = text.startswith(e.response) and (len(text) == len(e.response)
                                                or not text[len(e.response)].isalpha())
        follows += good
        exact += good and stopped and text == e.response
        filler += stopped and text.endswith(FILLER)
    n = len(examples)
    return {"follows": follows / n, "exact": exact / n, "filler": filler / n, "n": n}


# ----------------------------------------------------------------------------- the course's SFT model

def instruction_data(tokenizer, n_train: int = 4000, n_test: int = 200, seed: int = 0) -> tuple:
    """``(words, train, test)``: :func:`wiki_words` and two lists of :class:`Example` s drawn with
    ``seed`` and ``seed + 1``; no test prompt occurs among the training prompts."""
    n_train = check.integer(n_train, "n_train", 1)
    n_test = check.integer(n_test, "n_test", 1)
    seed = check.integer(seed, "seed")
    words = wiki_words(tokenizer)
    train = make_examples(words, n_train, seed=seed)
    test = make_examples(words, n_test, seed=seed + 1, exclude={e.prompt for e in train})
    return words, train, test


def sft_items(tokenizer, examples, verbose_share: float = VERBOSE_SHARE, seed: int = 0) -> list:
    """The demonstrations of ``examples`` encoded for :func:`collate`: each response ends with
    :data:`FILLER` with probability ``verbose_share`` (seeded draws)."""
    examples = _check_examples(examples)
    verbose_share = check.probability(verbose_share, "verbose_share")
    rng = random.Random(check.integer(seed, "seed"))
    return [encode(tokenizer, e.prompt, demonstration(e, rng.random() < verbose_share)) for e in examples]


def sft_gpt(tokenizer) -> tuple:
    """``(model, config_dict, path)`` of the instruction-tuned GPT: chapter 10's model
    (:func:`d2lt.lm.wiki_gpt`), the config extended with this module's data layout."""
    from .lm import wiki_gpt
    from .train import course_checkpoint

    model, cfg, _ = wiki_gpt(tokenizer)
    cfg = {**cfg, "sft_data": DATA_LAYOUT, "verbose_share": VERBOSE_SHARE, "filler": FILLER,
           "template": TEMPLATE, "tasks": list(TASKS)}
    return model, cfg, course_checkpoint(SFT_CHECKPOINT)
