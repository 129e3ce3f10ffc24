"""Pretraining a small BERT on the Wikipedia articles: tokenizer, batches, step, metrics.

The pieces chapter 7 and ``scripts/train_bert_checkpoint.py`` share, in the
order data flows through them:

* :func:`train_wordpiece` / :func:`wiki_tokenizer` -- a WordPiece tokenizer
  (lower-cased, d2l's special tokens ``<pad> <unk> <cls> <sep> <mask>``)
  trained on the train split with the ``tokenizers`` library, cached in the
  d2lt cache and trained again when the cache is missing or damaged;
  :func:`wordpiece_from_vocab` rebuilds one from a stored vocabulary, and
  :func:`shipped_tokenizer` is the one stored with the shipped checkpoint;
* :func:`split_sentences` and :func:`article_paragraphs` -- articles into
  paragraphs of tokenised sentences;
* :func:`pretraining_examples` -- sentence pairs for masked language modelling
  and next-sentence prediction (``<cls> A <sep> B <sep>``, truncated to
  ``max_len``), and :class:`MLMBatches`, which masks every batch afresh;
* :func:`pretrain_step` -- the summed MLM and NSP losses of a
  :class:`d2lt.bert.BERTModel`;
* :func:`evaluate` and :func:`unigram_baseline` -- masked-token accuracy on
  held-out text, and what always guessing the commonest training token scores;
* :func:`fill_mask` -- the top-k predictions for each ``<mask>`` in a text;
* :func:`wiki_bert` -- the model, config and path of ``checkpoints/ch07_bert_wiki.pt``.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from . import validate as check
from .bert import IGNORE_INDEX, BERTModel, get_tokens_and_segments, mask_tokens, mlm_targets
from .bert import next_sentence_pairs

SPECIALS = ("<pad>", "<unk>", "<cls>", "<sep>", "<mask>")  # ids 0-4, in this order
PAD, UNK, CLS, SEP, MASK = range(len(SPECIALS))
TOKENIZER_LAYOUT = "wordpiece-v1"


# --------------------------------------------------------------------------- tokenizer

def _normalizer_and_pretokenizer():
    from tokenizers import normalizers, pre_tokenizers

    return (normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                       strip_accents=True, lowercase=True),
            pre_tokenizers.BertPreTokenizer())


def _finish(tok):
    """Special tokens recognised in raw text (``"a <mask> b"``), no template added."""
    from tokenizers import decoders

    tok.add_special_tokens(list(SPECIALS))
    tok.decoder = decoders.WordPiece(prefix="##")
    for i, s in enumerate(SPECIALS):
        if tok.token_to_id(s) != i:
            raise ValueError(f"the tokenizer maps {s!r} to {tok.token_to_id(s)}, expected {i}")
    return tok


def train_wordpiece(texts, vocab_size: int = 6000, min_frequency: int = 2):
    """A ``tokenizers.Tokenizer`` (WordPiece, lower-cased) trained on ``texts`` (a list of str).

    Words are split on whitespace and punctuation, then into the longest
    pieces of the vocabulary; a piece inside a word carries the prefix ``##``.
    The special tokens :data:`SPECIALS` take ids 0-4, the other pieces follow
    in sorted order. Where pair counts tie, the trainer may pick a slightly
    different set of pieces from one run to the next (it breaks ties in hash
    order), so a trained model keeps its vocabulary with it
    (:func:`shipped_tokenizer`).
    """
    from tokenizers import Tokenizer, models, trainers

    texts = check.sequence(texts, "texts", "a list of str", nonempty=True)
    for i, t in enumerate(texts):
        check.string(t, f"texts[{i}]")
    vocab_size = check.integer(vocab_size, "vocab_size", len(SPECIALS) + 100)
    min_frequency = check.integer(min_frequency, "min_frequency", 1)
    tok = Tokenizer(models.WordPiece(unk_token="<unk>", max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer = _normalizer_and_pretokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=list(SPECIALS), show_progress=False,
                                        continuing_subword_prefix="##")
    tok.train_from_iterator(texts, trainer=trainer)
    # the trainer numbers the pieces in an order that varies between runs: sort them
    rest = sorted(set(vocab_of(tok)) - set(SPECIALS))
    return wordpiece_from_vocab([*SPECIALS, *rest])


def wordpiece_from_vocab(vocab):
    """The tokenizer of :func:`train_wordpiece` rebuilt from its vocabulary (a list, id order)."""
    from tokenizers import Tokenizer, models

    vocab = check.sequence(vocab, "vocab", "a list of tokens in id order", nonempty=True)
    if list(vocab[:len(SPECIALS)]) != list(SPECIALS):
        raise ValueError(f"vocab must start with the special tokens {list(SPECIALS)}, got "
                         f"{list(vocab[:len(SPECIALS)])}")
    if len(set(vocab)) != len(vocab) or not all(isinstance(v, str) and v for v in vocab):
        raise ValueError("vocab must hold distinct non-empty str tokens")
    tok = Tokenizer(models.WordPiece({v: i for i, v in enumerate(vocab)}, unk_token="<unk>",
                                     max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer = _normalizer_and_pretokenizer()
    return _finish(tok)


def vocab_of(tokenizer) -> list:
    """The tokenizer's vocabulary as a list in id order."""
    v = tokenizer.get_vocab()
    return [t for t, _ in sorted(v.items(), key=lambda kv: kv[1])]


def wiki_tokenizer(vocab_size: int = 6000, rebuild: bool = False):
    """The WordPiece tokenizer of the wiki train split, cached in the d2lt cache.

    The cached vocabulary is verified against its record (sha256, the source
    articles' fingerprint); when it is missing or damaged it is trained again
    (in about 3 s). The shipped checkpoint carries the vocabulary it was
    trained with: use :func:`shipped_tokenizer` with it.
    """
    from . import data
    from .files import IntegrityError, atomic_write_text, verify_record, write_record

    vocab_size = check.integer(vocab_size, "vocab_size", len(SPECIALS) + 100)
    check.boolean(rebuild, "rebuild")
    arts = data.load_wiki("train")
    source = hashlib.sha256("\n".join(a.title for a in arts).encode()).hexdigest()[:16]
    out = data.cache_dir() / "prepared" / f"wiki-wordpiece-{vocab_size}.json"
    record = {"layout": TOKENIZER_LAYOUT, "source": source, "vocab_size": vocab_size}
    if not rebuild:
        try:
            verify_record(out, **record)
            return wordpiece_from_vocab(json.loads(out.read_text(encoding="utf-8")))
        except (IntegrityError, ValueError, TypeError):
            pass
    tok = train_wordpiece([a.text for a in arts], vocab_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(vocab_of(tok), ensure_ascii=False))
    write_record(out, **record)
    return tok


# --------------------------------------------------------------------------- sentences

_ABBREV = re.compile(r"(?:\b(?:[A-Z]|Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|etc|e\.g|i\.e|c|ca|No|Vol|Fig|"
                     r"approx|Gen|Col|Lt|Mt|U\.S)\.)$")
_BOUNDARY = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(paragraph: str) -> list:
    """Sentences of ``paragraph``: a break after ``.``, ``!`` or ``?`` followed by a space and a
    capital letter or digit, except after common abbreviations and initials ("Dr.", "J.")."""
    check.string(paragraph, "paragraph")
    out, start = [], 0
    for m in _BOUNDARY.finditer(paragraph):
        if _ABBREV.search(paragraph[start:m.start()]):
            continue
        out.append(paragraph[start:m.end(1)].strip())
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def article_paragraphs(articles, tokenizer) -> list:
    """Each paragraph of ``articles`` as a list of sentences, each a list of WordPiece tokens."""
    articles = check.sequence(articles, "articles", "a list of d2lt.data.Article")
    paragraphs = []
    for a in articles:
        text = getattr(a, "text", None)
        if not isinstance(text, str):
            raise TypeError(f"articles must hold d2lt.data.Article objects, got {check.describe(a)}")
        for para in text.split("\n\n"):
            sents = split_sentences(para)
            if not sents:
                continue
            enc = tokenizer.encode_batch(sents, add_special_tokens=False)
            paragraphs.append([e.tokens for e in enc if e.tokens])
    return paragraphs


# --------------------------------------------------------------------------- examples and batches

@dataclass
class Examples:
    """Encoded sentence pairs: ``tokens``/``segments`` ``(N, max_len)``, ``valid_lens``/``is_next`` ``(N,)``."""

    tokens: torch.Tensor
    segments: torch.Tensor
    valid_lens: torch.Tensor
    is_next: torch.Tensor

    def __len__(self):
        return self.tokens.shape[0]

    @property
    def maskable(self) -> torch.Tensor:
        """Positions that may be masked: real tokens other than ``<cls>`` and ``<sep>``."""
        return self.tokens > MASK


def _truncate_pair(a, b, max_len):
    a, b = list(a), list(b)
    while len(a) + len(b) + 3 > max_len:  # <cls> a <sep> b <sep>
        (a if len(a) > len(b) else b).pop()
    return a, b


def pretraining_examples(paragraphs, tokenizer, max_len: int = 64, seed: int = 0) -> Examples:
    """Sentence pairs ``<cls> A <sep> B <sep>`` for MLM and NSP, as id tensors padded to ``max_len``.

    ``B`` follows ``A`` in its paragraph for half the pairs (``is_next`` 1) and is
    a random sentence otherwise (:func:`d2lt.bert.next_sentence_pairs`); the
    longer of the two is cut until the pair fits. Pairs with an empty side are
    dropped.
    """
    paragraphs = check.sequence(paragraphs, "paragraphs", "a list of paragraphs")
    max_len = check.integer(max_len, "max_len", 8)
    seed = check.integer(seed, "seed", 0)
    rows, segs, lens, nxt = [], [], [], []
    for a, b, is_next in next_sentence_pairs(paragraphs, random.Random(seed)):
        a, b = _truncate_pair(a, b, max_len)
        if not a or not b:
            continue
        toks, seg = get_tokens_and_segments(a, b)
        ids = [tokenizer.token_to_id(t) for t in toks]
        ids = [UNK if i is None else i for i in ids]
        n = len(ids)
        rows.append(ids + [PAD] * (max_len - n))
        segs.append(seg + [0] * (max_len - n))
        lens.append(n)
        nxt.append(int(is_next))
    if not rows:
        raise ValueError("paragraphs gave no sentence pair (each paragraph needs two sentences)")
    return Examples(torch.tensor(rows), torch.tensor(segs), torch.tensor(lens), torch.tensor(nxt))


class MLMBatches:
    """Batches ``(tokens, segments, valid_lens, labels, is_next)`` with masking drawn per batch.

    ``shuffle=True`` reorders the examples every pass and draws a new masking
    each time (dynamic masking, as RoBERTa does); with ``shuffle=False`` and the
    default rates the batches are the same on every pass (for evaluation).
    ``labels`` holds the original id at the chosen positions and
    :data:`d2lt.bert.IGNORE_INDEX` elsewhere. ``random_prob``/``keep_prob`` are
    the 10%/10% of the 80/10/10 rule.
    """

    def __init__(self, examples: Examples, batch_size: int, vocab_size: int, *, shuffle=True,
                 seed: int = 0, mask_prob=0.15, random_prob=0.1, keep_prob=0.1):
        if not isinstance(examples, Examples):
            raise TypeError(f"examples must be a d2lt.mlm.Examples, got {check.describe(examples)}")
        self.examples = examples
        self.batch_size = check.integer(batch_size, "batch_size", 1)
        self.vocab_size = check.integer(vocab_size, "vocab_size", len(SPECIALS) + 1)
        self.shuffle = check.boolean(shuffle, "shuffle")
        self.seed = check.integer(seed, "seed", 0)
        self.rates = dict(mask_prob=check.probability(mask_prob, "mask_prob"),
                          random_prob=check.probability(random_prob, "random_prob"),
                          keep_prob=check.probability(keep_prob, "keep_prob"))
        self.passes = 0

    def __len__(self):
        return math.ceil(len(self.examples) / self.batch_size)

    def __iter__(self):
        ex = self.examples
        g = torch.Generator().manual_seed(self.seed + (self.passes if self.shuffle else 0))
        self.passes += 1
        order = torch.randperm(len(ex), generator=g) if self.shuffle else torch.arange(len(ex))
        for i in range(0, len(ex), self.batch_size):
            idx = order[i:i + self.batch_size]
            toks = ex.tokens[idx]
            T = int(ex.valid_lens[idx].max())  # trim the padding every row shares
            toks = toks[:, :T]
            inputs, labels = mask_tokens(toks, toks > MASK, mask_id=MASK,
                                         vocab_size=self.vocab_size, generator=g, **self.rates)
            yield inputs, ex.segments[idx, :T], ex.valid_lens[idx], labels, ex.is_next[idx]


# --------------------------------------------------------------------------- model, step, metrics

def pretrain_step(model: BERTModel, batch, nsp_weight: float = 1.0):
    """Masked-LM cross-entropy (over the predicted positions) plus ``nsp_weight`` times NSP's."""
    tokens, segments, valid_lens, labels, is_next = batch
    positions, targets, weights = mlm_targets(labels)
    _, mlm_hat, nsp_hat = model(tokens, segments, valid_lens, positions)
    keep = weights > 0
    mlm = F.cross_entropy(mlm_hat[keep], targets[keep])
    if nsp_weight == 0:
        return mlm
    return mlm + nsp_weight * F.cross_entropy(nsp_hat, is_next)


@torch.no_grad()
def evaluate(model: BERTModel, batches, topk: int = 1) -> dict:
    """Masked-token accuracy (top-1 and top-``topk``), MLM cross-entropy and NSP accuracy.

    Returns ``{"accuracy", "topk_accuracy", "loss", "nsp_accuracy", "predicted"}``
    over every labelled position of ``batches`` (an :class:`MLMBatches`).
    """
    if not isinstance(model, BERTModel):
        raise TypeError(f"model must be a d2lt.bert.BERTModel, got {check.describe(model)}")
    topk = check.integer(topk, "topk", 1)
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    hit = hitk = n = nsp_hit = rows = 0
    loss = 0.0
    for batch in batches:
        tokens, segments, valid_lens, labels, is_next = (b.to(dev) for b in batch)
        positions, targets, weights = mlm_targets(labels)
        _, mlm_hat, nsp_hat = model(tokens, segments, valid_lens, positions)
        keep = weights > 0
        logits, y = mlm_hat[keep], targets[keep]
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        hit += int((logits.argmax(-1) == y).sum())
        hitk += int((logits.topk(topk, -1).indices == y[:, None]).any(-1).sum())
        n += y.numel()
        nsp_hit += int((nsp_hat.argmax(-1) == is_next).sum())
        rows += is_next.numel()
    model.train(was)
    if n == 0:
        raise ValueError("batches hold no predicted position")
    return {"accuracy": hit / n, "topk_accuracy": hitk / n, "loss": loss / n,
            "nsp_accuracy": nsp_hit / rows, "predicted": n}


def token_counts(examples: Examples, vocab_size: int) -> torch.Tensor:
    """How often each id occurs among the maskable positions of ``examples`` ``(vocab_size,)``."""
    vocab_size = check.integer(vocab_size, "vocab_size", 1)
    return torch.bincount(examples.tokens[examples.maskable], minlength=vocab_size).double()


def unigram_baseline(train: Examples, batches, vocab_size: int) -> dict:
    """The best guess that ignores context: the commonest training token at every masked position.

    Returns ``{"accuracy", "loss", "token"}``: the accuracy of always guessing that
    token, and the cross-entropy of the training unigram distribution (add-one
    smoothed) over the labelled positions of ``batches``.
    """
    counts = token_counts(train, vocab_size) + 1
    counts[:len(SPECIALS)] = 0
    logp = (counts / counts.sum()).log()
    top = int(counts.argmax())
    hit, n, loss = 0, 0, 0.0
    for batch in batches:
        y = batch[3][batch[3] != IGNORE_INDEX]
        hit += int((y == top).sum())
        loss -= float(logp[y].sum())
        n += y.numel()
    if n == 0:
        raise ValueError("batches hold no predicted position")
    return {"accuracy": hit / n, "loss": loss / n, "token": top}


# --------------------------------------------------------------------------- the course's model

def wiki_bert_config(vocab_size: int, size: str = "small") -> dict:
    """The configuration of the course's pretrained wiki BERT (``size="small"``, as shipped) or of
    the tiny model a CI run trains live (``size="tiny"``)."""
    vocab_size = check.integer(vocab_size, "vocab_size", len(SPECIALS) + 1)
    check.string(size, "size", choices=("small", "tiny"))
    if size == "small":
        return dict(vocab_size=vocab_size, num_hiddens=128, ffn_num_hiddens=512, num_heads=4,
                    num_blks=2, dropout=0.0, max_len=WIKI_MAX_LEN)
    return dict(vocab_size=vocab_size, num_hiddens=64, ffn_num_hiddens=128, num_heads=2,
                num_blks=2, dropout=0.0, max_len=WIKI_MAX_LEN)


def build_bert(config: dict) -> BERTModel:
    """A :class:`d2lt.bert.BERTModel` from a config dict of its constructor's arguments."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {check.describe(config)}")
    return BERTModel(**config)


def fill_mask(model: BERTModel, tokenizer, text: str, k: int = 5) -> list:
    """Top-``k`` ``(token, probability)`` lists, one for each ``<mask>`` in ``text``.

    The text is tokenised, wrapped as ``<cls> text <sep>`` (segment 0) and
    cut to the model's ``max_len``.
    """
    if not isinstance(model, BERTModel):
        raise TypeError(f"model must be a d2lt.bert.BERTModel, got {check.describe(model)}")
    check.string(text, "text", nonempty=True)
    k = check.integer(k, "k", 1, model.encoder.vocab_size)
    ids = [CLS] + tokenizer.encode(text, add_special_tokens=False).ids + [SEP]
    if MASK not in ids:
        raise ValueError(f"text must hold at least one '<mask>', got {text!r}")
    if len(ids) > model.encoder.max_len:
        raise ValueError(f"text has {len(ids)} tokens with <cls> and <sep>; the model holds "
                         f"max_len={model.encoder.max_len} positions")
    dev = next(model.parameters()).device
    tokens = torch.tensor([ids], device=dev)
    positions = torch.tensor([[i for i, t in enumerate(ids) if t == MASK]], device=dev)
    was = model.training
    model.eval()
    with torch.no_grad():
        _, logits, _ = model(tokens, torch.zeros_like(tokens), None, positions)
    model.train(was)
    probs = logits[0].softmax(-1)
    probs[:, :len(SPECIALS)] = 0  # a special token is never the answer
    out = []
    for row in probs:
        p, i = row.topk(k)
        out.append([(tokenizer.id_to_token(int(j)), float(q)) for q, j in zip(p, i)])
    return out


# --------------------------------------------------------------------------- the shipped checkpoint

WIKI_VOCAB_SIZE = 6000
WIKI_MAX_LEN = 32
CHECKPOINT = "ch07_bert_wiki.pt"


def vocab_fingerprint(tokenizer) -> str:
    """A short sha256 of the tokenizer's vocabulary (in id order)."""
    return hashlib.sha256("\n".join(vocab_of(tokenizer)).encode()).hexdigest()[:16]


PAIRS_LAYOUT = "wiki-pairs-v1"
_SPLIT_SEEDS = {"train": 0, "valid": 1, "test": 2}


def wiki_examples(tokenizer, max_len: int = WIKI_MAX_LEN, splits=("train", "valid", "test")) -> dict:
    """``{split: Examples}``: the sentence pairs of the wiki articles of each split.

    The pairs of each split (drawn with a fixed seed per split) are cached in
    the d2lt cache, keyed by the vocabulary and ``max_len``, and verified
    against their record when read; a missing or damaged file is rebuilt.
    """
    from . import data
    from .files import IntegrityError, atomic_write, verify_record, write_record

    splits = check.sequence(splits, "splits", "a list of split names")
    max_len = check.integer(max_len, "max_len", 8)
    fp = vocab_fingerprint(tokenizer)
    out = {}
    for split in splits:
        if split not in _SPLIT_SEEDS:
            raise ValueError(f"splits must name 'train', 'valid' or 'test', got {split!r}")
        path = data.cache_dir() / "prepared" / f"{PAIRS_LAYOUT}-{split}-{fp}-{max_len}.pt"
        record = {"layout": PAIRS_LAYOUT, "vocab": fp, "max_len": max_len, "split": split}
        try:
            verify_record(path, **record)
            t = torch.load(path, map_location="cpu", weights_only=True)
            out[split] = Examples(t["tokens"], t["segments"], t["valid_lens"], t["is_next"])
            continue
        except (IntegrityError, ValueError, KeyError, RuntimeError, OSError):
            pass
        paras = article_paragraphs(data.load_wiki(split), tokenizer)
        ex = pretraining_examples(paras, tokenizer, max_len, seed=_SPLIT_SEEDS[split])
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"tokens": ex.tokens.to(torch.int32), "segments": ex.segments.to(torch.int8),
                   "valid_lens": ex.valid_lens, "is_next": ex.is_next}
        atomic_write(path, lambda f: torch.save(tensors, f))
        write_record(path, **record)
        out[split] = ex
    for ex in out.values():
        ex.tokens, ex.segments = ex.tokens.long(), ex.segments.long()
    return out


def eval_batches(examples: Examples, vocab_size: int, batch_size: int = 128, seed: int = 1234):
    """Fixed held-out batches for :func:`evaluate`: 15% of the tokens of each row become
    ``<mask>`` (no random or kept tokens, so every prediction is a real blank)."""
    return MLMBatches(examples, batch_size, vocab_size, shuffle=False, seed=seed,
                      random_prob=0.0, keep_prob=0.0)


def wiki_bert(tokenizer, size: str = "small"):
    """``(model, config, path)`` of the course's wiki BERT: the shipped checkpoint's model
    (``size="small"``) or a tiny one; ``config`` ties the checkpoint to the vocabulary."""
    V = tokenizer.get_vocab_size()
    arch = wiki_bert_config(V, size)
    config = {**arch, "vocab": vocab_fingerprint(tokenizer), "size": size}
    from .train import course_checkpoint
    return build_bert(arch), config, course_checkpoint(CHECKPOINT)


def shipped_tokenizer():
    """The tokenizer stored in the shipped checkpoint, or None when there is none (or it is
    unreadable: :func:`d2lt.train.load_checkpoint` then says why)."""
    from .train import course_checkpoint

    path = course_checkpoint(CHECKPOINT)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        vocab = json.loads(payload["extra"])["vocab"]
        return wordpiece_from_vocab(vocab)
    except Exception:  # missing, damaged or without a vocabulary: the caller falls back
        return None
