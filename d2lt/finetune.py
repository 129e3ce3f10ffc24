"""Fine-tuning a pretrained encoder for sentence classification (chapter 8).

The pieces, in the order a notebook uses them:

* :func:`make_batches` tokenizes sentences once with a ``transformers``-style
  tokenizer and cuts them into :class:`Batch` es of similar length (little
  padding), shuffled by a seed or in a fixed order;
* :func:`pool` turns the encoder's outputs ``(B, T, D)`` into one vector per
  sentence: the ``<cls>`` position, or the mean over the real tokens;
* :class:`SentenceClassifier` is an encoder, a pooling, and the added layer(s);
* :func:`layer_features` runs a frozen encoder once and keeps the pooled
  vector of every layer; :func:`fit_linear` trains a logistic-regression
  probe on such features (full batch, L-BFGS);
* :func:`finetune` trains every parameter with AdamW and BERT's schedule,
  :func:`linear_warmup_decay` (linear warm-up, then linear decay to 0);
* :func:`predict` / :func:`accuracy` score a model; :func:`stratified_subset`
  and :func:`learning_curve` measure accuracy against the number of labelled
  examples over several seeds.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .bert import BERTEncoder, init_bert
from .train import as_device

POOLINGS = ("cls", "mean")


# --------------------------------------------------------------------------- inputs

@dataclass
class Batch:
    """One batch of sentences: ``tokens``, ``segments`` ``(B, T)``, ``valid_lens`` ``(B,)``,
    ``labels`` ``(B,)`` or None, and ``index`` ``(B,)``, each sentence's position in the
    list it came from."""

    tokens: torch.Tensor
    segments: torch.Tensor
    valid_lens: torch.Tensor
    labels: torch.Tensor | None
    index: torch.Tensor

    def to(self, device):
        return Batch(*(None if t is None else t.to(device) for t in
                       (self.tokens, self.segments, self.valid_lens, self.labels, self.index)))

    def __len__(self):
        return self.tokens.shape[0]


def _check_texts(texts, name="texts"):
    texts = check.sequence(texts, name, "a list of str (sentences)", nonempty=True,
                           hint="wrap a single sentence in a list")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] must be a str, got {check.describe(t)}")
    return texts


def _check_labels(labels, n, name="labels"):
    if labels is None:
        return None
    if torch.is_tensor(labels):
        check.tensor(labels, name, dims=1, kind="int", shape=f"({n},)")
        labels = labels.tolist()
    labels = check.sequence(labels, name, "a list of int class ids")
    if len(labels) != n:
        raise ValueError(f"{name} must hold one label per sentence ({n}), got {len(labels)}")
    return [check.integer(v, f"{name}[{i}]", 0) for i, v in enumerate(labels)]


def _check_tokenizer(tokenizer):
    if not callable(tokenizer):
        raise TypeError("tokenizer must be callable like a transformers tokenizer "
                        f"(texts -> {{'input_ids': ...}}), got {check.describe(tokenizer)}")
    pad = getattr(tokenizer, "pad_token_id", None)
    if not check.is_int(pad):
        raise TypeError("tokenizer must have an int pad_token_id (a transformers tokenizer), got "
                        f"{check.describe(pad)}")
    return int(pad)


def tokenize(tokenizer, texts, max_len: int = 128):
    """Token ids and segment ids of each sentence (``<cls> ... <sep>``), lists without padding."""
    _check_tokenizer(tokenizer)
    texts = _check_texts(texts)
    max_len = check.integer(max_len, "max_len", 3)
    enc = tokenizer(texts, truncation=True, max_length=max_len)
    ids = [list(x) for x in enc["input_ids"]]
    segs = ([list(x) for x in enc["token_type_ids"]] if "token_type_ids" in enc
            else [[0] * len(x) for x in ids])
    return ids, segs


def _collate(ids, segs, rows, pad_id, labels):
    lens = [len(ids[i]) for i in rows]
    T = max(lens)
    tokens = torch.full((len(rows), T), pad_id, dtype=torch.long)
    segments = torch.zeros((len(rows), T), dtype=torch.long)
    for r, i in enumerate(rows):
        tokens[r, :lens[r]] = torch.tensor(ids[i])
        segments[r, :lens[r]] = torch.tensor(segs[i])
    y = None if labels is None else torch.tensor([labels[i] for i in rows])
    return Batch(tokens, segments, torch.tensor(lens), y, torch.tensor(rows))


def make_batches(tokenizer, texts, labels=None, batch_size: int = 32, *, shuffle: bool = False,
                 seed: int = 0, max_len: int = 128, by_length: bool = True) -> list:
    """``texts`` (and ``labels``) as a list of :class:`Batch`, each padded to its longest sentence.

    ``by_length=True`` groups sentences of similar length so that little
    padding is computed: without ``shuffle`` the sentences are sorted by length
    (for inference; ``Batch.index`` says where each came from); with
    ``shuffle`` a seeded permutation is sorted by length within pools of 50
    batches and the batches are then shuffled (for training). Sentences longer
    than ``max_len`` tokens are truncated.
    """
    pad_id = _check_tokenizer(tokenizer)
    texts = _check_texts(texts)
    labels = _check_labels(labels, len(texts))
    batch_size = check.integer(batch_size, "batch_size", 1)
    check.boolean(shuffle, "shuffle")
    check.boolean(by_length, "by_length")
    seed = check.integer(seed, "seed", 0)
    ids, segs = tokenize(tokenizer, texts, max_len)
    n = len(texts)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g).tolist() if shuffle else list(range(n))
    if by_length:
        pool = 50 * batch_size if shuffle else n
        order = [i for s in range(0, n, pool)
                 for i in sorted(order[s:s + pool], key=lambda i: len(ids[i]))]
    chunks = [order[s:s + batch_size] for s in range(0, n, batch_size)]
    if shuffle and by_length:
        chunks = [chunks[j] for j in torch.randperm(len(chunks), generator=g).tolist()]
    return [_collate(ids, segs, rows, pad_id, labels) for rows in chunks]


def _check_batches(batches, name="batches", labelled=False):
    batches = check.sequence(batches, name, "a list of d2lt.finetune.Batch (from make_batches)",
                             nonempty=True)
    for i, b in enumerate(batches):
        if not isinstance(b, Batch):
            raise TypeError(f"{name}[{i}] must be a d2lt.finetune.Batch (from make_batches), got "
                            f"{check.describe(b)}")
        if labelled and b.labels is None:
            raise ValueError(f"{name}[{i}] has no labels: pass labels to make_batches")
    return batches


# --------------------------------------------------------------------------- pooling, classifier

def pool(X, valid_lens, how: str = "cls"):
    """One vector per sentence from the encodings ``X`` ``(B, T, D)``: ``(B, D)``.

    ``"cls"``: position 0 (``<cls>``); ``"mean"``: the average over the
    ``valid_lens[b]`` real positions of each row (``<cls>`` and ``<sep>``
    included, padding left out), as sentence-transformers pool MiniLM.
    """
    check.tensor(X, "X", dims=3, kind="float", shape="(batch, steps, num_hiddens)")
    check.string(how, "how", choices=POOLINGS)
    if how == "cls":
        return X[:, 0]
    B, T, _ = X.shape
    if valid_lens is None:
        return X.mean(1)
    check.tensor(valid_lens, "valid_lens", dims=1, kind="int", shape=f"({B},)")
    if valid_lens.shape[0] != B:
        raise ValueError(f"valid_lens must have {B} entries (the batch of X), got "
                         f"{tuple(valid_lens.shape)}")
    if B and (int(valid_lens.min()) < 1 or int(valid_lens.max()) > T):
        raise ValueError(f"valid_lens must lie in [1, {T}], got values in "
                         f"[{int(valid_lens.min())}, {int(valid_lens.max())}]")
    keep = (torch.arange(T, device=X.device)[None] < valid_lens[:, None]).to(X.dtype)  # (B, T)
    return (X * keep[..., None]).sum(1) / valid_lens[:, None].to(X.dtype)  # (B, D)


class SentenceClassifier(nn.Module):
    """A pretrained (or fresh) encoder, a pooling, and the added layers: logits ``(B, C)``.

    ``head_layers=1``: one linear layer on the pooled vector (what BERT's paper
    calls the only added parameters); ``head_layers=2``: a dense + tanh layer
    first, the shape of BERT's pooler (``BertForSequenceClassification``'s
    head: pooler, dropout, linear). The added layers start from BERT's
    initialisation (normal, std 0.02; zero biases).

    ``forward(tokens (B, T), segments (B, T), valid_lens (B,)) -> (B, num_classes)``.
    """

    def __init__(self, encoder: BERTEncoder, num_classes: int = 2, pooling: str = "cls",
                 head_layers: int = 1, dropout: float = 0.1):
        super().__init__()
        if not isinstance(encoder, BERTEncoder):
            raise TypeError(f"encoder must be a d2lt.bert.BERTEncoder, got {check.describe(encoder)}")
        num_classes = check.integer(num_classes, "num_classes", 2)
        self.pooling = check.string(pooling, "pooling", choices=POOLINGS)
        head_layers = check.integer(head_layers, "head_layers", 1, 2)
        dropout = check.dropout(dropout)
        D = encoder.num_hiddens
        self.encoder = encoder
        self.hidden = (nn.Sequential(nn.Linear(D, D), nn.Tanh()) if head_layers == 2
                       else nn.Identity())
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(D, num_classes)
        init_bert(self.hidden)
        init_bert(self.output)
        dev = encoder.token_embedding.weight.device
        self.hidden.to(dev)
        self.output.to(dev)

    def forward(self, tokens, segments, valid_lens=None):
        X = self.encoder(tokens, segments, valid_lens)            # (B, T, D)
        z = pool(X, valid_lens, self.pooling)                     # (B, D)
        return self.output(self.dropout(self.hidden(z)))          # (B, C)


# --------------------------------------------------------------------------- frozen features

@torch.no_grad()
def layer_features(encoder: BERTEncoder, batches, pooling=POOLINGS, device=None) -> dict:
    """The pooled vector of every layer of a frozen ``encoder``, in the sentences' order.

    Returns ``{how: (N, L + 1, D)}`` for each ``how`` in ``pooling``: index 0
    is the embedding layer's output, index ``l`` the output of block ``l``
    (index ``L`` is what ``encoder(...)`` returns). Runs in eval mode (no
    dropout) and restores the encoder's mode.
    """
    if not isinstance(encoder, BERTEncoder):
        raise TypeError(f"encoder must be a d2lt.bert.BERTEncoder, got {check.describe(encoder)}")
    batches = _check_batches(batches)
    if isinstance(pooling, str):
        pooling = (pooling,)
    pooling = check.sequence(pooling, "pooling", f"a list of poolings from {list(POOLINGS)}",
                             nonempty=True)
    for how in pooling:
        check.string(how, "pooling", choices=POOLINGS)
    dev = as_device(device) if device is not None else encoder.token_embedding.weight.device
    n = sum(len(b) for b in batches)
    L, D = len(encoder.blks), encoder.num_hiddens
    out = {how: torch.empty(n, L + 1, D) for how in pooling}
    seen = torch.zeros(n, dtype=torch.bool)
    was_training = encoder.training
    encoder.to(dev).eval()
    try:
        for b in batches:
            if int(b.index.max()) >= n or bool(seen[b.index].any()):
                raise ValueError("batches must cover each sentence once (indices 0 to N-1), as "
                                 "make_batches gives them")
            seen[b.index] = True
            b = b.to(dev)
            encoder._check_inputs(b.tokens, b.segments, b.valid_lens)
            X = encoder.embed(b.tokens, b.segments)  # (B, T, D)
            layers = [X]
            for blk in encoder.blks:
                X = blk(X, b.valid_lens)
                layers.append(X)
            for how in pooling:
                pooled = torch.stack([pool(H, b.valid_lens, how) for H in layers], 1)  # (B, L+1, D)
                out[how][b.index.cpu()] = pooled.float().cpu()
    finally:
        encoder.train(was_training)
    if not bool(seen.all()):
        raise ValueError("batches must cover each sentence once (indices 0 to N-1)")
    return out


class LinearProbe(nn.Module):
    """A linear classifier on standardised features: ``((X - mean) / std) W^T + b``."""

    def __init__(self, mean, std, linear: nn.Linear):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = linear

    def forward(self, X):
        check.tensor(X, "X", dims=2, kind="float", shape=f"(N, {self.mean.numel()})")
        return self.linear((X - self.mean) / self.std)


def _check_xy(X, y, Xname="X", yname="y"):
    check.tensor(X, Xname, dims=2, kind="float", shape="(N, features)", finite=True, nonempty=True)
    check.tensor(y, yname, dims=1, kind="int", shape=f"({X.shape[0]},)")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{yname} must hold one label per row of {Xname} ({X.shape[0]}), got "
                         f"{y.shape[0]}")
    if int(y.min()) < 0:
        raise ValueError(f"{yname} must hold class ids >= 0, got {int(y.min())}")


def fit_linear(X, y, *, l2: float = 1.0, num_classes: int | None = None,
               max_iter: int = 100) -> LinearProbe:
    """Multinomial logistic regression on features ``X`` ``(N, F)`` with labels ``y`` ``(N,)``.

    Minimises ``mean cross-entropy + l2 / 2 * ||W||^2`` (the bias is not
    penalised) on features standardised with the training mean and standard
    deviation, with full-batch L-BFGS: the same problem as scikit-learn's
    ``LogisticRegression(C=1 / (l2 * N))`` on the standardised features.
    """
    _check_xy(X, y)
    l2 = check.number(l2, "l2", low=0)
    max_iter = check.integer(max_iter, "max_iter", 1)
    C = int(y.max()) + 1 if num_classes is None else check.integer(num_classes, "num_classes", 2)
    if int(y.max()) >= C:
        raise ValueError(f"y holds class {int(y.max())}, but num_classes={C}")
    X = X.detach().double()
    mean, std = X.mean(0), X.std(0, unbiased=False).clamp_min(1e-6)
    Z = (X - mean) / std
    W = torch.zeros(C, X.shape[1], dtype=torch.double, requires_grad=True)
    b = torch.zeros(C, dtype=torch.double, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(Z @ W.T + b, y) + 0.5 * l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    linear = nn.Linear(X.shape[1], C)
    with torch.no_grad():
        linear.weight.copy_(W.float())
        linear.bias.copy_(b.float())
    return LinearProbe(mean.float(), std.float(), linear)


def probe_accuracy(train_X, train_y, test_X, test_y, **options) -> float:
    """Test accuracy of :func:`fit_linear` trained on ``(train_X, train_y)``."""
    _check_xy(test_X, test_y, "test_X", "test_y")
    probe = fit_linear(train_X, train_y, **options)
    with torch.no_grad():
        return accuracy(probe(test_X.float()).argmax(1), test_y)


# --------------------------------------------------------------------------- fine-tuning

def linear_warmup_decay(total_steps: int, warmup_steps: int):
    """BERT's schedule as a multiplier of the peak learning rate: ``step -> [0, 1]``.

    ``step / warmup_steps`` during warm-up, then a linear decay to 0 at
    ``total_steps``: the same as ``transformers.get_linear_schedule_with_warmup``.
    """
    total_steps = check.integer(total_steps, "total_steps", 1)
    warmup_steps = check.integer(warmup_steps, "warmup_steps", 0, total_steps)

    def factor(step):
        step = check.integer(step, "step", 0)
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def adamw_groups(model: nn.Module, weight_decay: float):
    """Parameter groups for AdamW: weight decay on weight matrices and embedding tables, none
    on biases and layer-norm parameters (the recipe of BERT's code)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {check.describe(model)}")
    weight_decay = check.number(weight_decay, "weight_decay", low=0)
    decay, no_decay = [], []
    norms = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith("bias") or id(p) in norms else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class FinetuneHistory:
    """What :func:`finetune` did: per step the loss and learning rate; wall time; steps."""

    losses: list = field(default_factory=list)
    lrs: list = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    stopped_by: str = ""


def finetune(model: nn.Module, tokenizer, texts, labels, *, epochs: int = 3, lr: float = 5e-5,
             batch_size: int = 32, warmup: float = 0.1, weight_decay: float = 0.01,
             grad_clip: float | None = 1.0, seed: int = 0, device=None,
             max_seconds: float | None = None, max_len: int = 128) -> FinetuneHistory:
    """Train every trainable parameter of ``model`` (a :class:`SentenceClassifier`) on labelled
    sentences: AdamW (``weight_decay`` on matrices only), cross-entropy, the learning rate
    warmed up linearly over the first ``warmup`` fraction of the steps and decayed linearly
    to 0 (:func:`linear_warmup_decay`), gradients clipped to norm ``grad_clip``.

    Each epoch reshuffles the sentences (seed ``seed + epoch``) into batches of similar
    length. ``max_seconds`` stops early. The model is left in eval mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {check.describe(model)}")
    texts = _check_texts(texts)
    labels = _check_labels(labels, len(texts))
    if labels is None:
        raise TypeError("labels must be a list of int class ids, got None")
    epochs = check.integer(epochs, "epochs", 1)
    lr = check.number(lr, "lr", low=0, strict=True)
    batch_size = check.integer(batch_size, "batch_size", 1)
    warmup = check.number(warmup, "warmup", 0, 1, what="a fraction of the steps in [0, 1]")
    weight_decay = check.number(weight_decay, "weight_decay", low=0)
    grad_clip = check.number(grad_clip, "grad_clip", low=0, strict=True, allow_none=True)
    seed = check.integer(seed, "seed", 0)
    max_seconds = check.number(max_seconds, "max_seconds", low=0, strict=True, allow_none=True)
    dev = as_device(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameter (all have requires_grad=False)")
    per_epoch = math.ceil(len(texts) / batch_size)
    total = epochs * per_epoch
    factor = linear_warmup_decay(total, round(warmup * total))
    model.to(dev).train()
    opt = torch.optim.AdamW(adamw_groups(model, weight_decay), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    hist, t0 = FinetuneHistory(), time.perf_counter()
    try:
        for epoch in range(epochs):
            batches = make_batches(tokenizer, texts, labels, batch_size, shuffle=True,
                                   seed=seed + epoch, max_len=max_len)
            for b in batches:
                b = b.to(dev)
                logits = model(b.tokens, b.segments, b.valid_lens)
                loss = F.cross_entropy(logits, b.labels)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {hist.steps}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(params, grad_clip)
                hist.lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
                hist.losses.append(loss.item())
                hist.steps += 1
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    hist.stopped_by = "max_seconds"
                    break
            if hist.stopped_by:
                break
        hist.stopped_by = hist.stopped_by or "epochs"
    finally:
        model.eval()
    hist.seconds = time.perf_counter() - t0
    return hist


# --------------------------------------------------------------------------- scoring

@torch.no_grad()
def predict(model: nn.Module, batches, device=None) -> torch.Tensor:
    """Predicted classes ``(N,)`` of a classifier over :class:`Batch` es, in the sentences' order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {check.describe(model)}")
    batches = _check_batches(batches)
    dev = as_device(device)
    n = sum(len(b) for b in batches)
    out = torch.full((n,), -1, dtype=torch.long)
    was_training = model.training
    model.to(dev).eval()
    try:
        for b in batches:
            logits = model(b.tokens.to(dev), b.segments.to(dev), b.valid_lens.to(dev))
            out[b.index] = logits.argmax(1).cpu()
    finally:
        model.train(was_training)
    if bool((out < 0).any()):
        raise ValueError("batches must cover each sentence once (indices 0 to N-1)")
    return out


def accuracy(pred, labels) -> float:
    """The fraction of ``pred`` equal to ``labels`` (two integer tensors or lists of one length)."""
    pred = torch.as_tensor(pred) if isinstance(pred, (list, tuple)) else pred
    labels = torch.as_tensor(labels) if isinstance(labels, (list, tuple)) else labels
    check.tensor(pred, "pred", dims=1, kind="int", shape="(N,)", nonempty=True)
    check.tensor(labels, "labels", dims=1, kind="int", shape=f"({pred.shape[0]},)")
    if pred.shape != labels.shape:
        raise ValueError(f"pred and labels must have one length, got {pred.shape[0]} and "
                         f"{labels.shape[0]}")
    return (pred.cpu() == labels.cpu()).double().mean().item()


def stratified_subset(labels, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` distinct indices into ``labels`` with the classes as balanced as possible, drawn
    with ``seed``: each class gets ``n // C`` (the first ``n % C`` classes in a random order
    one more), or all its examples when it has fewer."""
    labels = torch.as_tensor(labels) if isinstance(labels, (list, tuple)) else labels
    check.tensor(labels, "labels", dims=1, kind="int", shape="(N,)", nonempty=True)
    n = check.integer(n, "n", 1, labels.numel())
    seed = check.integer(seed, "seed", 0)
    g = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    per = {int(c): (labels == c).nonzero().flatten() for c in classes}
    order = [int(classes[i]) for i in torch.randperm(len(classes), generator=g)]
    want = {c: n // len(classes) + (1 if k < n % len(classes) else 0) for k, c in enumerate(order)}
    picks, short = [], 0
    for c in order:
        idx = per[c][torch.randperm(len(per[c]), generator=g)]
        take = min(want[c], len(idx))
        short += want[c] - take
        picks.append(idx[:take])
        per[c] = idx[take:]
    for c in order:  # fill from the other classes when one class is too small
        if short == 0:
            break
        extra = per[c][:short]
        picks.append(extra)
        short -= len(extra)
    out = torch.cat(picks)
    return out[torch.randperm(len(out), generator=g)]


def learning_curve(score, labels, sizes, seeds=(0, 1, 2)) -> dict:
    """``{n: [score(indices, seed) for seed in seeds]}`` for each size ``n`` in ``sizes``.

    ``indices`` is :func:`stratified_subset` ``(labels, n, seed)``; ``score`` trains on
    those examples and returns a test accuracy (a float).
    """
    if not callable(score):
        raise TypeError(f"score must be callable(indices, seed) -> float, got {check.describe(score)}")
    sizes = [check.integer(n, "sizes[i]", 1) for n in check.sequence(sizes, "sizes", "a list of int",
                                                                    nonempty=True)]
    seeds = [check.integer(s, "seeds[i]", 0) for s in check.sequence(seeds, "seeds", "a list of int",
                                                                    nonempty=True)]
    out = {}
    for n in sizes:
        accs = []
        for s in seeds:
            v = score(stratified_subset(labels, n, s), s)
            accs.append(check.number(v, "score(...)", 0, 1, what="an accuracy in [0, 1]"))
        out[n] = accs
    return out


def mean_spread(values) -> tuple:
    """``(mean, standard deviation)`` of a list of numbers (deviation 0 for one value)."""
    values = [check.number(v, "values[i]") for v in check.sequence(values, "values", "a list of "
                                                                      "numbers", nonempty=True)]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)
