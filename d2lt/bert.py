"""BERT: a Transformer encoder pretrained by masked language modelling.

The classes keep the ``d2l`` book's signatures and submodule names
(``token_embedding``, ``segment_embedding``, ``pos_embedding``, ``blks``;
``MaskLM.mlp``; ``NextSentencePred.output``; ``BERTModel.encoder/hidden/mlm/nsp``),
so code written for the book runs on them. Three keyword options make the
encoder the published BERT rather than the book's simplification: GELU in the
feed-forward networks, a layer norm over the summed embeddings, and the
layer-norm epsilon of 1e-12 (``activation="relu", embedding_norm=False,
norm_eps=1e-5`` give the book's model).

:func:`from_hf` builds the encoder from a ``transformers`` ``BertModel`` with its
weights; :func:`mask_tokens` applies the 80/10/10 rule of masked language
modelling.
"""
from __future__ import annotations

import random

import torch
from torch import nn

from . import validate as check
from .seq2seq import _check_lens
from .transformer import ACTIVATIONS, TransformerEncoderBlock, _check_block_sizes

IGNORE_INDEX = -100  # label of a position that is not predicted (PyTorch's default ignore_index)


def get_tokens_and_segments(tokens_a, tokens_b=None):
    """``<cls> A <sep>`` (and ``B <sep>``) with segment ids 0 for A and 1 for B, as in d2l."""
    check.sequence(tokens_a, "tokens_a", what="a list of tokens")
    if tokens_b is not None:
        check.sequence(tokens_b, "tokens_b", what="a list of tokens or None")
    tokens = ["<cls>", *tokens_a, "<sep>"]
    segments = [0] * (len(tokens_a) + 2)
    if tokens_b is not None:
        tokens += [*tokens_b, "<sep>"]
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


def init_bert(module: nn.Module, std: float = 0.02) -> None:
    """BERT's initialisation: weights ~ N(0, std), biases 0, layer norms (1, 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            if not isinstance(m.weight, nn.parameter.UninitializedParameter):
                nn.init.normal_(m.weight, 0.0, std)
            if isinstance(m, nn.Linear) and m.bias is not None and not isinstance(
                    m.bias, nn.parameter.UninitializedParameter):
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class BERTEncoder(nn.Module):
    """Token + segment + learned position embeddings, then ``num_blks`` encoder blocks.

    ``forward(tokens (B, T) ids, segments (B, T) ids, valid_lens (B,) or None)
    -> (B, T, num_hiddens)``. ``attention_weights`` lists each block's weights
    ``(B, h, T, T)`` of the last call.
    """

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len=1000, *, activation="gelu", embedding_norm=True, norm_eps=1e-12,
                 num_segments=2):
        super().__init__()
        self.vocab_size = check.integer(vocab_size, "vocab_size", 1)
        num_blks = check.integer(num_blks, "num_blks", 1)
        num_hiddens = _check_block_sizes(num_hiddens, ffn_num_hiddens, num_heads, dropout)[0]
        self.max_len = check.integer(max_len, "max_len", 1)
        self.num_segments = check.integer(num_segments, "num_segments", 1)
        check.string(activation, "activation", choices=sorted(ACTIVATIONS))
        check.boolean(embedding_norm, "embedding_norm")
        norm_eps = check.number(norm_eps, "norm_eps", low=0, strict=True)
        self.num_hiddens = num_hiddens
        self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
        self.segment_embedding = nn.Embedding(num_segments, num_hiddens)
        self.pos_embedding = nn.Parameter(torch.zeros(1, max_len, num_hiddens))
        self.embedding_norm = (nn.LayerNorm(num_hiddens, eps=norm_eps) if embedding_norm
                               else nn.Identity())
        self.embedding_dropout = nn.Dropout(dropout)
        self.blks = nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module(f"{i}", TransformerEncoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, dropout, True,
                activation=activation, norm_eps=norm_eps))
        init_bert(self)
        nn.init.normal_(self.pos_embedding, 0.0, 0.02)

    def _check_inputs(self, tokens, segments, valid_lens):
        for name, ids, high in (("tokens", tokens, self.vocab_size),
                                ("segments", segments, self.num_segments)):
            check.tensor(ids, name, dims=2, kind="int", shape="(batch, steps) ids")
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= high):
                raise ValueError(f"{name} must hold ids in [0, {high - 1}], got values in "
                                 f"[{int(ids.min())}, {int(ids.max())}]")
        if segments.shape != tokens.shape:
            raise ValueError(f"segments must have the shape of tokens {tuple(tokens.shape)}, got "
                             f"{tuple(segments.shape)}")
        if tokens.shape[1] > self.max_len:
            raise ValueError(f"tokens has {tokens.shape[1]} positions; this encoder holds "
                             f"max_len={self.max_len}")
        if tokens.device != self.token_embedding.weight.device:
            raise ValueError(f"tokens are on {tokens.device}, the encoder on "
                             f"{self.token_embedding.weight.device}; move one of them")
        _check_lens(valid_lens, tokens.shape[0], tokens.shape[1])

    def embed(self, tokens, segments):
        """The input representation ``(B, T, num_hiddens)``: token + segment + position."""
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        X = X + self.pos_embedding[:, :tokens.shape[1], :]
        return self.embedding_dropout(self.embedding_norm(X))

    def forward(self, tokens, segments, valid_lens=None):
        self._check_inputs(tokens, segments, valid_lens)
        X = self.embed(tokens, segments)  # (B, T, D)
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X

    @property
    def attention_weights(self):
        """Per block, the self-attention weights ``(B, h, T, T)`` of the last call."""
        return [blk.attention.attention_weights for blk in self.blks]


def _check_features(X, name="X"):
    check.tensor(X, name, dims=3, kind="float", shape="(batch, steps, num_hiddens)")
    return X


class MaskLM(nn.Module):
    """The masked-language-model head: an MLP on the encodings at ``pred_positions``.

    ``forward(X (B, T, D), pred_positions (B, P) ids) -> (B, P, vocab_size)``.
    ``num_inputs`` builds the first layer at once (left None it is lazy, as in d2l).
    """

    def __init__(self, vocab_size, num_hiddens, num_inputs=None, *, activation="relu"):
        super().__init__()
        vocab_size = check.integer(vocab_size, "vocab_size", 1)
        num_hiddens = check.integer(num_hiddens, "num_hiddens", 1)
        first = (nn.LazyLinear(num_hiddens) if num_inputs is None
                 else nn.Linear(check.integer(num_inputs, "num_inputs", 1), num_hiddens))
        check.string(activation, "activation", choices=sorted(ACTIVATIONS))
        self.mlp = nn.Sequential(first, ACTIVATIONS[activation](), nn.LayerNorm(num_hiddens),
                                 nn.Linear(num_hiddens, vocab_size))

    def forward(self, X, pred_positions):
        _check_features(X)
        check.tensor(pred_positions, "pred_positions", dims=2, kind="int", shape="(batch, num_preds)")
        B, T = X.shape[:2]
        if pred_positions.shape[0] != B:
            raise ValueError(f"pred_positions must have {B} rows (the batch of X), got "
                             f"{tuple(pred_positions.shape)}")
        if pred_positions.numel() and (int(pred_positions.min()) < 0 or int(pred_positions.max()) >= T):
            raise ValueError(f"pred_positions must lie in [0, {T - 1}], got values in "
                             f"[{int(pred_positions.min())}, {int(pred_positions.max())}]")
        idx = pred_positions.unsqueeze(-1).expand(-1, -1, X.shape[-1])  # (B, P, D)
        return self.mlp(torch.gather(X, 1, idx))  # (B, P, vocab)


class NextSentencePred(nn.Module):
    """The next-sentence-prediction head: ``(B, D) -> (B, 2)`` logits (1 = B follows A)."""

    def __init__(self, num_inputs=None):
        super().__init__()
        self.output = (nn.LazyLinear(2) if num_inputs is None
                       else nn.Linear(check.integer(num_inputs, "num_inputs", 1), 2))

    def forward(self, X):
        check.tensor(X, "X", dims=2, kind="float", shape="(batch, num_hiddens)")
        return self.output(X)


class BERTModel(nn.Module):
    """Encoder + pooler (``hidden``: dense + tanh on ``<cls>``) + MLM and NSP heads.

    ``forward(tokens, segments, valid_lens=None, pred_positions=None) ->
    (encoded_X (B, T, D), mlm_Y_hat (B, P, V) or None, nsp_Y_hat (B, 2))``.
    """

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len=1000, **options):
        super().__init__()
        self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                                   dropout, max_len=max_len, **options)
        self.hidden = nn.Sequential(nn.Linear(num_hiddens, num_hiddens), nn.Tanh())
        self.mlm = MaskLM(vocab_size, num_hiddens, num_inputs=num_hiddens)
        self.nsp = NextSentencePred(num_inputs=num_hiddens)
        init_bert(self.hidden)
        init_bert(self.mlm)
        init_bert(self.nsp)

    def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
        encoded_X = self.encoder(tokens, segments, valid_lens)
        mlm_Y_hat = None if pred_positions is None else self.mlm(encoded_X, pred_positions)
        nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))  # position 0 holds <cls>
        return encoded_X, mlm_Y_hat, nsp_Y_hat


# --------------------------------------------------------------------------- pretraining data

def mask_tokens(ids, maskable, *, mask_id, vocab_size, mask_prob=0.15, random_prob=0.1,
                keep_prob=0.1, generator=None):
    """Masked language modelling's corruption: ``(inputs, labels)``.

    In each row of ``ids`` (``(B, T)`` or ``(T,)`` integer ids), ``round(mask_prob * n)``
    of the ``n`` positions where ``maskable`` is true (at least one when n > 0) are
    chosen uniformly; a chosen position becomes ``mask_id`` with probability
    ``1 - random_prob - keep_prob`` (0.8), a uniformly random id in
    ``[0, vocab_size)`` with ``random_prob`` (0.1), and stays itself with
    ``keep_prob`` (0.1). ``labels`` holds the original id at chosen positions and
    :data:`IGNORE_INDEX` elsewhere. ``generator`` (a ``torch.Generator``) makes
    it reproducible; ``ids`` is not modified.
    """
    check.tensor(ids, "ids", dims=(1, 2), kind="int", shape="(batch, steps) or (steps,) ids")
    check.tensor(maskable, "maskable", kind="bool", shape="bool tensor of the shape of ids")
    if maskable.shape != ids.shape:
        raise ValueError(f"maskable must have the shape of ids {tuple(ids.shape)}, got "
                         f"{tuple(maskable.shape)}")
    vocab_size = check.integer(vocab_size, "vocab_size", 1)
    mask_id = check.integer(mask_id, "mask_id", 0, vocab_size - 1)
    mask_prob = check.probability(mask_prob, "mask_prob")
    random_prob = check.probability(random_prob, "random_prob")
    keep_prob = check.probability(keep_prob, "keep_prob")
    if random_prob + keep_prob > 1:
        raise ValueError(f"random_prob + keep_prob must be at most 1, got {random_prob} + {keep_prob}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size - 1}], got values in "
                         f"[{int(ids.min())}, {int(ids.max())}]")
    squeeze = ids.dim() == 1
    X, M = (ids.unsqueeze(0), maskable.unsqueeze(0)) if squeeze else (ids, maskable)
    dev = X.device
    n = M.sum(1)  # (B,)
    k = torch.where(n > 0, torch.clamp(torch.round(n.double() * mask_prob).long(), min=1), 0)
    scores = torch.rand(X.shape, generator=generator, device="cpu").to(dev)
    scores = scores.masked_fill(~M, 2.0)  # non-maskable positions sort last
    rank = scores.argsort(1).argsort(1)   # rank of each position in its row
    chosen = (rank < k.unsqueeze(1)) & M
    u = torch.rand(X.shape, generator=generator, device="cpu").to(dev)
    rand_ids = torch.randint(0, vocab_size, X.shape, generator=generator, device="cpu").to(dev)
    to_mask = chosen & (u < 1 - random_prob - keep_prob)
    to_rand = chosen & (u >= 1 - random_prob - keep_prob) & (u < 1 - keep_prob)
    inputs = torch.where(to_mask, torch.full_like(X, mask_id), X)
    inputs = torch.where(to_rand, rand_ids, inputs)
    labels = torch.where(chosen, X, torch.full_like(X, IGNORE_INDEX))
    if squeeze:
        return inputs[0], labels[0]
    return inputs, labels


def mlm_targets(labels, num_preds=None):
    """d2l's padded form of ``labels``: ``(pred_positions, targets, weights)``, each ``(B, P)``.

    ``P`` is ``num_preds`` or the largest number of predicted positions in a
    row; padding entries have position 0, target 0 and weight 0.
    """
    check.tensor(labels, "labels", dims=2, kind="int", shape="(batch, steps)")
    chosen = labels != IGNORE_INDEX
    counts = chosen.sum(1)
    P = int(counts.max()) if num_preds is None and labels.numel() else (num_preds or 0)
    P = check.integer(P, "num_preds", 0)
    if labels.numel() and int(counts.max()) > P:
        raise ValueError(f"num_preds={P} is smaller than the {int(counts.max())} predicted positions "
                         "of a row")
    B, T = labels.shape
    order = torch.argsort((~chosen).to(torch.int8), dim=1, stable=True)[:, :P]  # chosen first
    positions = order if P <= T else torch.cat(
        [order, order.new_zeros(B, P - T)], 1)
    weights = (torch.arange(P, device=labels.device).unsqueeze(0) < counts.unsqueeze(1)).float()
    positions = torch.where(weights > 0, positions, 0)
    targets = torch.where(weights > 0, torch.gather(labels, 1, positions), 0)
    return positions, targets, weights


def next_sentence_pairs(paragraphs, rng=None):
    """NSP examples from ``paragraphs`` (lists of sentences, each a list of tokens).

    For every pair of consecutive sentences, ``(a, b, True)`` with probability
    1/2, else ``(a, c, False)`` with ``c`` a random sentence of a random paragraph
    (BERT's recipe). ``rng`` is a ``random.Random`` (seeded 0 when None).
    """
    check.sequence(paragraphs, "paragraphs", what="a list of paragraphs (lists of sentences)")
    rng = random.Random(0) if rng is None else rng
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random or None, got {type(rng).__name__}")
    pool = [p for p in paragraphs if len(p)]
    if not pool:
        raise ValueError("paragraphs holds no sentence")
    out = []
    for p in paragraphs:
        check.sequence(p, "a paragraph", what="a list of sentences (lists of tokens)")
        for a, b in zip(p[:-1], p[1:]):
            if rng.random() < 0.5:
                out.append((a, b, True))
            else:
                other = rng.choice(pool)
                out.append((a, rng.choice(other), False))
    return out


# --------------------------------------------------------------------------- transformers

_HF_ACT = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}


def _copy_linear(ours: nn.Linear, theirs: nn.Linear):
    ours.weight.copy_(theirs.weight)
    ours.bias.copy_(theirs.bias)


def _copy_norm(ours: nn.LayerNorm, theirs: nn.LayerNorm):
    ours.weight.copy_(theirs.weight)
    ours.bias.copy_(theirs.bias)


def from_hf(model) -> BERTEncoder:
    """The course's :class:`BERTEncoder` with the weights of a ``transformers`` ``BertModel``.

    Any config with absolute positions works; ``encoder(tokens, segments, valid_lens)``
    then equals ``model(input_ids=tokens, token_type_ids=segments,
    attention_mask=positions < valid_lens).last_hidden_state``. A model with a
    head (``BertForMaskedLM``, ...) is accepted through its ``.bert``. The
    pooler is left out (:class:`BERTModel` has its own ``hidden`` layer).
    """
    try:
        from transformers import BertModel
    except ImportError as e:  # pragma: no cover - transformers is a course dependency
        raise ImportError("from_hf needs the transformers package (pip install transformers)") from e
    if not isinstance(model, BertModel) and isinstance(getattr(model, "bert", None), BertModel):
        model = model.bert
    if not isinstance(model, BertModel):
        raise TypeError(f"model must be a transformers BertModel (or a model with .bert), got "
                        f"{type(model).__name__}")
    c = model.config
    if getattr(c, "position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"only absolute position embeddings are supported, the config has "
                         f"{c.position_embedding_type!r}")
    act = c.hidden_act if isinstance(c.hidden_act, str) else None
    if act not in _HF_ACT:
        raise ValueError(f"hidden_act must be one of {sorted(_HF_ACT)}, the config has {c.hidden_act!r}")
    enc = BERTEncoder(c.vocab_size, c.hidden_size, c.intermediate_size, c.num_attention_heads,
                      c.num_hidden_layers, c.hidden_dropout_prob, max_len=c.max_position_embeddings,
                      activation=_HF_ACT[act], embedding_norm=True, norm_eps=c.layer_norm_eps,
                      num_segments=c.type_vocab_size)
    e = model.embeddings
    with torch.no_grad():
        enc.token_embedding.weight.copy_(e.word_embeddings.weight)
        enc.segment_embedding.weight.copy_(e.token_type_embeddings.weight)
        enc.pos_embedding.copy_(e.position_embeddings.weight.unsqueeze(0))
        _copy_norm(enc.embedding_norm, e.LayerNorm)
        for blk, layer in zip(enc.blks, model.encoder.layer):
            att = layer.attention
            _copy_linear(blk.attention.W_q, att.self.query)
            _copy_linear(blk.attention.W_k, att.self.key)
            _copy_linear(blk.attention.W_v, att.self.value)
            _copy_linear(blk.attention.W_o, att.output.dense)
            _copy_norm(blk.addnorm1.ln, att.output.LayerNorm)
            _copy_linear(blk.ffn.dense1, layer.intermediate.dense)
            _copy_linear(blk.ffn.dense2, layer.output.dense)
            _copy_norm(blk.addnorm2.ln, layer.output.LayerNorm)
    dev = e.word_embeddings.weight.device
    return enc.to(dev).train(model.training)


def hf_attention_mask(valid_lens, num_steps: int):
    """``transformers``' ``attention_mask`` ``(B, T)`` (1 = attend) for ``valid_lens``."""
    check.tensor(valid_lens, "valid_lens", dims=1, shape="(batch,)")
    num_steps = check.integer(num_steps, "num_steps", 1)
    return (torch.arange(num_steps, device=valid_lens.device).unsqueeze(0)
            < valid_lens.unsqueeze(1)).long()
