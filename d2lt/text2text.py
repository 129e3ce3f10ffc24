"""Everything as text to text: what chapter 9 and ``scripts/train_t5_checkpoint.py`` share.

In the order data flows through them:

* :func:`train_unigram` / :func:`unigram_from_state` -- a SentencePiece-style
  unigram tokenizer (``tokenizers`` library; ``<pad>`` = 0, ``</s>`` = 1,
  ``<unk>`` = 2, and the sentinels ``<extra_id_k>`` at the end of the
  vocabulary, id ``V - 1 - k``, as in T5);
* :func:`token_stream` and :class:`SpanCorruptionBatches` -- the wiki text as
  one stream of ids cut into fixed-length pieces, each corrupted afresh with
  :func:`d2lt.t5.random_span_mask` and :func:`d2lt.t5.span_corrupt`;
  :func:`heldout_batches` gives fixed masks for a held-out loss, and
  :func:`evaluate_loss` the mean token cross entropy;
* :func:`wiki_t5_config` / :func:`build_t5` / :func:`wiki_t5` -- the small
  T5 of the chapter and its shipped checkpoint;
* :func:`aclsum_pairs`, :func:`sentiment_pairs` -- tasks as (prefixed input
  text, target text) pairs; :func:`encode_pairs` and :class:`Seq2SeqBatches`
  (``mix="mixed"``: every minibatch drawn from all tasks; ``"by_task"``: each
  minibatch from one task, the tasks taking turns);
* :func:`decoder_only_batches` -- the same pairs for a decoder-only model:
  prompt and target in one sequence, the loss on the target tokens only;
* :func:`rouge` (ROUGE-1/2/L F1, the ``rouge-score`` definitions, checked
  against that library in the tests), :func:`lead_baseline`,
  :func:`generate_texts`.
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter

import torch

from . import validate as check
from .t5 import T5, T5Config, random_span_mask, span_corrupt

PAD, EOS, UNK = 0, 1, 2
SPECIALS = ("<pad>", "</s>", "<unk>")
NUM_SENTINELS = 32
TOKENIZER_LAYOUT = "unigram-v1"
IGNORE_INDEX = -100


# --------------------------------------------------------------------------- tokenizer

def _texts(texts):
    texts = check.sequence(texts, "texts", "a list of str", nonempty=True)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts must hold str, texts[{i}] is {check.describe(t)}")
    return texts


def _pipeline(tok):
    from tokenizers import decoders, normalizers, pre_tokenizers

    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()


def _add_sentinels(tok, vocab_size):
    sentinels = [f"<extra_id_{k}>" for k in reversed(range(NUM_SENTINELS))]
    tok.add_special_tokens(sentinels)
    for k in range(NUM_SENTINELS):
        if tok.token_to_id(f"<extra_id_{k}>") != vocab_size - 1 - k:
            raise RuntimeError("the sentinels did not land at the end of the vocabulary")
    for i, s in enumerate(SPECIALS):
        if tok.token_to_id(s) != i:
            raise RuntimeError(f"special token {s} is not id {i}")
    return tok


def train_unigram(texts, vocab_size: int = 8000):
    """A unigram tokenizer of ``vocab_size`` ids (specials and 32 sentinels included) trained on ``texts``."""
    from tokenizers import Tokenizer, models, trainers

    texts = _texts(texts)
    vocab_size = check.integer(vocab_size, "vocab_size", 100)
    tok = Tokenizer(models.Unigram())
    _pipeline(tok)
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size - NUM_SENTINELS, special_tokens=list(SPECIALS),
                                      unk_token="<unk>", show_progress=False)
    tok.train_from_iterator(texts, trainer)
    if tok.get_vocab_size() != vocab_size - NUM_SENTINELS:  # a tiny corpus gives fewer pieces
        raise ValueError(f"the texts hold too few distinct pieces for vocab_size={vocab_size} "
                         f"(got {tok.get_vocab_size() + NUM_SENTINELS})")
    return _add_sentinels(tok, vocab_size)


def tokenizer_state(tok) -> list:
    """The unigram pieces and scores ``[[piece, score], ...]`` (JSON; sentinels left out)."""
    import json

    model = json.loads(tok.to_str())["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"expected a unigram tokenizer, got {model.get('type')}")
    return [[p, float(s)] for p, s in model["vocab"]]


def unigram_from_state(pieces):
    """Rebuild a :func:`train_unigram` tokenizer from :func:`tokenizer_state`."""
    from tokenizers import Tokenizer, models

    pieces = check.sequence(pieces, "pieces", "a list of [piece, score] pairs", nonempty=True)
    try:
        vocab = [(str(p), float(s)) for p, s in pieces]
    except (TypeError, ValueError) as e:
        raise ValueError(f"pieces must be [piece, score] pairs: {e}") from e
    tok = Tokenizer(models.Unigram(vocab, unk_id=UNK))
    _pipeline(tok)
    return _add_sentinels(tok, len(vocab) + NUM_SENTINELS)


def sentinel_id(vocab_size: int):
    """T5's sentinel ids: ``k -> vocab_size - 1 - k`` (a function for :func:`d2lt.t5.span_corrupt`)."""
    vocab_size = check.integer(vocab_size, "vocab_size", NUM_SENTINELS + len(SPECIALS) + 1)

    def sid(k):
        if k >= NUM_SENTINELS:
            raise ValueError(f"only {NUM_SENTINELS} sentinels: span {k} has none (fewer or longer spans)")
        return vocab_size - 1 - k
    return sid


def encode(tok, text: str, max_len: int | None = None, eos: bool = True) -> list:
    """The ids of ``text`` (truncated to ``max_len`` ids, ``</s>`` included when ``eos``)."""
    check.string(text, "text")
    max_len = check.integer(max_len, "max_len", 2, allow_none=True)
    ids = tok.encode(text).ids
    if max_len is not None:
        ids = ids[:max_len - int(eos)]
    return ids + [EOS] if eos else ids


def decode(tok, ids) -> str:
    """Text of ``ids``, stopping at the first ``</s>``; padding and ``-100`` dropped."""
    if torch.is_tensor(ids):
        ids = ids.tolist()
    ids = check.sequence(ids, "ids", "a list of token ids")
    out = []
    for i in ids:
        if i == EOS:
            break
        if i not in (PAD, IGNORE_INDEX):
            out.append(int(i))
    return tok.decode(out, skip_special_tokens=False)


# --------------------------------------------------------------------------- span-corruption pretraining

def token_stream(tok, articles) -> torch.Tensor:
    """The ids of ``articles`` (:class:`d2lt.data.Article`) one after another, each ended by ``</s>``."""
    articles = check.sequence(articles, "articles", "a list of d2lt.data.Article", nonempty=True)
    ids = []
    for a in articles:
        if not hasattr(a, "text"):
            raise TypeError(f"articles must hold d2lt.data.Article, got {check.describe(a)}")
        for para in a.text.split("\n\n"):
            if para.strip():
                ids.extend(tok.encode(para.strip()).ids)
        ids.append(EOS)
    return torch.tensor(ids, dtype=torch.long)


def corrupt_example(ids, vocab_size: int, noise_density: float = 0.15, mean_span_length: float = 3.0,
                    generator=None):
    """One span-corruption pair from a piece of text ``ids``: ``(inputs, targets)``, each ended by ``</s>``."""
    if torch.is_tensor(ids):
        ids = ids.tolist()
    mask = random_span_mask(len(ids), noise_density, mean_span_length, generator)
    inp, tgt = span_corrupt([int(i) for i in ids], mask, sentinel_id(vocab_size))
    return inp + [EOS], tgt + [EOS]


def pad_batch(rows, pad: int = PAD) -> torch.Tensor:
    """A ``(B, max length)`` long tensor of the lists ``rows``, right-padded with ``pad``."""
    rows = check.sequence(rows, "rows", "a list of lists of ids", nonempty=True)
    L = max(len(r) for r in rows)
    if L == 0:
        raise ValueError("rows are all empty")
    out = torch.full((len(rows), L), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


def make_batch(pairs) -> dict:
    """``input_ids``, ``attention_mask`` and ``labels`` (``-100`` on padding) of ``(inputs, targets)`` id lists."""
    pairs = check.sequence(pairs, "pairs", "a list of (input ids, target ids)", nonempty=True)
    x = pad_batch([p[0] for p in pairs])
    y = pad_batch([p[1] for p in pairs], IGNORE_INDEX)
    return {"input_ids": x, "attention_mask": pad_batch([[1] * len(p[0]) for p in pairs], 0).bool(),
            "labels": y}


class SpanCorruptionBatches:
    """Minibatches of span-corrupted pieces of ``stream``, masked afresh every time they are drawn.

    The stream is cut into pieces of ``length`` ids; every epoch shuffles the
    pieces (seed ``seed + epoch``) and corrupts each with a new random mask.
    """

    def __init__(self, stream, length: int, batch_size: int, vocab_size: int, noise_density: float = 0.15,
                 mean_span_length: float = 3.0, seed: int = 0):
        check.tensor(stream, "stream", dims=1, kind="int", nonempty=True)
        self.length = check.integer(length, "length", 2)
        self.batch_size = check.integer(batch_size, "batch_size", 1)
        self.vocab_size = check.integer(vocab_size, "vocab_size", 1)
        self.noise_density = check.number(noise_density, "noise_density", 0, 1, strict=True)
        self.mean_span_length = check.number(mean_span_length, "mean_span_length", 1)
        self.seed = check.integer(seed, "seed")
        n = len(stream) // self.length
        if n < 1:
            raise ValueError(f"the stream has {len(stream)} ids, fewer than one piece of {self.length}")
        self.pieces = stream[:n * self.length].view(n, self.length)
        self.epoch = 0

    def __len__(self):
        return math.ceil(len(self.pieces) / self.batch_size)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.pieces), generator=g)
        for s in range(0, len(order), self.batch_size):
            rows = [corrupt_example(self.pieces[i], self.vocab_size, self.noise_density,
                                    self.mean_span_length, g) for i in order[s:s + self.batch_size]]
            yield make_batch(rows)


def heldout_batches(stream, length: int, vocab_size: int, batch_size: int = 64, max_pieces=None,
                    noise_density: float = 0.15, mean_span_length: float = 3.0, seed: int = 1234) -> list:
    """Fixed span-corruption batches of held-out text (the same masks every call)."""
    b = SpanCorruptionBatches(stream, length, batch_size, vocab_size, noise_density, mean_span_length, seed)
    max_pieces = check.integer(max_pieces, "max_pieces", 1, allow_none=True)
    if max_pieces is not None:
        b.pieces = b.pieces[:max_pieces]
    g = torch.Generator().manual_seed(seed)
    rows = [corrupt_example(p, vocab_size, noise_density, mean_span_length, g) for p in b.pieces]
    return [make_batch(rows[s:s + batch_size]) for s in range(0, len(rows), batch_size)]


def t5_step(model: T5, batch):
    """The mean token cross entropy of ``model`` on a batch of :func:`make_batch` (teacher forcing)."""
    return model.loss(batch["input_ids"], batch["labels"], batch["attention_mask"])


@torch.no_grad()
def evaluate_loss(model, batches, step=None) -> float:
    """Mean cross entropy per target token over ``batches`` (eval mode; for a T5 by default)."""
    batches = check.sequence(batches, "batches", "a list of batches", nonempty=True)
    was = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for b in batches:
            n = int((b["labels"] != IGNORE_INDEX).sum()) if "labels" in b else int((b["targets"] != -1).sum())
            loss = t5_step(model, b) if step is None else step(model, b)
            total += float(loss) * n
            count += n
    finally:
        model.train(was)
    return total / count


# --------------------------------------------------------------------------- the chapter's small T5

WIKI_LENGTH = 128          # raw tokens per pretraining piece
WIKI_VOCAB = 8000


def wiki_t5_config(vocab_size: int = WIKI_VOCAB) -> dict:
    """The chapter's T5: 2 + 2 blocks, d_model 128, 4 heads of 32, d_ff 512, tied head (original T5).

    No dropout: the pretraining sees each piece of text a few times only, each
    time with a new mask (T5 v1.1 also pretrains without dropout).
    """
    vocab_size = check.integer(vocab_size, "vocab_size", 100)
    return dict(vocab_size=vocab_size, d_model=128, d_kv=32, d_ff=512, num_layers=2, num_heads=4,
                relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout=0.0,
                activation="relu", gated=False, tie_weights=True, pad_id=PAD, eos_id=EOS)


def build_t5(config: dict) -> T5:
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (see wiki_t5_config), got {check.describe(config)}")
    return T5(T5Config(**config))


PRETRAINING = dict(batch_size=32, length=WIKI_LENGTH, noise_density=0.15, mean_span_length=3.0,
                   lr=2e-3, warmup=300)


def inverse_sqrt_lr(step: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then ``peak * sqrt(warmup / step)`` (T5's decay)."""
    step = check.integer(step, "step", 1)
    warmup = check.integer(warmup, "warmup", 1)
    peak = check.number(peak, "peak", 0, strict=True)
    return peak * min(step / warmup, math.sqrt(warmup / step))


class InverseSqrtAdam(torch.optim.Adam):
    """Adam whose learning rate follows :func:`inverse_sqrt_lr`, set before every step."""

    def __init__(self, params, peak: float, warmup: int, start_step: int = 0, **kwargs):
        self.peak = check.number(peak, "peak", 0, strict=True)
        self.warmup = check.integer(warmup, "warmup", 1)
        self.steps_taken = check.integer(start_step, "start_step", 0)
        super().__init__(params, lr=peak, **kwargs)

    def current_lr(self) -> float:
        return inverse_sqrt_lr(max(self.steps_taken, 1), self.peak, self.warmup)

    def step(self, closure=None):
        self.steps_taken += 1
        for g in self.param_groups:
            g["lr"] = inverse_sqrt_lr(self.steps_taken, self.peak, self.warmup)
        return super().step(closure)


def wiki_t5(tok=None):
    """``(model, config, checkpoint path)`` of the chapter's T5 (weights untrained until loaded)."""
    config = wiki_t5_config(WIKI_VOCAB if tok is None else tok.get_vocab_size())
    config["tokenizer"] = TOKENIZER_LAYOUT
    from .train import course_checkpoint

    model = build_t5({k: v for k, v in config.items() if k != "tokenizer"})
    return model, config, course_checkpoint("ch09_t5_wiki.pt")


def load_wiki_t5():
    """The shipped pretrained T5 and its tokenizer: ``(model, tokenizer, extra)``.

    Raises ``FileNotFoundError`` or ``ValueError`` (see :func:`d2lt.train.load_checkpoint`)
    when the checkpoint is missing or does not match today's code.
    """
    import json

    from .train import _checkpoint_path, course_checkpoint, load_checkpoint

    path = course_checkpoint("ch09_t5_wiki.pt")
    if not _checkpoint_path(path).is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (make it with scripts/train_t5_checkpoint.py)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    extra = json.loads(payload["extra"]) if isinstance(payload, dict) and "extra" in payload else {}
    if "tokenizer" not in extra:
        raise ValueError(f"checkpoint {path} holds no tokenizer")
    tok = unigram_from_state(extra["tokenizer"])
    model, config, _ = wiki_t5(tok)
    extra = load_checkpoint(path, model, config)
    return model.eval(), tok, extra


# --------------------------------------------------------------------------- tasks as text to text

ASPECTS = ("challenge", "approach", "outcome")


def aclsum_pairs(papers, aspects=ASPECTS, sections=("abstract",)) -> list:
    """``(input text, target text, task)`` triples: ``"summarize ASPECT: " + document`` -> that summary."""
    papers = check.sequence(papers, "papers", "a list of d2lt.data.Paper", nonempty=True)
    aspects = check.sequence(aspects, "aspects", "a list of aspect names", nonempty=True)
    for a in aspects:
        check.string(a, "aspect", choices=ASPECTS)
    out = []
    for p in papers:
        if not hasattr(p, "summaries"):
            raise TypeError(f"papers must hold d2lt.data.Paper, got {check.describe(p)}")
        doc = p.document(tuple(sections))
        for a in aspects:
            out.append((f"summarize {a}: {doc}", p.summaries[a], a))
    return out


def sentiment_pairs(sentences) -> list:
    """``("sentiment: " + text, "positive"/"negative", "sentiment")`` triples of :class:`d2lt.data.Sentence`."""
    sentences = check.sequence(sentences, "sentences", "a list of d2lt.data.Sentence", nonempty=True)
    return [(f"sentiment: {s.text}", "positive" if s.label else "negative", "sentiment") for s in sentences]


def encode_pairs(tok, pairs, max_src: int = 256, max_tgt: int = 64) -> list:
    """``(input ids, target ids, task)`` of text triples, truncated, each ended by ``</s>``."""
    pairs = check.sequence(pairs, "pairs", "a list of (input, target, task) triples", nonempty=True)
    for i, p in enumerate(pairs):
        if not (isinstance(p, (tuple, list)) and len(p) == 3 and isinstance(p[0], str)
                and isinstance(p[1], str)):
            raise TypeError(f"pairs[{i}] must be (input text, target text, task), got {check.describe(p)}")
    return [(encode(tok, x, max_src), encode(tok, y, max_tgt), t) for x, y, t in pairs]


class Seq2SeqBatches:
    """Minibatches of encoded pairs, a fresh order every epoch.

    ``mix="mixed"``: each minibatch is drawn from all pairs at once, whatever
    their task. ``mix="by_task"``: each minibatch holds one task only, and the
    tasks take turns (a, b, a, b, ...), so both see the same number of steps.
    """

    def __init__(self, encoded, batch_size: int, mix: str = "mixed", seed: int = 0):
        self.encoded = check.sequence(encoded, "encoded", "a list of (input ids, target ids, task) "
                                      "triples (see encode_pairs)", nonempty=True)
        for i, e in enumerate(self.encoded):
            if not (isinstance(e, (tuple, list)) and len(e) == 3 and isinstance(e[0], (list, tuple))
                    and isinstance(e[1], (list, tuple)) and e[0] and e[1]):
                raise TypeError(f"encoded[{i}] must be (input ids, target ids, task) with non-empty id "
                                f"lists, got {check.describe(e)}")
        self.batch_size = check.integer(batch_size, "batch_size", 1)
        self.mix = check.string(mix, "mix", choices=("mixed", "by_task"))
        self.seed = check.integer(seed, "seed")
        self.epoch = 0

    def __len__(self):
        return math.ceil(len(self.encoded) / self.batch_size)

    def order(self) -> list:
        """The index lists of one epoch's minibatches."""
        rng = random.Random(self.seed * 1000 + self.epoch)
        self.epoch += 1
        idx = list(range(len(self.encoded)))
        rng.shuffle(idx)
        if self.mix == "mixed":
            return [idx[s:s + self.batch_size] for s in range(0, len(idx), self.batch_size)]
        by = {}
        for i in idx:
            by.setdefault(self.encoded[i][2], []).append(i)
        queues = [[v[s:s + self.batch_size] for s in range(0, len(v), self.batch_size)]
                  for _, v in sorted(by.items())]
        out, t = [], 0
        while any(queues):  # the tasks take turns; a task that has run out is skipped
            q = queues[t % len(queues)]
            if q:
                out.append(q.pop(0))
            t += 1
        return out

    def __iter__(self):
        for rows in self.order():
            yield self.collate([self.encoded[i] for i in rows])

    def collate(self, rows):
        return make_batch([(r[0], r[1]) for r in rows])


def decoder_only_example(prompt_ids, target_ids, block_size: int, sep: int = EOS):
    """``(idx, targets)`` for a decoder-only model: ``prompt sep target`` shifted by one.

    ``targets`` is ``-1`` (ignored by :class:`d2lt.gpt.GPT`) wherever the next
    token is part of the prompt: the loss falls on the target (and its ``</s>``)
    only. A prompt too long for ``block_size + 1`` ids in all loses its end
    (``</s>`` ids inside the prompt are dropped).
    """
    prompt_ids = check.sequence(prompt_ids, "prompt_ids", "a list of token ids", nonempty=True)
    target_ids = check.sequence(target_ids, "target_ids", "a list of token ids", nonempty=True)
    block_size = check.integer(block_size, "block_size", 2)
    sep = check.integer(sep, "sep", 0)
    if target_ids and target_ids[-1] != EOS:
        target_ids = target_ids + [EOS]
    room = block_size + 1 - len(target_ids) - 1
    if room < 1:
        raise ValueError(f"the target ({len(target_ids)} ids) leaves no room for a prompt in "
                         f"block_size {block_size}")
    p = [i for i in prompt_ids if i != EOS][:room]
    seq = p + [sep] + target_ids
    idx, nxt = seq[:-1], seq[1:]
    targets = [-1] * (len(p)) + nxt[len(p):]
    return idx, targets


class DecoderOnlyBatches(Seq2SeqBatches):
    """:class:`Seq2SeqBatches` for a :class:`d2lt.gpt.GPT`: ``{"idx", "targets"}`` (prompt + target)."""

    def __init__(self, encoded, batch_size: int, block_size: int, mix: str = "mixed", seed: int = 0):
        super().__init__(encoded, batch_size, mix, seed)
        self.block_size = check.integer(block_size, "block_size", 2)

    def collate(self, rows):
        ex = [decoder_only_example(r[0], r[1], self.block_size) for r in rows]
        return {"idx": pad_batch([e[0] for e in ex]), "targets": pad_batch([e[1] for e in ex], -1)}


def gpt_step(model, batch):
    """The loss of a :class:`d2lt.gpt.GPT` on a :class:`DecoderOnlyBatches` batch."""
    return model(batch["idx"], batch["targets"])[1]


# --------------------------------------------------------------------------- generation and scores

def _banned(generated: list, n: int) -> list:
    """Tokens that would repeat an n-gram of ``generated`` if they came next."""
    if n < 1 or len(generated) < n - 1:
        return []
    if n == 1:
        return list(set(generated))
    prefix = tuple(generated[len(generated) - n + 1:])
    return [generated[i + n - 1] for i in range(len(generated) - n + 1)
            if tuple(generated[i:i + n - 1]) == prefix]


@torch.no_grad()
def greedy(model: T5, input_ids, max_new_tokens: int, attention_mask=None, no_repeat_ngram=None):
    """Greedy decoding of a T5; ``no_repeat_ngram`` n: never emit a token that repeats an n-gram.

    Without ``no_repeat_ngram`` it is :meth:`d2lt.t5.T5.generate`; with it, the
    most probable token that does not complete an n-gram already in the output
    (``transformers``' ``no_repeat_ngram_size``). Returns ``(B, L)`` ids after
    the start token; ``eos_id`` then ``pad_id`` once a row has ended.
    """
    if not isinstance(model, T5):
        raise TypeError(f"model must be a d2lt.t5.T5, got {check.describe(model)}")
    max_new_tokens = check.integer(max_new_tokens, "max_new_tokens", 1)
    no_repeat_ngram = check.integer(no_repeat_ngram, "no_repeat_ngram", 1, allow_none=True)
    if no_repeat_ngram is None:
        return model.generate(input_ids, max_new_tokens, attention_mask)
    was = model.training
    model.eval()
    try:
        c = model.config
        mask = None if attention_mask is None else attention_mask.bool()
        enc = model.encode(input_ids, mask)
        B = input_ids.shape[0]
        out = torch.full((B, 1), c.pad_id, dtype=torch.long, device=input_ids.device)
        done = torch.zeros(B, dtype=torch.bool, device=input_ids.device)
        for _ in range(max_new_tokens):
            logits = model.decode(out, enc, mask)[:, -1].float()
            for b in range(B):
                if not bool(done[b]):
                    banned = _banned(out[b, 1:].tolist(), no_repeat_ngram)
                    if banned:
                        logits[b, banned] = float("-inf")
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, c.pad_id), nxt)
            out = torch.cat([out, nxt[:, None]], 1)
            done |= nxt == c.eos_id
            if bool(done.all()):
                break
    finally:
        model.train(was)
    return out[:, 1:]


@torch.no_grad()
def generate_texts(model: T5, tok, inputs, max_new_tokens: int = 64, batch_size: int = 64, max_src: int = 256,
                   no_repeat_ngram=None):
    """Greedy outputs of a T5 for the input texts (batched, right-padded with an attention mask);
    ``no_repeat_ngram``: see :func:`greedy`."""
    inputs = _texts(inputs)
    if not isinstance(model, T5):
        raise TypeError(f"model must be a d2lt.t5.T5, got {check.describe(model)}")
    max_new_tokens = check.integer(max_new_tokens, "max_new_tokens", 1)
    batch_size = check.integer(batch_size, "batch_size", 1)
    max_src = check.integer(max_src, "max_src", 2)
    out = []
    model.eval()
    for s in range(0, len(inputs), batch_size):
        rows = [encode(tok, x, max_src) for x in inputs[s:s + batch_size]]
        x = pad_batch(rows)
        mask = pad_batch([[1] * len(r) for r in rows], 0).bool()
        dev = next(model.parameters()).device
        ids = greedy(model, x.to(dev), max_new_tokens, mask.to(dev), no_repeat_ngram)
        out.extend(decode(tok, r) for r in ids.cpu())
    return out


@torch.no_grad()
def generate_decoder_only(model, tok, prompts, max_new_tokens: int = 64, block_size: int | None = None) -> list:
    """Greedy continuations of a :class:`d2lt.gpt.GPT` after ``prompt </s>``, up to ``</s>`` (one at a time)."""
    prompts = _texts(prompts)
    max_new_tokens = check.integer(max_new_tokens, "max_new_tokens", 1)
    block = check.integer(block_size, "block_size", max_new_tokens + 2, allow_none=True) \
        or model.config.block_size
    out = []
    for p in prompts:
        ids = [i for i in tok.encode(p).ids][:block - max_new_tokens - 1] + [EOS]
        x = torch.tensor([ids])
        out.append(decode(tok, _greedy_gpt(model, x, max_new_tokens)))
    return out


def _greedy_gpt(model, x, max_new_tokens):
    model.eval()
    new = []
    for _ in range(max_new_tokens):
        logits, _ = model(x)
        nxt = int(logits[0, -1].argmax())
        if nxt == EOS:
            break
        new.append(nxt)
        x = torch.cat([x, torch.tensor([[nxt]])], 1)
    return new


_TOKEN = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list:
    """``rouge-score``'s tokens (no stemming): lower case, runs of ``a-z0-9``, everything else a separator."""
    check.string(text, "text")
    return _TOKEN.findall(text.lower())


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _f1(overlap, n_hyp, n_ref):
    if n_hyp == 0 or n_ref == 0 or overlap == 0:
        return 0.0
    p, r = overlap / n_hyp, overlap / n_ref
    return 2 * p * r / (p + r)


def lcs_length(a, b) -> int:
    """Length of the longest common subsequence of two token lists."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_scores(hyp: str, ref: str) -> dict:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 of one hypothesis against one reference."""
    h, r = rouge_tokens(hyp), rouge_tokens(ref)
    out = {}
    for n in (1, 2):
        hn, rn = _ngrams(h, n), _ngrams(r, n)
        out[f"rouge{n}"] = _f1(sum((hn & rn).values()), sum(hn.values()), sum(rn.values()))
    out["rougeL"] = _f1(lcs_length(h, r), len(h), len(r))
    return out


def rouge(hyps, refs) -> dict:
    """Mean ROUGE-1/2/L F1 (in %) over hypothesis/reference pairs (``rouge-score``'s definitions)."""
    hyps, refs = _texts(hyps), _texts(refs)
    if len(hyps) != len(refs):
        raise ValueError(f"hyps and refs must pair up: {len(hyps)} hypotheses, {len(refs)} references")
    total = Counter()
    for h, r in zip(hyps, refs):
        total.update(rouge_scores(h, r))
    return {k: 100 * total[k] / len(hyps) for k in ("rouge1", "rouge2", "rougeL")}


def lead_baseline(text: str, n: int = 1) -> str:
    """The first ``n`` sentences of a space-tokenised document (a sentence ends with `` . ``, ``?`` or ``!``)."""
    check.string(text, "text")
    n = check.integer(n, "n", 1)
    words, out, count = text.split(), [], 0
    for w in words:
        out.append(w)
        if w in (".", "?", "!"):
            count += 1
            if count == n:
                break
    return " ".join(out)
