"""A sparse mixture-of-experts feed-forward layer with Switch routing (chapter 13; Fedus et al. 2021).

Shapes: N = tokens (``B * T`` flattened), C = ``n_embd``, E = experts.

:class:`SwitchMLP` replaces a GPT block's MLP by ``E`` expert MLPs of the same
shape and a router, a linear map ``C -> E`` followed by a softmax:

    p = softmax(W_r x)                       router probabilities, (N, E)
    e = argmax_i p_i,  g = p_e               top-1 routing: one expert per token
    y = g * MLP_e(x)   if the token is within expert e's capacity, else 0

Each expert takes at most ``capacity = ceil(capacity_factor * N / E)`` tokens
of a batch, in the order of the flattened batch; a token over capacity is
dropped: the layer returns 0 for it, so the block's residual connection
passes it through unchanged. ``capacity_factor=None`` sets no limit.
Multiplying by the router probability ``g`` is what lets the router learn
(the argmax itself has no gradient).

The auxiliary load-balancing loss (:func:`load_balancing_loss`) is
``E * sum_i f_i * P_i`` with ``f_i`` the fraction of tokens whose argmax is
expert ``i`` (before capacity) and ``P_i`` the mean router probability of
expert ``i``; it is 1 when routing is uniform and grows to ``E`` as one expert
takes everything. Every :class:`SwitchMLP` keeps the value of its last forward
(``.aux_loss``) with the tokens it dispatched (``.counts``) and dropped;
:func:`aux_loss` collects them from a whole model after a forward, and
:func:`lm_step_with_aux` adds ``alpha`` times it to the language-model loss.

:func:`to_moe` swaps the MLP of chosen blocks of a :class:`d2lt.gpt.GPT` (the
model's own code is not changed); :func:`parameter_counts` gives the total
and the per-token active parameters; :func:`forward_flops_per_token` counts
the matmul FLOPs of a forward with ``torch.utils.flop_counter.FlopCounterMode``.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check

__all__ = ["SwitchMLP", "load_balancing_loss", "switch_dispatch", "capacity", "to_moe", "moe_layers",
           "aux_loss", "expert_counts", "lm_step_with_aux", "parameter_counts", "forward_flops_per_token"]


def capacity(num_tokens: int, num_experts: int, capacity_factor) -> int:
    """The most tokens one expert takes: ``ceil(capacity_factor * num_tokens / num_experts)``
    (``num_tokens`` when ``capacity_factor`` is None: no limit)."""
    num_tokens = check.integer(num_tokens, "num_tokens", 0)
    num_experts = check.integer(num_experts, "num_experts", 1)
    if capacity_factor is None:
        return num_tokens
    cf = check.number(capacity_factor, "capacity_factor", 0, strict=True)
    return math.ceil(cf * num_tokens / num_experts)


def _check_probs(probs, name="router_probs"):
    check.tensor(probs, name, dims=2, shape="(N, E)", kind="float", nonempty=True, finite=True)
    sums = probs.sum(-1).float()
    if bool((probs < 0).any()) or not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        raise ValueError(f"{name} must hold probabilities (non-negative rows summing to 1), got "
                         f"a minimum {probs.min().item():.4g} and row sums "
                         f"{sums.min().item():.4g}..{sums.max().item():.4g}")
    return probs


def load_balancing_loss(router_probs, expert_index) -> torch.Tensor:
    """Switch's auxiliary loss ``E * sum_i f_i * P_i`` (a scalar).

    ``router_probs (N, E)``: each token's router probabilities; ``expert_index (N,)``: the expert
    each token was sent to (its argmax). ``f_i`` is the fraction of tokens with index ``i``,
    ``P_i`` the mean of column ``i`` of ``router_probs``; only ``P`` carries a gradient.
    """
    _check_probs(router_probs)
    N, E = router_probs.shape
    check.tensor(expert_index, "expert_index", dims=1, shape=f"({N},)", kind="int")
    if expert_index.shape[0] != N:
        raise ValueError(f"expert_index must have shape ({N},) like router_probs' rows, "
                         f"got {tuple(expert_index.shape)}")
    if bool(((expert_index < 0) | (expert_index >= E)).any()):
        raise ValueError(f"expert_index must hold experts in [0, {E}), got values in "
                         f"[{int(expert_index.min())}, {int(expert_index.max())}]")
    return _balance(router_probs, expert_index)


def _balance(router_probs, expert_index):
    """:func:`load_balancing_loss` on inputs already checked."""
    N, E = router_probs.shape
    f = torch.bincount(expert_index, minlength=E).to(router_probs.dtype) / N
    return E * (f * router_probs.mean(0)).sum()


def switch_dispatch(router_probs, capacity_: int) -> tuple:
    """Top-1 routing with a capacity: ``(expert (N,), gate (N,), keep (N,) bool)``.

    ``expert`` is each token's argmax, ``gate`` its probability; ``keep`` is False for a token
    that arrives (in row order) when its expert already holds ``capacity_`` tokens.
    """
    _check_probs(router_probs)
    return _dispatch(router_probs, check.integer(capacity_, "capacity", 0))


def _dispatch(router_probs, capacity_):
    """:func:`switch_dispatch` on inputs already checked."""
    gate, expert = router_probs.max(-1)
    onehot = F.one_hot(expert, router_probs.shape[1])                # (N, E)
    rank = (onehot.cumsum(0) * onehot).sum(-1) - 1                   # place in its expert's queue
    return expert, gate, rank < capacity_


class SwitchMLP(nn.Module):
    """``E`` expert MLPs (:class:`d2lt.gpt.MLP`) behind a top-1 router; a drop-in for ``Block.mlp``.

    ``experts``: start from these modules (e.g. copies of a dense MLP); default fresh ones
    initialised as the GPT initialises its MLPs. After each forward: ``aux_loss`` (the
    load-balancing loss, with gradient), ``counts`` (tokens whose argmax is each expert),
    ``dropped`` (tokens over capacity).
    """

    def __init__(self, config, num_experts: int, capacity_factor=1.25, experts=None):
        super().__init__()
        from .gpt import MLP, GPTConfig
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a d2lt.gpt.GPTConfig, got {check.describe(config)}")
        self.num_experts = check.integer(num_experts, "num_experts", 1)
        if capacity_factor is not None:
            capacity_factor = check.number(capacity_factor, "capacity_factor", 0, strict=True,
                                           what="None (no limit) or a number > 0")
        self.capacity_factor = capacity_factor
        self.n_embd = config.n_embd
        self.router = nn.Linear(config.n_embd, self.num_experts, bias=False)
        nn.init.normal_(self.router.weight, 0.0, 0.02)
        if experts is None:
            experts = []
            for _ in range(self.num_experts):
                m = MLP(config)
                for name, p in m.named_parameters():
                    std = 0.02 / math.sqrt(2 * config.n_layer) if name == "c_proj.weight" else 0.02
                    nn.init.normal_(p, 0.0, std) if name.endswith("weight") else nn.init.zeros_(p)
                experts.append(m)
        experts = list(experts)
        if len(experts) != self.num_experts or not all(isinstance(m, nn.Module) for m in experts):
            raise ValueError(f"experts must be {self.num_experts} modules, got {check.describe(experts)}")
        self.experts = nn.ModuleList(experts)
        self.aux_loss = self.counts = self.dropped = None

    def forward(self, x):
        check.tensor(x, "x", shape=f"(..., {self.n_embd})", kind="float", nonempty=True)
        if x.shape[-1] != self.n_embd:
            raise ValueError(f"x must have {self.n_embd} features in its last dimension, "
                             f"got shape {tuple(x.shape)}")
        h = x.reshape(-1, self.n_embd)                                   # (N, C)
        probs = self.router(h).float().softmax(-1)                       # (N, E), float32 as in Switch
        cap = capacity(h.shape[0], self.num_experts, self.capacity_factor)
        expert, gate, keep = _dispatch(_check_probs(probs), cap)        # probs checked once
        out = torch.zeros_like(h)
        for e, mlp in enumerate(self.experts):
            sel = torch.nonzero((expert == e) & keep).squeeze(1)
            if sel.numel():
                y = gate[sel, None].to(h.dtype) * mlp(h[sel])
                out = out.index_add(0, sel, y.to(out.dtype))
        self.aux_loss = _balance(probs, expert)
        self.counts = torch.bincount(expert.detach(), minlength=self.num_experts)
        self.dropped = int((~keep).sum())
        return out.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"num_experts={self.num_experts}, capacity_factor={self.capacity_factor}"


def _check_gpt(model):
    from .gpt import GPT
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a d2lt.gpt.GPT, got {check.describe(model)}")
    return model


def to_moe(model, num_experts: int, layers=None, capacity_factor=1.25, upcycle: bool = False):
    """Swap the MLP of ``layers`` (block indices; None: every block) of a GPT for a
    :class:`SwitchMLP`, in place; returns the model. ``upcycle=True`` starts every expert as a copy
    of the block's dense MLP (sparse upcycling); otherwise the experts are fresh."""
    _check_gpt(model)
    blocks = model.transformer.h
    if layers is None:
        layers = list(range(len(blocks)))
    layers = check.sequence(layers, "layers", "a list of block indices", nonempty=True)
    for i in layers:
        check.integer(i, "layer", 0, len(blocks) - 1, what=f"a block index in [0, {len(blocks) - 1}]")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers must not repeat a block, got {layers}")
    check.boolean(upcycle, "upcycle")
    num_experts = check.integer(num_experts, "num_experts", 1)
    dev = next(model.parameters()).device
    for i in layers:
        dense = blocks[i].mlp
        if isinstance(dense, SwitchMLP):
            raise ValueError(f"block {i} already has a SwitchMLP")
        experts = [copy.deepcopy(dense) for _ in range(num_experts)] if upcycle else None
        blocks[i].mlp = SwitchMLP(model.config, num_experts, capacity_factor, experts).to(dev)
    return model


def moe_layers(model) -> list:
    """The :class:`SwitchMLP` modules of ``model``, in order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {check.describe(model)}")
    return [m for m in model.modules() if isinstance(m, SwitchMLP)]


def _layers_run(model):
    layers = moe_layers(model)
    if not layers:
        raise ValueError("model has no SwitchMLP layer (use d2lt.moe.to_moe first)")
    if any(m.aux_loss is None for m in layers):
        raise ValueError("run a forward pass first: the SwitchMLP layers hold no routing yet")
    return layers


def aux_loss(model) -> torch.Tensor:
    """The mean over the model's :class:`SwitchMLP` layers of their load-balancing loss (last forward)."""
    layers = _layers_run(model)
    return torch.stack([m.aux_loss for m in layers]).mean()


def expert_counts(model) -> torch.Tensor:
    """``(layers, E)``: tokens sent to each expert (argmax) in each MoE layer during the last forward."""
    return torch.stack([m.counts for m in _layers_run(model)])


def lm_step_with_aux(alpha: float):
    """A step function for :func:`d2lt.train.fit`: :func:`d2lt.lm.lm_step` + ``alpha * aux_loss``."""
    from .lm import lm_step
    alpha = check.number(alpha, "alpha", 0)

    def step(model, batch):
        loss = lm_step(model, batch)
        return loss + alpha * aux_loss(model) if alpha else loss

    return step


def parameter_counts(model) -> dict:
    """``{"total", "active", "expert"}`` of a GPT without the position table (as
    ``GPT.num_parameters()``): every parameter, those one token uses (the router and one expert of
    each :class:`SwitchMLP`), and those of one expert MLP (the first layer's; 0 without MoE)."""
    _check_gpt(model)
    total = model.num_parameters(non_embedding=True)
    active, expert = total, 0
    for m in moe_layers(model):
        sizes = [sum(p.numel() for p in e.parameters()) for e in m.experts]
        active -= sum(sizes) - max(sizes)
        expert = expert or sizes[0]
    return {"total": total, "active": active, "expert": expert}


@torch.no_grad()
def forward_flops_per_token(model, idx) -> float:
    """The FLOPs of one forward of ``model`` on ``idx (B, T)`` counted by ``FlopCounterMode``
    (matrix products and attention), divided by the number of tokens ``B * T``."""
    from torch.utils.flop_counter import FlopCounterMode

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {check.describe(model)}")
    check.tensor(idx, "idx", dims=2, shape="(B, T)", kind="int", nonempty=True)
    was = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter:
            model(idx)
    finally:
        model.train(was)
    return counter.get_total_flops() / idx.numel()
