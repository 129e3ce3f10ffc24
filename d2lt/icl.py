"""In-context learning and chain of thought on synthetic task families (chapter 11).

Two families of problems, written as text over one small explicit vocabulary
(:data:`VOCAB`, one character per token), for a :class:`d2lt.gpt.GPT`:

* **Random mappings** (in-context learning). Every sequence is a new task: a
  random function ``f`` from ``num_inputs`` letters (``A``, ``B``, ...) to
  ``num_outputs`` digits, given only by examples ``x f(x)`` written one after
  the other (``A3C5B0``). A prompt of ``k`` shots is ``k`` examples followed
  by a query ``x`` (``A3C5B0C``); the answer is the next token. Since ``f``
  is new, nothing learnt in the weights can answer it: only the examples
  can. The best any learner can do is :func:`bayes_accuracy`: right when the
  query was shown, chance otherwise.
* **Chains of operations** (chain of thought). ``3+4*2-7=`` is evaluated left
  to right modulo 10. The answer is written either directly (``7``) or after
  a scratchpad of the intermediate steps (``3+4=7;7*2=4;4-7=7;>7``), every
  step a one-operation problem.

Shapes: ``n`` = number of tasks / problems, ``P`` = pairs in a sequence, ``k`` = shots.
Every sampler takes a ``torch.Generator`` and is reproducible. The pieces, in
the order the chapter uses them: :func:`shot_prompts`, :func:`ideal_learner`,
:func:`chance_learner`, :func:`accuracy_vs_shots` and :func:`finetune_cost`
for the mappings; :func:`sample_chains`, :func:`scratchpad`,
:func:`chain_batch`, :func:`solve_chains` and :func:`exact_match` for the
chains; :class:`TaskBatches` feeds either to :func:`d2lt.train.fit`, and
:func:`icl_gpt` gives the shipped models and their checkpoints.
"""
from __future__ import annotations

import copy
import time

import torch

from . import lm
from . import validate as check
from .core import seeded
from .gpt import GPT, IGNORE_INDEX, GPTConfig

__all__ = ["VOCAB", "PAD", "EOS", "INPUTS", "OUTPUTS", "OPS", "encode", "decode",
           "sample_mappings", "icl_sequences", "icl_batch", "shot_prompts", "bayes_accuracy",
           "next_token", "ideal_learner", "chance_learner", "accuracy_vs_shots", "finetune_cost",
           "sample_chains", "chain_values", "scratchpad", "chain_texts", "chain_batch",
           "final_answer", "exact_match", "solve_chains", "chain_accuracy", "TaskBatches", "icl_batches",
           "chain_batches", "icl_gpt_config", "icl_gpt", "CHECKPOINT_COT_DIRECT",
           "CHECKPOINT_ICL", "CHECKPOINT_COT"]

PAD, EOS = "_", "$"           # padding and end of answer
INPUTS = "ABCDEFGHIJKLMNOP"   # the inputs of a mapping (at most 16)
OUTPUTS = "0123456789"        # its outputs (at most 10); also the digits of the chains
OPS = "+-*"
VOCAB = PAD + EOS + OUTPUTS + OPS + "=:,;>" + INPUTS
STOI = {c: i for i, c in enumerate(VOCAB)}
PAD_ID, EOS_ID = STOI[PAD], STOI[EOS]
CHECKPOINT_ICL = "ch11_icl_mappings.pt"
CHECKPOINT_COT = "ch11_cot_scratchpad.pt"
CHECKPOINT_COT_DIRECT = "ch11_cot_direct.pt"
LAYOUT = "icl-v1"  # the vocabulary and formats; a change makes old checkpoints stale


# --------------------------------------------------------------------------- vocabulary

def encode(text: str) -> list:
    """The ids of ``text``, one per character; every character must be in :data:`VOCAB`."""
    check.string(text, "text")
    bad = sorted({c for c in text if c not in STOI})
    if bad:
        raise ValueError(f"text must use only the characters {VOCAB!r}, got {bad}")
    return [STOI[c] for c in text]


def decode(ids) -> str:
    """The text of a sequence of ids (a list or a 1-d integer tensor)."""
    if torch.is_tensor(ids):
        check.tensor(ids, "ids", dims=1, shape="(T,)", kind="int")
        ids = ids.tolist()
    ids = check.sequence(ids, "ids", "a list of token ids")
    for i in ids:
        check.integer(i, "ids[...]", 0, len(VOCAB) - 1, what=f"a token id in [0, {len(VOCAB)})")
    return "".join(VOCAB[i] for i in ids)


def _generator(generator):
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (seeded, for reproducibility), "
                        f"got {check.describe(generator)}")
    return generator


def _sizes(num_inputs, num_outputs):
    num_inputs = check.integer(num_inputs, "num_inputs", 1, len(INPUTS))
    num_outputs = check.integer(num_outputs, "num_outputs", 2, len(OUTPUTS))
    return num_inputs, num_outputs


# --------------------------------------------------------------------------- random mappings

def sample_mappings(n: int, generator, num_inputs: int = 8, num_outputs: int = 8) -> torch.Tensor:
    """``n`` random functions as a long tensor ``(n, num_inputs)``: entry ``[t, x]`` is ``f_t(x)``
    (an output index in ``[0, num_outputs)``), each drawn uniformly and independently."""
    n = check.integer(n, "n", 1)
    num_inputs, num_outputs = _sizes(num_inputs, num_outputs)
    return torch.randint(0, num_outputs, (n, num_inputs), generator=_generator(generator))


def _check_mappings(mappings, num_outputs=len(OUTPUTS)):
    check.tensor(mappings, "mappings", dims=2, shape="(n, num_inputs)", kind="int", nonempty=True)
    if mappings.shape[1] > len(INPUTS) or int(mappings.min()) < 0 or int(mappings.max()) >= num_outputs:
        raise ValueError(f"mappings must be (n, num_inputs <= {len(INPUTS)}) with outputs in "
                         f"[0, {num_outputs}), got shape {tuple(mappings.shape)} and values in "
                         f"[{int(mappings.min())}, {int(mappings.max())}]")
    return mappings


def _pairs_to_ids(xs, ys):
    """Ids ``(n, 2 P)`` of the text ``x y x y ...`` (e.g. ``A3C5``) for input / output indices ``(n, P)``."""
    n, P = xs.shape
    seq = torch.empty(n, P, 2, dtype=torch.long)
    seq[..., 0] = xs + STOI[INPUTS[0]]
    seq[..., 1] = ys + STOI[OUTPUTS[0]]
    return seq.reshape(n, 2 * P)


def icl_sequences(mappings, num_pairs: int, generator) -> torch.Tensor:
    """Ids ``(n, 2 num_pairs)``: for each task, ``num_pairs`` examples ``x f(x)`` with ``x`` uniform."""
    _check_mappings(mappings)
    num_pairs = check.integer(num_pairs, "num_pairs", 1)
    n, K = mappings.shape
    xs = torch.randint(0, K, (n, num_pairs), generator=_generator(generator))
    return _pairs_to_ids(xs, mappings.gather(1, xs))


def icl_batch(batch_size: int, num_pairs: int, generator, num_inputs: int = 8, num_outputs: int = 8):
    """A training batch ``(idx, targets)``, both ``(B, 2 P - 1)``, each row a fresh random task.

    ``targets[:, t]`` is the token after ``idx[:, t]`` where ``idx[:, t]`` is
    an input (so the target is its output) and ``IGNORE_INDEX`` elsewhere: the loss is on the
    answers only, and the answer to pair ``j`` is a ``j``-shot problem.
    """
    batch_size = check.integer(batch_size, "batch_size", 1)
    seq = icl_sequences(sample_mappings(batch_size, generator, num_inputs, num_outputs), num_pairs,
                        generator)
    idx, targets = seq[:, :-1], seq[:, 1:].clone()
    is_input = (idx >= STOI[INPUTS[0]])
    targets[~is_input] = IGNORE_INDEX
    return idx, targets


QUERIES = ("any", "seen", "unseen")


def shot_prompts(k: int, n: int, generator, num_inputs: int = 8, num_outputs: int = 8,
                 query: str = "any"):
    """``n`` fresh tasks as ``k``-shot prompts: ``(prompts (n, 2 k + 1), answers (n,), mappings)``.

    A prompt is ``k`` examples then the query ``x``; ``answers`` holds the
    token id of ``f(x)``. ``query``: ``"any"`` (``x`` uniform, as in training),
    ``"seen"`` (``x`` is one of the shown examples; needs ``k >= 1``) or
    ``"unseen"`` (``x`` is not among them).
    """
    k = check.integer(k, "k", 0)
    n = check.integer(n, "n", 1)
    check.string(query, "query", choices=QUERIES)
    num_inputs, num_outputs = _sizes(num_inputs, num_outputs)
    if query == "seen" and k == 0:
        raise ValueError("query='seen' needs k >= 1 shots (a 0-shot prompt shows no example)")
    g = _generator(generator)
    maps = sample_mappings(n, g, num_inputs, num_outputs)
    if query == "unseen":
        if num_inputs < 2:
            raise ValueError("query='unseen' needs num_inputs >= 2 (an input left out of the examples)")
        # given that x is not shown, x is uniform and every example uniform over the other inputs
        q = torch.randint(0, num_inputs, (n,), generator=g)
        xs = torch.randint(0, num_inputs - 1, (n, k), generator=g)
        xs = xs + (xs >= q[:, None]).long()
    else:
        xs = torch.randint(0, num_inputs, (n, k), generator=g)
        if query == "any":
            q = torch.randint(0, num_inputs, (n,), generator=g)
        else:
            q = xs.gather(1, torch.randint(0, k, (n, 1), generator=g)).squeeze(1)
    examples = _pairs_to_ids(xs, maps.gather(1, xs)) if k else torch.empty(n, 0, dtype=torch.long)
    prompts = torch.cat([examples, (q + STOI[INPUTS[0]])[:, None]], 1)
    answers = maps.gather(1, q[:, None]).squeeze(1) + STOI[OUTPUTS[0]]
    return prompts, answers, maps


def bayes_accuracy(k: int, num_inputs: int = 8, num_outputs: int = 8) -> float:
    """The best expected accuracy of any learner on ``k``-shot prompts with uniform queries:
    ``1 - (1 - 1/K)^k (1 - 1/M)`` (right when the query was shown, else a 1-in-M guess)."""
    k = check.integer(k, "k", 0)
    K, M = _sizes(num_inputs, num_outputs)
    return 1.0 - (1.0 - 1.0 / K) ** k * (1.0 - 1.0 / M)


@torch.no_grad()
def next_token(model, prompts) -> torch.Tensor:
    """The greedy next token ``(n,)`` of a :class:`d2lt.gpt.GPT` after each row of ``prompts (n, T)``."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT, got {check.describe(model)}")
    check.tensor(prompts, "prompts", dims=2, shape="(n, T)", kind="int", nonempty=True)
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    try:
        return model(prompts.to(dev))[0][:, -1].argmax(-1).cpu()
    finally:
        model.train(was)


def _check_prompts(prompts):
    check.tensor(prompts, "prompts", dims=2, shape="(n, 2 k + 1)", kind="int", nonempty=True)
    if prompts.shape[1] % 2 != 1:
        raise ValueError(f"prompts must have 2 k + 1 columns (k examples and a query), "
                         f"got {prompts.shape[1]}")
    return prompts


def ideal_learner(prompts) -> torch.Tensor:
    """The answer ``(n,)`` of the best in-context learner: the output shown for the query's input
    (the last one, should it be shown twice), and ``0`` when it was not shown (a guess)."""
    _check_prompts(prompts)
    n, L = prompts.shape
    out = torch.full((n,), STOI[OUTPUTS[0]], dtype=torch.long)
    query = prompts[:, -1]
    for j in range((L - 1) // 2):
        hit = prompts[:, 2 * j] == query
        out = torch.where(hit, prompts[:, 2 * j + 1], out)
    return out


def chance_learner(generator, num_outputs: int = 8):
    """A learner that ignores the prompt: a uniform output digit per row (the chance baseline)."""
    g = _generator(generator)
    M = check.integer(num_outputs, "num_outputs", 2, len(OUTPUTS))

    def guess(prompts):
        _check_prompts(prompts)
        return torch.randint(0, M, (prompts.shape[0],), generator=g) + STOI[OUTPUTS[0]]
    return guess


def accuracy_vs_shots(learner, shots, n: int = 512, seed: int = 0, num_inputs: int = 8,
                      num_outputs: int = 8, query: str = "any", batch_size: int = 512) -> dict:
    """``{k: accuracy}``: the share of ``n`` fresh ``k``-shot tasks a learner answers right.

    ``learner`` is a :class:`d2lt.gpt.GPT` (its greedy next token) or a
    callable ``prompts (B, T) -> answers (B,)``. The tasks of each ``k`` come
    from ``torch.Generator().manual_seed(seed + k)``: the same for every learner.
    No weight changes: the examples are only read.
    """
    if isinstance(learner, GPT):
        model = learner
        learner = lambda p: next_token(model, p)  # noqa: E731
    elif not callable(learner):
        raise TypeError(f"learner must be a d2lt.gpt.GPT or a callable prompts -> answers, "
                        f"got {check.describe(learner)}")
    shots = check.sequence(shots, "shots", "a list of numbers of shots", nonempty=True)
    shots = [check.integer(k, "shots[...]", 0) for k in shots]
    n = check.integer(n, "n", 1)
    seed = check.integer(seed, "seed", 0)
    batch_size = check.integer(batch_size, "batch_size", 1)
    out = {}
    for k in shots:
        prompts, answers, _ = shot_prompts(k, n, torch.Generator().manual_seed(seed + k), num_inputs,
                                           num_outputs, query)
        right = 0
        for i in range(0, n, batch_size):
            got, want = learner(prompts[i:i + batch_size]), answers[i:i + batch_size]
            if not torch.is_tensor(got) or got.shape != want.shape:
                raise ValueError(f"the learner must return a tensor of shape "
                                 f"{tuple(want.shape)}, got {check.describe(got)}")
            right += int((got.cpu().long() == want).sum())
        out[k] = right / n
    return out


def finetune_cost(model, k: int, target=None, *, generator, num_inputs: int = 8, num_outputs: int = 8,
                  lr: float = 1e-3, max_steps: int = 500) -> dict:
    """What it costs to teach one new task to a *copy* of ``model`` by gradient steps.

    A fresh task and ``k`` examples of it are drawn; the copy is trained on
    the examples written as 0-shot problems (``x`` -> ``f(x)``, Adam, full
    batch) until its accuracy on the task's whole input set reaches
    ``target`` (None: the accuracy ``model`` reaches *in context* from the
    same ``k`` examples), or ``max_steps``. Returns ``steps``, ``seconds``,
    ``accuracy`` (the final one), ``reached``, and ``icl_seconds``, the time
    of the one forward pass that answers the same queries in context.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT, got {check.describe(model)}")
    k = check.integer(k, "k", 1)
    if target is not None:
        target = check.probability(target, "target", what="None or an accuracy in [0, 1]")
    lr = check.number(lr, "lr", 0, strict=True)
    max_steps = check.integer(max_steps, "max_steps", 1)
    g = _generator(generator)
    K, M = _sizes(num_inputs, num_outputs)
    f = sample_mappings(1, g, K, M)
    xs = torch.randint(0, K, (1, k), generator=g)
    examples = _pairs_to_ids(xs, f.gather(1, xs))                     # (1, 2 k)
    every = torch.arange(K)
    queries = (every + STOI[INPUTS[0]])[:, None]                       # (K, 1)
    truth = f[0] + STOI[OUTPUTS[0]]                                    # (K,)

    def accuracy(answers):
        return float((answers == truth).float().mean())

    t0 = time.perf_counter()
    icl = next_token(model, torch.cat([examples.expand(K, -1), queries], 1))
    icl_seconds = time.perf_counter() - t0  # the forward pass alone
    icl_accuracy = accuracy(icl)
    target = icl_accuracy if target is None else target
    tuned = copy.deepcopy(model).train()  # next_token puts it back in training mode
    opt = torch.optim.Adam(tuned.parameters(), lr=lr)
    dev = next(tuned.parameters()).device
    x_train = (xs[0] + STOI[INPUTS[0]])[:, None].to(dev)               # (k, 1): 0-shot prompts
    y_train = (f[0, xs[0]] + STOI[OUTPUTS[0]])[:, None].to(dev)        # (k, 1)
    steps, t0 = 0, time.perf_counter()
    acc = accuracy(next_token(tuned, queries))
    while acc < target and steps < max_steps:
        loss = tuned(x_train, y_train)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
        acc = accuracy(next_token(tuned, queries))
    return {"steps": steps, "seconds": time.perf_counter() - t0, "accuracy": acc,
            "reached": acc >= target, "target": target, "icl_accuracy": icl_accuracy,
            "icl_seconds": icl_seconds, "examples": k}


# --------------------------------------------------------------------------- chains of operations

_APPLY = {"+": lambda a, b: (a + b) % 10, "-": lambda a, b: (a - b) % 10,
          "*": lambda a, b: (a * b) % 10}


def _check_ops(ops):
    check.string(ops, "ops", nonempty=True)
    if any(o not in OPS for o in ops) or len(set(ops)) != len(ops):
        raise ValueError(f"ops must be distinct characters of {OPS!r}, got {ops!r}")
    return ops


def sample_chains(n: int, steps: int, generator, ops: str = OPS) -> list:
    """``n`` problems of ``steps`` operations, as texts such as ``3+4*2-7=`` (digits and ``ops``)."""
    n = check.integer(n, "n", 1)
    steps = check.integer(steps, "steps", 1)
    _check_ops(ops)
    g = _generator(generator)
    digits = torch.randint(0, 10, (n, steps + 1), generator=g).tolist()
    which = torch.randint(0, len(ops), (n, steps), generator=g).tolist()
    return [str(d[0]) + "".join(ops[o] + str(x) for o, x in zip(w, d[1:])) + "="
            for d, w in zip(digits, which)]


def _parse(problem: str):
    check.string(problem, "problem")
    body = problem[:-1] if problem.endswith("=") else None
    ok = body is not None and len(body) >= 3 and len(body) % 2 == 1 and \
        all(c in OUTPUTS for c in body[0::2]) and all(c in OPS for c in body[1::2])
    if not ok:
        raise ValueError(f"problem must look like '3+4*2=' (digits and {OPS!r} alternating, then '='), "
                         f"got {problem!r}")
    return int(body[0]), list(body[1::2]), [int(c) for c in body[2::2]]


def _steps(problem: str) -> list:
    """``(a, op, b, c)`` for each operation of a problem, left to right: ``c = a op b`` mod 10."""
    a, ops, bs = _parse(problem)
    out = []
    for op, b in zip(ops, bs):
        c = _APPLY[op](a, b)
        out.append((a, op, b, c))
        a = c
    return out


def chain_values(problem: str) -> list:
    """The running values of a problem, left to right modulo 10: ``'3+4*2='`` -> ``[7, 4]``."""
    return [c for *_, c in _steps(problem)]


def scratchpad(problem: str) -> str:
    """The intermediate steps then the answer: ``'3+4*2='`` -> ``'3+4=7;7*2=4;>4'``."""
    steps = _steps(problem)
    return "".join(f"{a}{op}{b}={c};" for a, op, b, c in steps) + f">{steps[-1][3]}"


def chain_texts(problem: str, use_scratchpad: bool) -> tuple:
    """``(prompt, answer)`` texts; the answer ends with :data:`EOS` (direct: ``'4$'``)."""
    check.boolean(use_scratchpad, "use_scratchpad")
    return problem, (scratchpad(problem) if use_scratchpad else str(chain_values(problem)[-1])) + EOS


def _same_length(problems):
    """``problems`` as a non-empty list of texts of one length (the same number of steps)."""
    problems = check.sequence(problems, "problems", "a list of problem texts", nonempty=True)
    lengths = {len(check.string(p, f"problems[{i}]")) for i, p in enumerate(problems)}
    if len(lengths) != 1:
        raise ValueError(f"problems must all have the same number of steps, got prompt lengths "
                         f"{sorted(lengths)}")
    return problems


def chain_batch(problems, use_scratchpad: bool):
    """``(idx, targets)`` ``(n, L)`` for problems of one length: ``prompt + answer`` shifted by one,
    targets ``IGNORE_INDEX`` on the prompt (the loss is on the answer and its end only)."""
    pairs = [chain_texts(p, use_scratchpad) for p in _same_length(problems)]
    seqs = [encode(p + a) for p, a in pairs]
    ids = torch.tensor(seqs, dtype=torch.long)  # (n, L): the same steps, the same length
    idx, targets = ids[:, :-1], ids[:, 1:].clone()
    targets[:, :len(pairs[0][0]) - 1] = IGNORE_INDEX
    return idx, targets


def final_answer(text: str) -> str:
    """The final answer of a generated continuation: what follows the last ``>`` (if any),
    up to :data:`EOS` (or the end), e.g. ``'3+4=7;>7$'`` -> ``'7'`` and ``'7$'`` -> ``'7'``."""
    check.string(text, "text")
    text = text.split(EOS, 1)[0]
    return text.rsplit(">", 1)[-1]


def exact_match(predictions, answers) -> float:
    """The share of ``predictions`` equal to ``answers`` (two lists of str of the same length)."""
    predictions = check.sequence(predictions, "predictions", "a list of str", nonempty=True)
    answers = check.sequence(answers, "answers", "a list of str", nonempty=True)
    check.same_length(predictions, answers, "predictions", "answers")
    for i, (p, a) in enumerate(zip(predictions, answers)):
        check.string(p, f"predictions[{i}]")
        check.string(a, f"answers[{i}]")
    return sum(p == a for p, a in zip(predictions, answers)) / len(answers)


@torch.no_grad()
def solve_chains(model, problems, use_scratchpad: bool, batch_size: int = 256) -> list:
    """Greedy continuations (texts, up to and without :data:`EOS`) of ``model`` for the problems."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT, got {check.describe(model)}")
    problems = _same_length(problems)
    check.boolean(use_scratchpad, "use_scratchpad")
    batch_size = check.integer(batch_size, "batch_size", 1)
    longest = len(chain_texts(problems[0], use_scratchpad)[1])  # every answer has this length
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(problems), batch_size):
        prompts = torch.tensor([encode(p) for p in problems[i:i + batch_size]], dtype=torch.long)
        gen = model.generate(prompts.to(dev), longest, temperature=0, eos=EOS_ID)[:, prompts.shape[1]:]
        out += [decode(row.cpu()).split(EOS, 1)[0] for row in gen]
    return out


def chain_accuracy(model, problems, use_scratchpad: bool) -> float:
    """Exact match of the model's final answers (:func:`final_answer`) against the true values."""
    texts = solve_chains(model, problems, use_scratchpad)
    return exact_match([final_answer(t) for t in texts], [str(chain_values(p)[-1]) for p in problems])


# --------------------------------------------------------------------------- batches and models

# ``steps`` training batches ``(idx, targets)`` from ``sample(batch_size, generator)``, each
# freshly drawn (no example is seen twice); the same ``seed`` gives the same batches.
TaskBatches = lm.SampledBatches


def icl_batches(batch_size: int, steps: int, seed: int = 0, num_pairs: int = 17, num_inputs: int = 8,
                num_outputs: int = 8) -> TaskBatches:
    """Batches of :func:`icl_batch` (random-mapping tasks) for :func:`d2lt.train.fit`."""
    num_pairs = check.integer(num_pairs, "num_pairs", 1)
    _sizes(num_inputs, num_outputs)
    return TaskBatches(lambda b, g: icl_batch(b, num_pairs, g, num_inputs, num_outputs), batch_size,
                       steps, seed)


def chain_batches(batch_size: int, steps: int, use_scratchpad: bool, seed: int = 0,
                  num_steps: int = 5, ops: str = OPS) -> TaskBatches:
    """Batches of :func:`chain_batch` over fresh problems of ``num_steps`` operations."""
    check.boolean(use_scratchpad, "use_scratchpad")
    num_steps = check.integer(num_steps, "num_steps", 1)
    _check_ops(ops)
    return TaskBatches(lambda b, g: chain_batch(sample_chains(b, num_steps, g, ops), use_scratchpad),
                       batch_size, steps, seed)


def icl_gpt_config(size: str = "small", block_size: int = 48) -> GPTConfig:
    """The :class:`d2lt.gpt.GPTConfig` of the chapter's models over :data:`VOCAB`.

    ``small`` (the in-context learner): 3 pre-norm blocks, 4 heads, width 128;
    ``tiny`` (the chain-of-thought models): 2 blocks, 2 heads, width 64. No dropout.
    """
    check.string(size, "size", choices=("tiny", "small"))
    block_size = check.integer(block_size, "block_size", 8, 1024)
    n_layer, n_head, n_embd = {"tiny": (2, 2, 64), "small": (3, 4, 128)}[size]
    return GPTConfig(vocab_size=len(VOCAB), block_size=block_size, n_layer=n_layer, n_head=n_head,
                     n_embd=n_embd, dropout=0.0)


def icl_gpt(kind: str):
    """``(model, config_dict, path)`` of a shipped model: ``kind`` is ``"icl"`` (random mappings,
    ``small``), ``"direct"`` or ``"scratchpad"`` (chains, ``tiny``). The model is fresh (seed 0);
    ``config_dict`` is what :func:`d2lt.train.load_checkpoint` checks."""
    from .train import course_checkpoint

    check.string(kind, "kind", choices=("icl", "direct", "scratchpad"))
    config = icl_gpt_config("small" if kind == "icl" else "tiny")
    with seeded(0):  # the same initial weights, the caller's generator untouched
        model = GPT(config)
    name = {"icl": CHECKPOINT_ICL, "direct": CHECKPOINT_COT_DIRECT, "scratchpad": CHECKPOINT_COT}[kind]
    cfg = {**config.to_dict(), "task": kind, "vocab": VOCAB, "layout": LAYOUT}
    return model, cfg, course_checkpoint(name)
