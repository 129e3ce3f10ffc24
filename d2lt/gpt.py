"""GPT: a decoder-only Transformer language model (chapter 10; Radford et al., 2018, 2019).

Shapes: B = batch, T = time steps, C = ``n_embd``, h = ``n_head``, V = ``vocab_size``.

A GPT is the Transformer's decoder without cross-attention: token and learned
position embeddings, ``n_layer`` blocks of causal self-attention and a
feed-forward network, a final LayerNorm and a linear head onto the vocabulary
whose weight is the token embedding matrix (weight tying)::

    x_0 = wte(idx) + wpe(0..T-1)
    pre-norm  (GPT-2, the default):   x = x + Attn(LN_1(x));  x = x + MLP(LN_2(x))
    post-norm (original Transformer): x = LN_1(x + Attn(x));  x = LN_2(x + MLP(x))
    logits = LN_f(x_L) W_te^T        (post-norm has no final LN: each block ends in one)

``MLP(x) = W_2 GELU(W_1 x + b_1) + b_2`` with a hidden width of ``4 C``.
Attention runs through ``torch.nn.functional.scaled_dot_product_attention``
with its causal flag (the fused kernel: flash / memory-efficient on GPU).

Targets follow nanoGPT's convention: ``targets`` has the shape of ``idx`` and
holds, at each position, the *next* token (``targets[:, t] = idx[:, t + 1]``
for a contiguous text), so the caller shifts, not the model. Positions whose
target is ``IGNORE_INDEX`` (-1) are left out of the loss (padding).
``transformers``' ``labels`` are the unshifted tokens, shifted inside the model
and ignored at -100: ``targets = labels[:, 1:]`` padded with -1 at the end.

Decoding (:meth:`GPT.generate`): greedy when ``temperature == 0``, otherwise
sampling from ``softmax(logits / temperature)`` after optional top-k and top-p
(nucleus) filtering (:func:`filter_logits`). With the key-value cache
(``use_cache=True``) each block keeps the keys and values of every earlier
position, so a new token costs one position's work instead of the whole
prefix again; both give the same tokens. A context longer than
``block_size`` keeps its last ``block_size`` tokens (as nanoGPT does): the
cache is then rebuilt from that window.

:meth:`GPT.from_hf` copies a ``transformers`` ``GPT2LMHeadModel`` (its Conv1D
weights are stored transposed: ``(in, out)``); the tests check the logits to 1e-4.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .attention import causal_mask

__all__ = ["GPTConfig", "GPT", "KVCache", "IGNORE_INDEX", "top_k_filter", "top_p_filter",
           "filter_logits", "sample_next", "check_prompt", "generate", "gelu_tanh"]

IGNORE_INDEX = -1  # a target position that takes no part in the loss
NORMS = ("pre", "post")


def gelu_tanh(x):
    """GELU with GPT-2's tanh approximation (``transformers``' ``gelu_new``)."""
    return F.gelu(x, approximate="tanh")


_ACT_FNS = {"gelu_tanh": gelu_tanh, "gelu": F.gelu, "relu": F.relu, "silu": F.silu}
ACTIVATIONS = tuple(_ACT_FNS)
_HF_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
                   "gelu": "gelu", "relu": "relu", "silu": "silu", "swish": "silu"}


# ----------------------------------------------------------------------------- sampling

def _check_logits(logits, name="logits"):
    check.tensor(logits, name, dims=(1, 2), shape="(V,) or (B, V)", kind="float", nonempty=True)
    if torch.isnan(logits).any():
        raise ValueError(f"{name} must not hold NaN, got {check.describe(logits)} with NaN")
    return logits


def top_k_filter(logits, k: int):
    """``logits (..., V)`` with all but the ``k`` largest of each row set to ``-inf``.

    Ties at the k-th value are all kept (a row may keep more than ``k``).
    ``k >= V`` keeps everything.
    """
    _check_logits(logits)
    k = check.integer(k, "k", 1)
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p: float):
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches ``p``.

    Tokens are sorted by probability; a token is kept when the probability
    mass of the tokens *before* it is below ``p`` (so the most likely token is
    always kept and the kept mass is ``>= p``); the rest become ``-inf``.
    ``p = 1`` keeps everything. ``p`` must be in ``(0, 1]``.
    """
    _check_logits(logits)
    p = check.number(p, "p", 0, 1, strict=True, what="a probability in (0, 1]")
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = F.softmax(sorted_logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass of the strictly more likely tokens
    drop_sorted = before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def _check_sampling(temperature, top_k, top_p):
    temperature = check.number(temperature, "temperature", 0)
    top_k = check.integer(top_k, "top_k", 1, allow_none=True)
    if top_p is not None:
        top_p = check.number(top_p, "top_p", 0, 1, strict=True, what="None or a probability in (0, 1]")
    return temperature, top_k, top_p


def filter_logits(logits, temperature: float = 1.0, top_k=None, top_p=None):
    """``logits / temperature``, then top-k, then top-p filtering (each optional); ``temperature > 0``."""
    _check_logits(logits)
    temperature, top_k, top_p = _check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        raise ValueError("temperature must be > 0 to filter logits (0 means greedy: take the argmax)")
    logits = logits.float() / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_next(logits, temperature: float = 1.0, top_k=None, top_p=None, generator=None):
    """One token per row of ``logits (B, V)``: the argmax when ``temperature == 0``, else a sample.

    Returns a long tensor ``(B,)``. ``generator`` (a ``torch.Generator``) makes the sample reproducible.
    """
    check.tensor(logits, "logits", dims=2, shape="(B, V)", kind="float", nonempty=True)
    temperature, top_k, top_p = _check_sampling(temperature, top_k, top_p)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be None or a torch.Generator, got {check.describe(generator)}")
    if temperature == 0:
        _check_logits(logits)
        return logits.argmax(-1)
    probs = F.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def check_prompt(idx, vocab_size: int, name: str = "idx"):
    """``idx`` if it is an integer tensor ``(B, T)`` of token ids in ``[0, vocab_size)``, ``T >= 1``."""
    check.tensor(idx, name, dims=2, shape="(B, T)", kind="int", nonempty=True)
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"{name} must hold token ids in [0, {vocab_size}), got values in [{lo}, {hi}]")
    return idx


@torch.no_grad()
def generate(model, idx, max_new_tokens: int, temperature: float = 1.0, top_k=None, top_p=None,
             use_cache: bool = True, *, generator=None, eos=None, window: int, vocab_size: int):
    """The decoding loop shared by the course's decoders (:class:`GPT`, :class:`d2lt.llama.Llama`).

    ``model(ids, cache=cache)`` must return ``(logits (B, T, V), _)`` and
    append to ``cache`` (from ``model.new_cache()``) the keys and values of
    the new positions; ``window`` is the longest context it takes (the last
    ``window`` tokens are kept). Returns ``(B, T + n)`` ids, ``n <= max_new_tokens``
    (fewer only when every row has produced ``eos``).
    """
    check_prompt(idx, vocab_size)
    max_new_tokens = check.integer(max_new_tokens, "max_new_tokens", 0)
    temperature, top_k, top_p = _check_sampling(temperature, top_k, top_p)
    check.boolean(use_cache, "use_cache")
    eos = check.integer(eos, "eos", 0, vocab_size - 1, allow_none=True,
                        what=f"None or a token id in [0, {vocab_size})")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be None or a torch.Generator, got {check.describe(generator)}")
    was_training = model.training
    model.eval()
    cache, out = None, idx
    done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    try:
        for _ in range(max_new_tokens):
            if not use_cache:
                logits, _ = model(out[:, -window:])
            elif cache is None or len(cache) >= window:  # (re)fill the cache from the context window
                cache = model.new_cache()
                logits, _ = model(out[:, -window:], cache=cache)
            else:
                logits, _ = model(out[:, -1:], cache=cache)
            nxt = sample_next(logits[:, -1].float(), temperature, top_k, top_p, generator)
            if eos is not None:
                nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
                done |= nxt == eos
            out = torch.cat([out, nxt[:, None].to(out.dtype)], 1)
            if eos is not None and bool(done.all()):
                break
    finally:
        model.train(was_training)
    return out


# ----------------------------------------------------------------------------- config

@dataclass
class GPTConfig:
    """Sizes and options of a GPT (defaults: GPT-2 small, vocabulary padded to 50304 as in nanoGPT).

    ``bias``: biases in the linear layers and LayerNorms (GPT-2 has them).
    ``norm``: ``"pre"`` (GPT-2) or ``"post"`` (the original Transformer).
    ``n_inner``: the MLP's hidden width (None: ``4 * n_embd``). ``activation``:
    ``"gelu_tanh"`` (GPT-2's tanh approximation), ``"gelu"`` (exact), ``"relu"`` or ``"silu"``.
    ``tie_weights``: the head reuses the token embedding matrix.
    ``scale_attn_weights`` / ``scale_attn_by_inverse_layer_idx``: GPT-2's
    options (scores divided by ``sqrt(C / h)``; and by ``layer + 1``).
    """

    vocab_size: int = 50304
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    norm: str = "pre"
    n_inner: int | None = None
    activation: str = "gelu_tanh"
    layer_norm_eps: float = 1e-5
    tie_weights: bool = True
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, check.integer(getattr(self, name), name, 1))
        self.n_inner = check.integer(self.n_inner, "n_inner", 1, allow_none=True)
        self.dropout = check.dropout(self.dropout)
        for name in ("bias", "tie_weights", "scale_attn_weights", "scale_attn_by_inverse_layer_idx"):
            check.boolean(getattr(self, name), name)
        check.string(self.norm, "norm", choices=NORMS)
        check.string(self.activation, "activation", choices=ACTIVATIONS)
        self.layer_norm_eps = check.number(self.layer_norm_eps, "layer_norm_eps", 0, strict=True)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd must be divisible by n_head, got n_embd={self.n_embd}, "
                             f"n_head={self.n_head}")

    @property
    def ffn_width(self) -> int:
        return self.n_inner or 4 * self.n_embd

    def parameter_count(self, non_embedding: bool = False) -> int:
        """The number of parameters of a :class:`GPT` with this config, from the sizes alone.

        Per block: two LayerNorms, the q/k/v and output projections
        (``4 C^2``), the MLP (``2 C F``), and their biases; plus the token
        embedding (shared with the head when tied), the position table and the
        final LayerNorm. ``non_embedding`` leaves out the position table (as
        :meth:`GPT.num_parameters` does). Exact, and cheap for sizes no machine
        here could build (GPT-3 175B).
        """
        check.boolean(non_embedding, "non_embedding")
        C, F_, b = self.n_embd, self.ffn_width, int(self.bias)
        ln = C * (1 + b)
        block = 2 * ln + (3 * C * C + b * 3 * C) + (C * C + b * C) + (C * F_ + b * F_) + (F_ * C + b * C)
        total = self.vocab_size * C * (1 if self.tie_weights else 2) + self.n_layer * block
        total += ln if self.norm == "pre" else 0
        return total if non_embedding else total + self.block_size * C

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- cache

class KVCache:
    """Keys and values of every block for the positions seen so far (one ``(k, v)`` per block).

    ``k`` and ``v`` have shape ``(B, h_kv, L, d_head)``; ``len(cache)`` is ``L``,
    the number of cached positions (the position of the next token).
    """

    def __init__(self, n_layer: int):
        self.n_layer = check.integer(n_layer, "n_layer", 1)
        self.layers = [None] * self.n_layer

    def __len__(self) -> int:
        first = self.layers[0]
        return 0 if first is None else first[0].shape[2]

    def update(self, i: int, k, v):
        """Append the new positions' ``k, v`` to block ``i``'s cache; return the whole ``(k, v)``."""
        past = self.layers[i]
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        self.layers[i] = (k, v)
        return k, v


def _attend(q, k, v, scale, dropout_p):
    """Causal fused attention of the ``Q`` newest queries over ``K >= Q`` keys (the last Q are theirs)."""
    Q, K = q.shape[2], k.shape[2]
    if Q == K:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale)
    if Q == 1:  # the newest token sees every cached key
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    mask = causal_mask(Q, q.device, num_keys=K)  # aligned to the lower right
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)


# ----------------------------------------------------------------------------- model

class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with one fused q/k/v projection (GPT-2's ``c_attn``)."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0):
        super().__init__()
        C = config.n_embd
        self.n_head, self.n_embd, self.layer_idx = config.n_head, C, layer_idx
        self.c_attn = nn.Linear(C, 3 * C, bias=config.bias)
        self.c_proj = nn.Linear(C, C, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)
        scale = (C // config.n_head) ** -0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            scale /= layer_idx + 1
        self.scale = scale

    def forward(self, x, cache: KVCache | None = None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        y = _attend(q, k, v, self.scale, self.dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.ffn_width, bias=config.bias)
        self.c_proj = nn.Linear(config.ffn_width, config.n_embd, bias=config.bias)
        self.act = _ACT_FNS[config.activation]
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """One GPT block, pre-norm or post-norm (``config.norm``)."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0):
        super().__init__()
        self.pre = config.norm == "pre"
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache: KVCache | None = None):
        if self.pre:
            x = x + self.attn(self.ln_1(x), cache)
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, cache))
        return self.ln_2(x + self.mlp(x))


class GPT(nn.Module):
    """A GPT language model; ``forward(idx, targets=None) -> (logits (B, T, V), loss or None)``.

    Initialised as GPT-2 / nanoGPT: weights N(0, 0.02), the projections that
    write into the residual stream N(0, 0.02 / sqrt(2 n_layer)), biases zero.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a d2lt.gpt.GPTConfig, got {check.describe(config)}")
        self.config = config
        C = config.n_embd
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, C),
            wpe=nn.Embedding(config.block_size, C),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
            ln_f=(nn.LayerNorm(C, eps=config.layer_norm_eps, bias=config.bias) if config.norm == "pre"
                  else nn.Identity()),
        ))
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight  # (V, C) both
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Distinct parameters (a tied matrix counts once); ``non_embedding`` leaves out ``wpe``."""
        check.boolean(non_embedding, "non_embedding")
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def _check_targets(self, targets, idx):
        check.tensor(targets, "targets", dims=2, shape=f"{tuple(idx.shape)} (like idx)", kind="int")
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, "
                             f"got {tuple(targets.shape)}")
        lo, hi = int(targets.min()), int(targets.max())
        if bool(((targets >= self.config.vocab_size) | ((targets < 0) & (targets != IGNORE_INDEX))).any()):
            raise ValueError(f"targets must hold token ids in [0, {self.config.vocab_size}) or "
                             f"{IGNORE_INDEX} (ignored), got values in [{lo}, {hi}]")
        if bool((targets == IGNORE_INDEX).all()):
            raise ValueError(f"targets are all {IGNORE_INDEX} (ignored): the loss would be undefined")

    def forward(self, idx, targets=None, *, cache: KVCache | None = None):
        """Logits ``(B, T, V)`` and the mean cross entropy against ``targets`` (None without targets).

        ``targets (B, T)``: the next token at each position, ``IGNORE_INDEX``
        (-1) where there is none (padding). ``cache``: a :class:`KVCache` that
        holds the earlier positions; the new positions are appended to it.
        """
        check_prompt(idx, self.config.vocab_size)
        start = 0
        if cache is not None:
            if not isinstance(cache, KVCache) or cache.n_layer != self.config.n_layer:
                raise TypeError(f"cache must be None or a d2lt.gpt.KVCache for {self.config.n_layer} "
                                f"blocks, got {check.describe(cache)}")
            start = len(cache)
        B, T = idx.shape
        if start + T > self.config.block_size:
            raise ValueError(f"the sequence has {start + T} positions (cached {start} + new {T}); "
                             f"the model has block_size {self.config.block_size}")
        if targets is not None:
            self._check_targets(targets, idx)
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x, cache)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                   ignore_index=IGNORE_INDEX)
        return logits, loss

    def new_cache(self) -> KVCache:
        """An empty :class:`KVCache` for this model."""
        return KVCache(self.config.n_layer)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k=None, top_p=None,
                 use_cache: bool = True, *, generator=None, eos=None):
        """``idx (B, T)`` followed by ``max_new_tokens`` new tokens each: ``(B, T + max_new_tokens)``.

        Greedy when ``temperature == 0``; otherwise sampled (with ``generator``
        for reproducibility) after top-k / top-p filtering. ``use_cache=False``
        runs the model over the whole (cropped) context at every step. With
        ``eos`` (a token id), a row that has produced it keeps producing it,
        and generation stops early once every row has.
        """
        return generate(self, idx, max_new_tokens, temperature, top_k, top_p, use_cache,
                        generator=generator, eos=eos, window=self.config.block_size,
                        vocab_size=self.config.vocab_size)

    @classmethod
    def from_hf(cls, model) -> "GPT":
        """A :class:`GPT` with the weights of a ``transformers`` ``GPT2LMHeadModel`` (any config)."""
        try:
            from transformers import GPT2LMHeadModel
        except ImportError as e:  # pragma: no cover - transformers is a course dependency
            raise ImportError("GPT.from_hf needs the transformers package") from e
        if not isinstance(model, GPT2LMHeadModel):
            raise TypeError(f"model must be a transformers GPT2LMHeadModel, got {check.describe(model)}")
        hc = model.config
        if getattr(hc, "add_cross_attention", False):
            raise ValueError("GPT.from_hf copies a decoder-only GPT-2; this one has cross-attention")
        act = hc.activation_function
        if act not in _HF_ACTIVATIONS:
            raise ValueError(f"GPT.from_hf supports the activations {sorted(_HF_ACTIVATIONS)}, got {act!r}")
        head, wte = model.lm_head.weight, model.transformer.wte.weight
        tied = head is wte or head.data_ptr() == wte.data_ptr()
        drop = max(hc.resid_pdrop, hc.embd_pdrop, hc.attn_pdrop)
        config = GPTConfig(vocab_size=hc.vocab_size, block_size=hc.n_positions, n_layer=hc.n_layer,
                           n_head=hc.n_head, n_embd=hc.n_embd, dropout=float(drop), bias=True, norm="pre",
                           n_inner=hc.n_inner, activation=_HF_ACTIVATIONS[act],
                           layer_norm_eps=float(hc.layer_norm_epsilon), tie_weights=bool(tied),
                           scale_attn_weights=bool(hc.scale_attn_weights),
                           scale_attn_by_inverse_layer_idx=bool(hc.scale_attn_by_inverse_layer_idx))
        ours = cls(config)
        sd = {k: v for k, v in model.state_dict().items() if not k.endswith((".attn.bias", ".masked_bias"))}
        new = {}
        for k, v in sd.items():
            if k.startswith("transformer.h.") and k.endswith(".weight") and \
                    any(s in k for s in (".c_attn.", ".c_proj.", ".c_fc.")):
                v = v.t()  # Conv1D stores (in, out); nn.Linear (out, in)
            new[k] = v
        if tied:
            new.pop("lm_head.weight", None)
        missing, unexpected = ours.load_state_dict(new, strict=False)
        missing = [m for m in missing if not (tied and m == "lm_head.weight")]
        if missing or unexpected:
            raise ValueError(f"cannot map this GPT2LMHeadModel: missing {missing}, unexpected {unexpected}")
        return ours.to(device=wte.device, dtype=wte.dtype).train(model.training)
