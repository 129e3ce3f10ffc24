"""Language modelling on the Wikipedia articles: tokenizer, token blocks, step, perplexity, schedule.

The pieces chapter 10, ``scripts/train_gpt_checkpoint.py`` and the later
chapters (in-context learning, scaling) share, in the order data flows:

* :func:`train_bpe` / :func:`wiki_bpe` -- a byte-level BPE tokenizer (GPT-2's
  kind: every byte is a symbol, so no text is ever unknown) trained on the wiki
  train split with the ``tokenizers`` library; ``<|endoftext|>`` is id 0. The
  trained tokenizer is cached in the d2lt cache with a record and trained
  again (the same vocabulary: the trainer is deterministic) when the cached
  file is missing, damaged or stale;
* :func:`encode_articles` / :func:`wiki_tokens` -- one long stream of ids,
  ``<|endoftext|>`` before every article (it is the ``<bos>`` of one article
  and the ``<eos>`` of the one before), cached per split;
* :class:`TokenBlocks` -- fixed blocks of that stream: inputs ``x`` and the
  targets ``y``, the same tokens shifted by one;
* :func:`lm_step` -- the loss of a :class:`d2lt.gpt.GPT` on one batch (for
  :func:`d2lt.train.fit`);
* :func:`evaluate_loss` / :func:`perplexity` -- the mean cross entropy per
  token on held-out blocks, and ``exp`` of it; :func:`unigram_perplexity`, the
  baseline that ignores the context;
* :func:`warmup_cosine` and :class:`ScheduledAdamW` -- a linear warm-up then a
  cosine decay of the learning rate (GPT-2/3's recipe), as an optimizer that
  works with any loop;
* :func:`mask_forward` -- the same GPT run under any attention mask (a
  prefix-LM mask: bidirectional over a prompt, causal after it), for the
  chapter's comparison of decoder-only and prefix attention.
"""
from __future__ import annotations

import hashlib
import io
import math

import numpy as np
import torch
from torch.nn import functional as F

from . import validate as check
from .core import seeded
from .train import ScheduledStep

__all__ = ["EOT", "EOT_ID", "train_bpe", "bpe_from_json", "tokenizer_fingerprint", "wiki_bpe",
           "encode_articles", "wiki_tokens", "TokenBlocks", "SampledBatches", "RandomBatches", "lm_step",
           "evaluate_loss", "perplexity", "token_counts", "unigram_perplexity", "warmup_cosine",
           "ScheduledAdamW", "prefix_mask", "mask_forward", "wiki_gpt_config", "wiki_gpt",
           "WIKI_VOCAB_SIZE", "CHECKPOINT"]

EOT = "<|endoftext|>"  # GPT-2's one special token: the boundary between documents
EOT_ID = 0
TOKENIZER_LAYOUT = "bpe-bytelevel-v1"
TOKENS_LAYOUT = "wiki-tokens-v1"
WIKI_VOCAB_SIZE = 4096
CHECKPOINT = "ch10_gpt_wiki.pt"


# --------------------------------------------------------------------------- tokenizer

def _texts(texts, name="texts") -> list:
    texts = check.sequence(texts, name, "a list of str", nonempty=True)
    for i, t in enumerate(texts):
        check.string(t, f"{name}[{i}]")
    return texts


def train_bpe(texts, vocab_size: int = WIKI_VOCAB_SIZE, min_frequency: int = 2):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``texts`` (a list of str).

    Text is cut into words with GPT-2's pre-tokenizer (a word keeps the space
    before it, shown as ``Ġ``), each word is a sequence of bytes, and the
    trainer merges the most frequent adjacent pair again and again until the
    vocabulary holds ``vocab_size`` symbols: the 256 bytes, ``<|endoftext|>``
    (id 0) and the merges. Decoding is exact: ``decode(encode(t)) == t``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = _texts(texts)
    vocab_size = check.integer(vocab_size, "vocab_size", 258, what="an int >= 258 (256 bytes, "
                               "<|endoftext|> and at least one merge)")
    min_frequency = check.integer(min_frequency, "min_frequency", 1)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    if tok.token_to_id(EOT) != EOT_ID:
        raise RuntimeError(f"the trained tokenizer maps {EOT} to {tok.token_to_id(EOT)}, expected {EOT_ID}")
    return tok


def bpe_from_json(text: str):
    """A tokenizer from its JSON form (``tokenizer.to_str()``), checked to hold ``<|endoftext|>`` at 0."""
    from tokenizers import Tokenizer

    check.string(text, "text", nonempty=True)
    try:
        tok = Tokenizer.from_str(text)
    except Exception as e:  # the library raises its own exception type on malformed JSON
        raise ValueError(f"text is not a tokenizer's JSON ({type(e).__name__}: {e})") from e
    if tok.token_to_id(EOT) != EOT_ID:
        raise ValueError(f"the tokenizer maps {EOT} to {tok.token_to_id(EOT)}, expected {EOT_ID}")
    return tok


def _check_tokenizer(tokenizer, name="tokenizer"):
    if not (hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "to_str")):
        raise TypeError(f"{name} must be a tokenizers.Tokenizer, got {check.describe(tokenizer)}")
    return tokenizer


def tokenizer_fingerprint(tokenizer) -> str:
    """A short sha256 of the tokenizer's vocabulary and merges (what fixes the ids)."""
    _check_tokenizer(tokenizer)
    return hashlib.sha256(tokenizer.to_str().encode("utf-8")).hexdigest()[:16]


def _wiki_source(arts) -> str:
    h = hashlib.sha256()
    for a in arts:
        h.update(a.title.encode("utf-8") + b"\0" + hashlib.sha256(a.text.encode("utf-8")).digest())
    return h.hexdigest()[:16]


def wiki_bpe(vocab_size: int = WIKI_VOCAB_SIZE, rebuild: bool = False):
    """The byte-level BPE tokenizer of the wiki train split (:func:`train_bpe`), cached.

    The cached JSON is verified against its record (sha256, the train split's
    fingerprint, the size); when it is missing, damaged or made from other text
    it is trained again (about two seconds), which gives the same tokenizer.
    """
    from . import data
    from .files import IntegrityError, atomic_write_text, verify_record, write_record

    vocab_size = check.integer(vocab_size, "vocab_size", 258)
    check.boolean(rebuild, "rebuild")
    arts = data.load_wiki("train")
    record = {"layout": TOKENIZER_LAYOUT, "source": _wiki_source(arts), "vocab_size": vocab_size}
    out = data.cache_dir() / "prepared" / f"wiki-bpe-{vocab_size}.json"
    if not rebuild:
        try:
            verify_record(out, **record)
            return bpe_from_json(out.read_text(encoding="utf-8"))
        except (IntegrityError, ValueError, OSError):
            pass
    tok = train_bpe([a.text for a in arts], vocab_size)
    atomic_write_text(out, tok.to_str())
    write_record(out, **record)
    return tok


# --------------------------------------------------------------------------- token stream

def encode_articles(tokenizer, texts) -> torch.Tensor:
    """``<|endoftext|> t_1 <|endoftext|> t_2 ...`` as one long (int64) tensor of ids."""
    _check_tokenizer(tokenizer)
    texts = _texts(texts)
    out = []
    for enc in tokenizer.encode_batch(texts):
        out.append(EOT_ID)
        out.extend(enc.ids)
    return torch.tensor(out, dtype=torch.long)


def wiki_tokens(tokenizer, split: str) -> torch.Tensor:
    """The ids of one wiki split (``train``, ``valid`` or ``test``) as one stream, cached per tokenizer."""
    from . import data
    from .files import IntegrityError, atomic_write_bytes, verify_record, write_record

    _check_tokenizer(tokenizer)
    check.string(split, "split", choices=data.SPLITS)
    arts = data.load_wiki(split)
    fp = tokenizer_fingerprint(tokenizer)
    record = {"layout": TOKENS_LAYOUT, "source": _wiki_source(arts), "tokenizer": fp}
    out = data.cache_dir() / "prepared" / f"wiki-tokens-{fp}-{split}.npy"
    try:
        verify_record(out, **record)
        return torch.from_numpy(np.load(out).astype(np.int64))
    except (IntegrityError, ValueError, OSError):
        pass
    ids = encode_articles(tokenizer, [a.text for a in arts])
    buf = io.BytesIO()
    np.save(buf, ids.numpy().astype(np.int32))
    atomic_write_bytes(out, buf.getvalue())
    write_record(out, **record)
    return ids


def _check_ids(ids, name="ids", vocab_size=None) -> torch.Tensor:
    check.tensor(ids, name, dims=1, shape="(N,)", kind="int", nonempty=True)
    if int(ids.min()) < 0 or (vocab_size is not None and int(ids.max()) >= vocab_size):
        hi = "" if vocab_size is None else f", < {vocab_size}"
        raise ValueError(f"{name} must hold token ids >= 0{hi}, got values in "
                         f"[{int(ids.min())}, {int(ids.max())}]")
    return ids


class SampledBatches:
    """``steps`` batches from ``sample(batch_size, generator)``, drawn afresh on every iteration
    from a generator seeded with ``seed``: the same seed gives the same batches. ``len()`` is
    ``steps``."""

    def __init__(self, sample, batch_size: int, steps: int, seed: int = 0):
        if not callable(sample):
            raise TypeError(f"sample must be callable(batch_size, generator) -> (idx, targets), "
                            f"got {check.describe(sample)}")
        self.sample = sample
        self.batch_size = check.integer(batch_size, "batch_size", 1)
        self.steps = check.integer(steps, "steps", 1)
        self.seed = check.integer(seed, "seed", 0)

    def __len__(self):
        return self.steps

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            yield self.sample(self.batch_size, g)


class RandomBatches(SampledBatches):
    """``steps`` batches of ``batch_size`` blocks cut at random offsets (the same for the same seed).

    Each epoch of iteration draws the same offsets again: a fixed, reproducible
    sequence of batches. ``len()`` is ``steps``.
    """

    def __init__(self, blocks: "TokenBlocks", batch_size: int, steps: int, seed: int = 0):
        self.blocks = blocks
        super().__init__(self._cut, batch_size, steps, seed)

    def _cut(self, batch_size: int, g: torch.Generator):
        T, ids = self.blocks.block_size, self.blocks.ids
        n = ids.numel() - T  # offsets 0 .. N-T-1 leave room for the shifted targets
        starts = torch.randint(0, n, (batch_size,), generator=g)
        rows = ids[starts[:, None] + torch.arange(T + 1)]  # (B, T + 1)
        return rows[:, :-1], rows[:, 1:]


class TokenBlocks:
    """A token stream cut into blocks of ``block_size``: ``x`` and the targets ``y`` (``x`` shifted by one).

    ``blocks[i]`` is the ``i``-th non-overlapping block: ``x = ids[iT : iT+T]``,
    ``y = ids[iT+1 : iT+T+1]`` (so ``y[t]`` is the token that follows ``x[t]``).
    :meth:`batches` draws training batches at random offsets;
    :meth:`loader` walks the non-overlapping blocks in order (evaluation).
    """

    def __init__(self, ids, block_size: int):
        self.ids = _check_ids(ids)
        self.block_size = check.integer(block_size, "block_size", 1)
        if self.ids.numel() < self.block_size + 1:
            raise ValueError(f"ids must hold at least block_size + 1 = {self.block_size + 1} tokens, "
                             f"got {self.ids.numel()}")

    def __len__(self):
        return (self.ids.numel() - 1) // self.block_size

    def __getitem__(self, i):
        i = check.integer(i, "i", -len(self), len(self) - 1)
        i %= len(self)
        T = self.block_size
        return self.ids[i * T:(i + 1) * T], self.ids[i * T + 1:(i + 1) * T + 1]

    def num_tokens(self) -> int:
        """The number of predicted tokens in the non-overlapping blocks."""
        return len(self) * self.block_size

    def batches(self, batch_size: int, steps: int, seed: int = 0) -> RandomBatches:
        """``steps`` training batches ``(x, y)``, each ``(batch_size, block_size)``, at random offsets."""
        return RandomBatches(self, batch_size, steps, seed)

    def loader(self, batch_size: int, max_blocks: int | None = None) -> list:
        """The non-overlapping blocks in order, ``batch_size`` at a time (the last batch may be smaller)."""
        batch_size = check.integer(batch_size, "batch_size", 1)
        n = len(self) if max_blocks is None else min(len(self), check.integer(max_blocks, "max_blocks", 1))
        T = self.block_size
        x = self.ids[:n * T].view(n, T)
        y = self.ids[1:n * T + 1].view(n, T)
        return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


# --------------------------------------------------------------------------- training and evaluation

def _check_model(model):
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise TypeError(f"model must be a d2lt language model (d2lt.gpt.GPT or d2lt.llama.Llama), "
                        f"got {check.describe(model)}")
    return model


def _check_batch(batch):
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(f"batch must be a pair (x, y) of (B, T) id tensors, got {check.describe(batch)}")
    x, y = batch
    check.tensor(x, "x", dims=2, shape="(B, T)", kind="int", nonempty=True)
    check.tensor(y, "y", dims=2, shape="(B, T)", kind="int")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    return x, y


def lm_step(model, batch):
    """The mean next-token cross entropy of ``model`` on ``batch = (x, y)`` (``y``: ``x`` shifted by one)."""
    _check_model(model)
    x, y = _check_batch(batch)
    return model(x, y)[1]


@torch.no_grad()
def evaluate_loss(model, blocks, batch_size: int = 32, max_blocks: int | None = None, device=None) -> float:
    """The mean cross entropy (nats per token) of ``model`` over the blocks of ``blocks``
    (a :class:`TokenBlocks`).

    Every block is scored with the context of its own block only; the mean
    weighs every token alike. ``max_blocks`` keeps the first blocks only.
    """
    from .train import as_device

    _check_model(model)
    if not isinstance(blocks, TokenBlocks):
        raise TypeError(f"blocks must be a d2lt.lm.TokenBlocks, got {check.describe(blocks)}")
    dev = next(model.parameters()).device if device is None else as_device(device)
    was = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for x, y in blocks.loader(batch_size, max_blocks):
                x, y = x.to(dev), y.to(dev)
                logits, _ = model(x)
                total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                         y.reshape(-1), reduction="sum").item()
                count += y.numel()
    finally:
        model.train(was)
    return total / count


def perplexity(model, blocks, batch_size: int = 32, max_blocks: int | None = None, device=None) -> float:
    """``exp`` of :func:`evaluate_loss`: the effective number of equally likely next tokens."""
    return math.exp(evaluate_loss(model, blocks, batch_size, max_blocks, device))


def token_counts(ids, vocab_size: int) -> torch.Tensor:
    """How often each id occurs in ``ids``: a float64 tensor ``(vocab_size,)``."""
    vocab_size = check.integer(vocab_size, "vocab_size", 1)
    _check_ids(ids, "ids", vocab_size)
    return torch.bincount(ids, minlength=vocab_size).double()


def unigram_perplexity(train_ids, eval_ids, vocab_size: int, alpha: float = 1.0) -> float:
    """Perplexity on ``eval_ids`` of the model that ignores the context:
    ``p(w) = (n_w + alpha) / (N + alpha V)``.

    The counts come from ``train_ids``; ``alpha > 0`` (add-alpha smoothing)
    keeps a token never seen in training from getting probability zero.
    """
    vocab_size = check.integer(vocab_size, "vocab_size", 1)
    alpha = check.number(alpha, "alpha", 0, strict=True)
    counts = token_counts(train_ids, vocab_size)
    _check_ids(eval_ids, "eval_ids", vocab_size)
    logp = torch.log((counts + alpha) / (counts.sum() + alpha * vocab_size))
    return math.exp(-logp[eval_ids].mean().item())


def warmup_cosine(step: int, max_lr: float, warmup: int, total: int, min_lr: float = 0.0) -> float:
    """The learning rate of step ``step`` (0, 1, ...): a linear warm-up, then a cosine decay.

    ``lr = max_lr (step + 1) / warmup`` for the first ``warmup`` steps; then
    ``min_lr + (max_lr - min_lr) (1 + cos(pi s)) / 2`` with ``s`` going from 0
    to 1 over the remaining ``total - warmup`` steps; ``min_lr`` afterwards.
    ``warmup = 0`` starts at ``max_lr``.
    """
    step = check.integer(step, "step", 0)
    max_lr = check.number(max_lr, "max_lr", 0, strict=True)
    total = check.integer(total, "total", 1)
    warmup = check.integer(warmup, "warmup", 0, total, what=f"an int in [0, total={total}]")
    min_lr = check.number(min_lr, "min_lr", 0, max_lr, what=f"a number in [0, max_lr={max_lr}]")
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    s = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * s))


class ScheduledAdamW(ScheduledStep, torch.optim.AdamW):
    """AdamW whose learning rate follows :func:`warmup_cosine`, set before every ``step()``.

    Built from a model, it decays only the matrices (weights of linear layers
    and embeddings), not biases and norm gains, as GPT-2/3 and nanoGPT do;
    ``betas = (0.9, 0.95)`` as in GPT-3. ``start_step`` resumes a schedule.
    """

    def __init__(self, model, lr: float, warmup: int, total: int, min_lr: float | None = None,
                 weight_decay: float = 0.1, betas=(0.9, 0.95), start_step: int = 0):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {check.describe(model)}")
        min_lr = lr / 10 if min_lr is None else min_lr
        warmup_cosine(0, lr, warmup, total, min_lr)  # checks the schedule's arguments
        weight_decay = check.number(weight_decay, "weight_decay", 0)
        self.max_lr, self.warmup, self.total, self.min_lr = float(lr), int(warmup), int(total), float(min_lr)
        self.steps_taken = check.integer(start_step, "start_step", 0)
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        rest = [p for p in params if p.dim() < 2]
        super().__init__([{"params": decay, "weight_decay": weight_decay},
                          {"params": rest, "weight_decay": 0.0}], lr=self.current_lr(), betas=betas)

    def current_lr(self) -> float:
        """The learning rate the next ``step()`` will use."""
        return warmup_cosine(self.steps_taken, self.max_lr, self.warmup, self.total, self.min_lr)


# --------------------------------------------------------------------------- other attention masks

def prefix_mask(T: int, prefix: int, device=None) -> torch.Tensor:
    """A ``(T, T)`` bool mask (True = may attend): the first ``prefix`` positions see each other
    (bidirectional), every later position sees the prefix and the positions up to itself (causal).

    ``prefix = 0`` (or 1) is the plain causal mask; ``prefix = T`` full attention.
    """
    T = check.integer(T, "T", 1)
    prefix = check.integer(prefix, "prefix", 0, T, what=f"an int in [0, T={T}]")
    device = check.device(device)
    mask = torch.ones(T, T, dtype=torch.bool, device=device).tril()
    mask[:prefix, :prefix] = True
    return mask


def mask_forward(model, idx, mask, targets=None, *, states=None):
    """``(logits, loss)`` of a :class:`d2lt.gpt.GPT` whose attention follows ``mask``, not the causal one.

    ``mask`` is bool, ``(T, T)`` or ``(B, T, T)``, True where a query may attend
    to a key. The model's own weights are used block by block, exactly as in
    its ``forward`` (pre- or post-norm, dropout in training mode): with the
    causal mask the result equals ``model(idx, targets)``. ``states``, a list,
    receives the output ``(B, T, C)`` of every block in order (to probe what
    each position's representation holds).
    """
    if states is not None and not isinstance(states, list):
        raise TypeError(f"states must be None or a list to fill, got {check.describe(states)}")
    from .gpt import GPT, IGNORE_INDEX, check_prompt

    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT, got {check.describe(model)}")
    cfg = model.config
    check_prompt(idx, cfg.vocab_size)
    B, T = idx.shape
    if T > cfg.block_size:
        raise ValueError(f"idx has {T} positions; the model has block_size {cfg.block_size}")
    check.tensor(mask, "mask", dims=(2, 3), shape=f"({T}, {T}) or ({B}, {T}, {T})", kind="bool")
    if tuple(mask.shape[-2:]) != (T, T) or (mask.dim() == 3 and mask.shape[0] != B):
        raise ValueError(f"mask must have shape ({T}, {T}) or ({B}, {T}, {T}), got {tuple(mask.shape)}")
    if not bool(mask.any(-1).all()):
        raise ValueError("mask must let every query attend to at least one key (a row of False "
                         "gives an undefined softmax)")
    if targets is not None:
        model._check_targets(targets, idx)
    m = mask.to(idx.device)
    m = m[None, None] if m.dim() == 2 else m[:, None]  # (B or 1, 1, T, T): every head alike
    tr = model.transformer
    x = tr.drop(tr.wte(idx) + tr.wpe(torch.arange(T, device=idx.device)))
    for block in tr.h:
        a = block.attn
        p = a.dropout if model.training else 0.0

        def attn(h, a=a, p=p):
            C = h.shape[-1]
            q, k, v = a.c_attn(h).split(C, dim=2)
            q, k, v = (t.view(B, T, a.n_head, C // a.n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=p, scale=a.scale)
            return a.resid_dropout(a.c_proj(y.transpose(1, 2).reshape(B, T, C)))

        if block.pre:
            x = x + attn(block.ln_1(x))
            x = x + block.mlp(block.ln_2(x))
        else:
            x = block.ln_1(x + attn(x))
            x = block.ln_2(x + block.mlp(x))
        if states is not None:
            states.append(x)
    logits = model.lm_head(tr.ln_f(x))
    loss = None
    if targets is not None:
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                               ignore_index=IGNORE_INDEX)
    return logits, loss


# --------------------------------------------------------------------------- the course's wiki GPT

def wiki_gpt_config(tokenizer, size: str = "small"):
    """The :class:`d2lt.gpt.GPTConfig` of the shipped checkpoint (``small``) or of a tiny run (``tiny``)."""
    from .gpt import GPTConfig

    _check_tokenizer(tokenizer)
    check.string(size, "size", choices=("tiny", "small"))
    V = tokenizer.get_vocab_size()
    if size == "tiny":
        return GPTConfig(vocab_size=V, block_size=64, n_layer=2, n_head=2, n_embd=64, dropout=0.0)
    return GPTConfig(vocab_size=V, block_size=128, n_layer=4, n_head=6, n_embd=192, dropout=0.1)


def wiki_gpt(tokenizer, size: str = "small"):
    """``(model, config_dict, path)``: a fresh :class:`d2lt.gpt.GPT` for the wiki text and where its
    checkpoint lives. ``config_dict`` (the model config and the tokenizer's
    fingerprint) is what :func:`d2lt.train.load_checkpoint` checks.
    """
    from .gpt import GPT
    from .train import course_checkpoint

    config = wiki_gpt_config(tokenizer, size)
    with seeded(0):  # the same initial weights, the caller's generator untouched
        model = GPT(config)
    cfg = {**config.to_dict(), "tokenizer": tokenizer_fingerprint(tokenizer), "data": TOKENS_LAYOUT}
    return model, cfg, course_checkpoint(CHECKPOINT)
