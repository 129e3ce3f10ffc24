"""d2lt.moe: Switch routing against a per-token loop and transformers' Switch Transformers code,
the load-balancing loss, the parameter and FLOP counts, and the input checks."""
import copy
import math

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

from d2lt import moe
from d2lt.gpt import GPT, GPTConfig, MLP

C, E = 16, 4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _config(**kw):
    cfg = dict(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=C, dropout=0.0)
    cfg.update(kw)
    return GPTConfig(**cfg)


def _layer(num_experts=E, capacity_factor=1.0, **kw):
    m = moe.SwitchMLP(_config(**kw), num_experts, capacity_factor).eval()
    with torch.no_grad():  # a router sharp enough that the argmax is never a near tie
        m.router.weight.normal_(0, 1.0)
    return m


def _loop_reference(layer, x):
    """The Switch layer one token at a time, in row order, each expert filling up to its capacity."""
    h = x.reshape(-1, C)
    cap = moe.capacity(h.shape[0], layer.num_experts, layer.capacity_factor)
    taken = [0] * layer.num_experts
    out = []
    for t in range(h.shape[0]):
        p = F.softmax(h[t] @ layer.router.weight.T, -1)
        e = int(p.argmax())
        if taken[e] < cap:
            taken[e] += 1
            out.append(p[e] * layer.experts[e](h[t:t + 1])[0])
        else:
            out.append(torch.zeros(C))
    return torch.stack(out).reshape(x.shape)


# ----------------------------------------------------------------------------- routing

@pytest.mark.parametrize("cf", [0.5, 1.0, 1.25, None])
def test_top1_dispatch_equals_a_per_token_loop_with_capacity(cf):
    layer = _layer(capacity_factor=cf)
    x = torch.randn(3, 7, C)
    y = layer(x)
    assert_close(y, _loop_reference(layer, x), atol=1e-6, rtol=1e-6)
    n = 21
    cap = n if cf is None else math.ceil(cf * n / E)
    assert layer.dropped == int((layer.counts - cap).clamp(min=0).sum())
    if cf == 0.5:
        assert layer.dropped > 0  # the capacity binds: some tokens pass through as zeros
        assert int((y.reshape(-1, C).abs().sum(-1) == 0).sum()) == layer.dropped


def test_one_expert_without_capacity_is_the_dense_mlp_times_one():
    config = _config()
    dense = MLP(config).eval()
    layer = moe.SwitchMLP(config, 1, None, experts=[copy.deepcopy(dense)]).eval()
    x = torch.randn(2, 9, C)
    assert_close(layer(x), dense(x) * 1.0, atol=1e-6, rtol=1e-6)
    assert layer.dropped == 0 and layer.counts.tolist() == [18]
    assert_close(layer.aux_loss, torch.tensor(1.0))


def test_dispatch_matches_transformers_switch_router():
    from transformers import SwitchTransformersConfig
    from transformers.models.switch_transformers.modeling_switch_transformers import (
        SwitchTransformersTop1Router)

    N, cap = 40, 7
    hc = SwitchTransformersConfig(d_model=C, num_experts=E, expert_capacity=cap, router_bias=False,
                                  router_jitter_noise=0.0)
    router = SwitchTransformersTop1Router(hc).eval()
    with torch.no_grad():
        router.classifier.weight.normal_(0, 1.0)
    h = torch.randn(1, N, C)
    onehot, gate_hf, logits = router(h)
    probs = F.softmax(h[0] @ router.classifier.weight.T, -1)
    expert, gate, keep = moe.switch_dispatch(probs, cap)
    assert torch.equal(onehot[0].sum(-1).bool(), keep)                 # the same tokens kept
    assert torch.equal(onehot[0].argmax(-1)[keep], expert[keep])       # by the same experts
    assert_close(gate, gate_hf[0, :, 0])


def test_load_balancing_loss_equals_recomputation_and_transformers():
    from transformers.models.switch_transformers.modeling_switch_transformers import (
        load_balancing_loss_func)

    probs = F.softmax(torch.randn(30, E) * 2, -1)
    idx = probs.argmax(-1)
    direct = E * sum((idx == i).float().mean() * probs[:, i].mean() for i in range(E))
    ours = moe.load_balancing_loss(probs, idx)
    assert_close(ours, direct)
    assert_close(ours, load_balancing_loss_func(probs[None], idx[None]).float())
    # uniform routing: every f_i = P_i = 1/E, the loss is its minimum 1
    uniform = torch.full((8, E), 1 / E)
    assert_close(moe.load_balancing_loss(uniform, torch.arange(8) % E), torch.tensor(1.0))
    # everything sent to one expert with certainty: E
    onehot = F.one_hot(torch.zeros(8, dtype=torch.long), E).float()
    assert_close(moe.load_balancing_loss(onehot, torch.zeros(8, dtype=torch.long)), torch.tensor(float(E)))


def test_gradients_reach_the_router_through_gate_and_aux_loss():
    layer = _layer(capacity_factor=None).train()
    x = torch.randn(2, 5, C)
    layer(x).pow(2).sum().backward()
    g = layer.router.weight.grad
    assert g is not None and g.abs().sum() > 0
    layer.zero_grad()
    layer(x)
    layer.aux_loss.backward()
    assert layer.router.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in layer.experts.parameters())


# ----------------------------------------------------------------------------- in the GPT

def test_to_moe_in_a_gpt_counts_and_aux_loss():
    config = _config()
    dense = GPT(config).eval()
    sparse = moe.to_moe(copy.deepcopy(dense), E, layers=[1], capacity_factor=None, upcycle=True).eval()
    idx = torch.randint(0, 50, (2, 12))
    # upcycled experts are copies of the dense MLP: the output is the dense output scaled by the gate
    layer = moe.moe_layers(sparse)[0]
    assert len(moe.moe_layers(sparse)) == 1 and isinstance(sparse.transformer.h[0].mlp, MLP)
    logits, _ = sparse(idx)
    assert moe.expert_counts(sparse).sum() == 24
    assert 1.0 - 1e-5 <= moe.aux_loss(sparse).item() <= E
    counts = moe.parameter_counts(sparse)
    expert = sum(p.numel() for p in layer.experts[0].parameters())
    assert counts["expert"] == expert == 2 * C * 4 * C + 4 * C + C
    assert counts["total"] == dense.num_parameters() + (E - 1) * expert + C * E
    assert counts["active"] == dense.num_parameters() + C * E
    # FLOPs: with no capacity limit every token passes one expert, plus the router's 2 C E
    fd = moe.forward_flops_per_token(dense, idx)
    fs = moe.forward_flops_per_token(sparse, idx)
    assert fs == fd + 2 * C * E
    step = moe.lm_step_with_aux(0.5)
    x, y = idx[:, :-1], idx[:, 1:]
    lm = sparse(x, y)[1]
    assert_close(step(sparse, (x, y)), lm + 0.5 * moe.aux_loss(sparse))


def test_capacity_drops_pass_through_the_residual():
    config = _config()
    model = moe.to_moe(GPT(config), E, layers=[0], capacity_factor=0.25).eval()
    block = model.transformer.h[0]
    x = torch.randn(1, 16, C)
    after_attn = x + block.attn(block.ln_1(x))
    out = block(x)
    dropped = ~moe.switch_dispatch(F.softmax(block.mlp.router(block.ln_2(after_attn)).reshape(-1, E), -1),
                                   moe.capacity(16, E, 0.25))[2]
    assert dropped.any()
    assert_close(out[0, dropped], after_attn[0, dropped])


# ----------------------------------------------------------------------------- bad input

def test_bad_inputs_raise():
    config = _config()
    with pytest.raises(TypeError, match="GPTConfig"):
        moe.SwitchMLP("config", E)
    with pytest.raises(ValueError, match="num_experts"):
        moe.SwitchMLP(config, 0)
    with pytest.raises(TypeError, match="num_experts"):
        moe.SwitchMLP(config, 2.0)
    with pytest.raises(ValueError, match="capacity_factor"):
        moe.SwitchMLP(config, E, 0.0)
    with pytest.raises(ValueError, match="capacity_factor"):
        moe.SwitchMLP(config, E, float("nan"))
    with pytest.raises(ValueError, match="experts"):
        moe.SwitchMLP(config, E, experts=[MLP(config)])
    layer = moe.SwitchMLP(config, E)
    with pytest.raises(ValueError, match="16 features"):
        layer(torch.randn(2, 3, 8))
    with pytest.raises(TypeError, match="floating"):
        layer(torch.ones(2, 3, C, dtype=torch.long))
    with pytest.raises(TypeError, match="tensor"):
        layer([1.0] * C)
    probs = F.softmax(torch.randn(5, E), -1)
    with pytest.raises(ValueError, match="probabilities"):
        moe.load_balancing_loss(probs * 2, probs.argmax(-1))
    with pytest.raises(ValueError, match="finite"):
        moe.load_balancing_loss(torch.full((5, E), float("nan")), probs.argmax(-1))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        moe.load_balancing_loss(probs, torch.full((5,), 4))
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        moe.load_balancing_loss(probs, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        moe.load_balancing_loss(torch.zeros(0, E), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="capacity"):
        moe.switch_dispatch(probs, -1)
    model = GPT(config)
    with pytest.raises(TypeError, match="d2lt.gpt.GPT"):
        moe.to_moe(torch.nn.Linear(2, 2), E)
    with pytest.raises(ValueError, match="block index"):
        moe.to_moe(model, E, layers=[2])
    with pytest.raises(TypeError, match="list"):
        moe.to_moe(model, E, layers="01")
    with pytest.raises(ValueError, match="no SwitchMLP"):
        moe.aux_loss(model)
    moe.to_moe(model, E, layers=[0])
    with pytest.raises(ValueError, match="forward pass first"):
        moe.aux_loss(model)
    with pytest.raises(ValueError, match="already"):
        moe.to_moe(model, E, layers=[0])
    with pytest.raises(ValueError, match="alpha"):
        moe.lm_step_with_aux(-1.0)
    with pytest.raises(ValueError, match="idx"):
        moe.forward_flops_per_token(model, torch.zeros(3, dtype=torch.long))
