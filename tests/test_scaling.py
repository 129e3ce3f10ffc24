"""d2lt.scaling: the ladder, parameter counts, power-law fits, IsoFLOP helpers, the results file."""
import json
import math

import numpy as np
import pytest
import torch

from d2lt import bench, lm, scaling, train
from d2lt.gpt import GPT, GPTConfig


# ------------------------------------------------------------------ the ladder and its counts

def test_ladder_spans_the_promised_range():
    for rungs, span in ((scaling.LADDER, 30), (scaling.MINI_LADDERS["cpu"], 30),
                        (scaling.MINI_LADDERS["ci"], 10)):
        configs = scaling.ladder_configs(4096, 64, rungs)
        n = [scaling.non_embedding_params(c) for c in configs.values()]
        assert len(n) >= 5 and n == sorted(n) and len(set(n)) == len(n)
        assert n[-1] / n[0] >= span


@pytest.mark.parametrize("kw", [dict(), dict(tie_weights=False), dict(bias=False), dict(n_inner=40),
                                dict(norm="post")])
def test_non_embedding_params_is_the_count_minus_the_tables(kw):
    cfg = GPTConfig(vocab_size=97, block_size=24, n_layer=2, n_head=2, n_embd=16, **kw)
    torch.manual_seed(0)
    m = GPT(cfg)
    distinct = {id(p): p for p in m.parameters()}
    by_hand = sum(p.numel() for p in distinct.values()) - 97 * 16 - 24 * 16
    assert scaling.non_embedding_params(m) == by_hand
    assert scaling.non_embedding_params(cfg) == by_hand
    # about 12 L d^2 when the widths dominate
    big = GPTConfig(vocab_size=50, block_size=8, n_layer=3, n_head=4, n_embd=256)
    assert abs(scaling.non_embedding_params(big) / (12 * 3 * 256 ** 2) - 1) < 0.01


def test_non_embedding_params_rejects_other_things():
    with pytest.raises(TypeError, match="GPT"):
        scaling.non_embedding_params(torch.nn.Linear(3, 3))
    with pytest.raises(TypeError, match="GPT"):
        scaling.non_embedding_params("L2-d32")


def test_ladder_configs_validate():
    with pytest.raises(TypeError, match="rungs"):
        scaling.ladder_configs(100, 8, "L1-d16")
    with pytest.raises(TypeError, match="rungs\\[0\\]"):
        scaling.ladder_configs(100, 8, [("a", 1, 16)])
    with pytest.raises(ValueError, match="n_embd"):
        scaling.ladder_configs(100, 8, [("a", 1, 0, 2)])
    with pytest.raises(ValueError, match="vocab_size"):
        scaling.ladder_configs(1, 8)


def test_ladder_module_saves_each_tied_matrix_once(tmp_path):
    configs = scaling.ladder_configs(61, 8, [("a", 1, 8, 2), ("b", 1, 16, 2)])
    torch.manual_seed(0)
    lad = scaling.Ladder(configs)
    assert not any(k.endswith("lm_head.weight") for k in lad.state_dict())
    path = train.save_checkpoint(tmp_path / "l.pt", lad, {"x": 1}, half=True)
    back = scaling.Ladder(configs)
    train.load_checkpoint(path, back, {"x": 1})
    for n in ("a", "b"):
        m = back.rung(n)
        assert m.lm_head.weight is m.transformer.wte.weight          # the tie survives loading
        torch.testing.assert_close(m.transformer.wte.weight,
                                   lad.rung(n).transformer.wte.weight.half().float())
    with pytest.raises(ValueError):
        back.rung("c")
    with pytest.raises(RuntimeError, match="missing"):
        back.load_state_dict({})


# ------------------------------------------------------------------ FLOPs: 6ND against a counted step

def test_six_n_d_against_flop_counter():
    """Counted matmul FLOPs of a training step = 6 N' D + 12 L T d D, N' = the matmul weights
    (non-embedding parameters plus the tied head), to 1.5% (biases and norms do no matmul)."""
    cfg = scaling.ladder_configs(4096, 64)["L3-d64"]
    B, T = 2, 64
    counted = scaling.counted_training_flops(cfg, B, T)
    estimate = bench.gpt_flops_per_token(cfg, T) * B * T
    assert abs(counted / estimate - 1) < 0.015
    n = scaling.non_embedding_params(cfg)
    by_parts = (6 * (n + cfg.vocab_size * cfg.n_embd) + 12 * cfg.n_layer * T * cfg.n_embd) * B * T
    assert abs(counted / by_parts - 1) < 0.015
    # 6 N D alone (Kaplan's N) leaves out the head and attention: here they are most of the cost
    assert counted > 2 * scaling.training_flops(n, B * T)
    # at a context 4x longer only the attention term grows: by 3 * 12 L T d per token
    longer = GPTConfig(**{**cfg.to_dict(), "block_size": 256})
    extra = scaling.counted_training_flops(longer, 1, 256) / 256 - counted / (B * T)
    assert abs(extra / (12 * cfg.n_layer * (256 - 64) * cfg.n_embd) - 1) < 0.01


def test_training_flops_validates():
    assert scaling.training_flops(70e9, 1.4e12) == pytest.approx(5.88e23)
    for bad in (0, -1, math.nan, math.inf):
        with pytest.raises(ValueError):
            scaling.training_flops(bad, 10)
    with pytest.raises(TypeError):
        scaling.training_flops("7e10", 10)
    with pytest.raises(TypeError):
        scaling.counted_training_flops({"n_embd": 8})


# ------------------------------------------------------------------ power-law fits

def test_power_law_fit_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e7, 12)
    y = 40.0 * x ** -0.2 * np.exp(rng.normal(0, 0.005, x.size))
    f = scaling.power_law_fit(x, y)
    assert abs(f.alpha - 0.2) < 0.005 and abs(f.coef / 40 - 1) < 0.1 and f.floor == 0
    assert f.rmse_log < 0.01
    np.testing.assert_allclose(f(x), y, rtol=0.02)
    assert abs(f.scale - 40 ** 5) / 40 ** 5 < 0.5           # Kaplan's (x_c / x)^alpha form


def test_power_law_fit_with_an_irreducible_term():
    x = np.geomspace(1e3, 1e8, 15)
    y = 1.7 + 30.0 * x ** -0.3
    with_e = scaling.power_law_fit(x, y, irreducible=True)
    assert abs(with_e.floor - 1.7) < 0.01 and abs(with_e.alpha - 0.3) < 0.005
    assert with_e.rmse_log < 1e-4
    without = scaling.power_law_fit(x, y)
    assert without.alpha < 0.2 and without.rmse_log > 10 * with_e.rmse_log  # the floor bends the line
    # a pure power law gets a floor of about 0
    pure = scaling.power_law_fit(x, 30.0 * x ** -0.3, irreducible=True)
    assert pure.floor < 1e-3 and abs(pure.alpha - 0.3) < 1e-3


@pytest.mark.parametrize("x, y, err", [
    ([1, 2, math.nan], [3, 2, 1], ValueError), ([1, 2, 3], [3, -2, 1], ValueError),
    ([1, 2, 3], [3, 0, 1], ValueError), ([1, 2, math.inf], [3, 2, 1], ValueError),
    ([1, 2, 3], [3, 2], ValueError), ([2, 2, 2], [3, 2, 1], ValueError), ([], [], ValueError),
    ("123", [3, 2, 1], TypeError), ([1, True, 3], [3, 2, 1], TypeError), ([1, "2", 3], [3, 2, 1], TypeError)])
def test_power_law_fit_rejects_bad_points(x, y, err):
    with pytest.raises(err):
        scaling.power_law_fit(x, y)


def test_power_law_fit_with_floor_needs_three_x():
    with pytest.raises(ValueError, match="three"):
        scaling.power_law_fit([1, 2, 2], [3, 2, 2.1], irreducible=True)
    with pytest.raises(TypeError):
        scaling.power_law_fit([1, 2, 3], [3, 2, 1], irreducible=1)


# ------------------------------------------------------------------ IsoFLOP helpers

def test_loss_at_tokens_interpolates_in_log_space():
    t = [1e3, 1e4, 1e5]
    l_ = [8.0, 4.0, 2.0]                          # a power law: exact in between
    assert scaling.loss_at_tokens(t, l_, 10 ** 3.5) == pytest.approx(8 / 2 ** 0.5)
    assert scaling.loss_at_tokens(t, l_, 1e4) == pytest.approx(4.0)
    assert math.isnan(scaling.loss_at_tokens(t, l_, 1e6)) and math.isnan(scaling.loss_at_tokens(t, l_, 10))
    with pytest.raises(ValueError, match="increase"):
        scaling.loss_at_tokens([1e3, 1e3, 1e5], l_, 1e4)
    with pytest.raises(ValueError):
        scaling.loss_at_tokens(t, l_, -5)


def _surface(E=1.5, A=300.0, B=400.0, a=0.35, b=0.3):
    return lambda n, d: E + A / n ** a + B / d ** b


def test_isoflop_recovers_the_optimum_of_a_known_surface():
    """On L = E + A/N^a + B/D^b sampled like a ladder (curves at log-spaced tokens), the IsoFLOP
    optimum matches the closed form N_opt = G (C/6)^(b/(a+b)), G = (aA/(bB))^(1/(a+b))."""
    E, A, B, a, b = 1.5, 300.0, 400.0, 0.35, 0.3
    L = _surface(E, A, B, a, b)
    tokens = np.geomspace(1e4, 1e11, 60)
    curves = {f"n{i}": {"N": n, "tokens": tokens.tolist(), "loss": [L(n, d) for d in tokens]}
              for i, n in enumerate(np.geomspace(1e4, 1e9, 41))}
    budgets = [1e14, 1e15, 1e16]
    prof = scaling.isoflop_profiles(curves, budgets)
    G = (a * A / (b * B)) ** (1 / (a + b))
    found = []
    for C in budgets:
        n, l_ = zip(*prof[C])
        assert all(6 * ni * tokens[0] <= C <= 6 * ni * tokens[-1] for ni in n)
        got = scaling.isoflop_optimum(n, l_)
        want = G * (C / 6) ** (b / (a + b))
        assert abs(math.log(got / want)) < 0.03
        found.append(got)
    slope = scaling.power_law_fit(budgets, found).alpha        # N_opt ~ C^(b/(a+b))
    assert abs(-slope - b / (a + b)) < 0.02


def test_isoflop_optimum_refuses_an_optimum_at_the_edge():
    with pytest.raises(ValueError, match="outside"):
        scaling.isoflop_optimum([1, 2, 4], [3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="three"):
        scaling.isoflop_optimum([1, 2], [3.0, 2.0])
    assert scaling.isoflop_optimum([1, 2, 4], [3.0, 2.0, 3.0]) == pytest.approx(2.0)


def test_isoflop_profiles_validate():
    with pytest.raises(TypeError):
        scaling.isoflop_profiles([], [1e10])
    with pytest.raises(ValueError, match="'N'"):
        scaling.isoflop_profiles({"a": {"tokens": [1, 2], "loss": [2, 1]}}, [1e3])
    with pytest.raises(ValueError):
        scaling.isoflop_profiles({"a": {"N": 10, "tokens": [1, 2], "loss": [2, 1]}}, [math.nan])


def test_log_steps():
    s = scaling.log_steps(1300, 14)
    assert s[0] == 1 and s[-1] == 1300 and s == sorted(set(s)) and 10 <= len(s) <= 14
    r = np.diff(np.log(s[4:]))
    assert r.max() < 2 * r.min()                        # evenly spaced in log steps
    with pytest.raises(ValueError):
        scaling.log_steps(0, 3)


# ------------------------------------------------------------------ quoted figures

def test_chinchilla_and_gopher_have_about_the_same_compute():
    runs = {r["model"]: r for r in scaling.QUOTED_RUNS}
    assert all(r["source"] for r in scaling.QUOTED_RUNS)
    c = {k: scaling.training_flops(runs[k]["params"], runs[k]["tokens"]) for k in ("Chinchilla", "Gopher")}
    assert c["Chinchilla"] == pytest.approx(5.88e23, rel=1e-3) and c["Gopher"] == pytest.approx(5.04e23, rel=1e-3)
    assert runs["Chinchilla"]["tokens"] / runs["Chinchilla"]["params"] == pytest.approx(20)
    assert runs["Gopher"]["tokens"] / runs["Gopher"]["params"] == pytest.approx(1.07, abs=0.01)
    # the quoted fit prefers Chinchilla at about the same compute
    assert scaling.chinchilla_loss(70e9, 1.4e12) < scaling.chinchilla_loss(280e9, 300e9)
    for k in ("GPT-3", "MT-NLG", "PaLM", "Llama 7B", "Llama 65B"):
        assert k in runs


# ------------------------------------------------------------------ the results file

def test_results_file_round_trip_and_damage(tmp_path):
    p = tmp_path / "r.json"
    body = {"rungs": {"a": {"N": 10, "tokens": [1, 2], "loss": [3.0, 2.0]}}, "complete": True}
    scaling.save_results(p, body)
    assert scaling.load_results(p) == body
    doc = json.loads(p.read_text())
    doc["body"]["rungs"]["a"]["loss"][1] = 1.9             # an edited figure
    p.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="damaged"):
        scaling.load_results(p)
    p.write_text(p.read_text()[:40])                       # truncated
    with pytest.raises(ValueError, match="damaged"):
        scaling.load_results(p)
    p.write_text(json.dumps({"format": "other", "body": body}))
    with pytest.raises(ValueError, match="not a"):
        scaling.load_results(p)
    with pytest.raises(FileNotFoundError):
        scaling.load_results(tmp_path / "none.json")
    with pytest.raises(ValueError, match="JSON"):
        scaling.save_results(p, {"x": object()})


def test_train_rung_records_a_falling_log_spaced_curve():
    ids = torch.randint(0, 50, (3000,), generator=torch.Generator().manual_seed(0))
    ids[1::2] = (ids[0::2] + 1) % 50                   # a learnable pattern
    cfg = scaling.ladder_configs(50, 16, [("a", 1, 16, 2)])["a"]
    torch.manual_seed(0)
    m = GPT(cfg)
    rec = scaling.train_rung(m, ids, lm.TokenBlocks(ids[:600], 16), steps=40, batch_size=8, evals=5,
                             device="cpu")
    assert rec["tokens"] == [s * 8 * 16 for s in scaling.log_steps(40, 5)]
    assert rec["loss"][-1] < rec["loss"][0] - 0.3 and rec["steps"] == 40
    with pytest.raises(TypeError, match="TokenBlocks"):
        scaling.train_rung(m, ids, ids, steps=4)
    with pytest.raises(TypeError, match="CPUBudget"):
        scaling.train_rung(m, ids, lm.TokenBlocks(ids, 16), steps=4, budget=5)


# ------------------------------------------------------------------ the shipped ladder

def test_the_shipped_ladder_reproduces_its_figures():
    """Today's code, on the shipped float16 weights, gives the stored held-out losses."""
    body = scaling.load_results(train.course_checkpoint(scaling.WEIGHTS).with_name(scaling.RESULTS))
    assert body["complete"]
    tok = lm.wiki_bpe()
    assert body["tokenizer"] == lm.tokenizer_fingerprint(tok)
    configs = scaling.ladder_configs(tok.get_vocab_size(), body["block_size"])
    lad = scaling.Ladder(configs)
    train.load_checkpoint(train.course_checkpoint(scaling.WEIGHTS), lad,
                          {"rungs": {k: c.to_dict() for k, c in configs.items()},
                           "tokenizer": body["tokenizer"], "data": body["data"]})
    valid = lm.TokenBlocks(lm.wiki_tokens(tok, "valid"), body["block_size"])
    finals = []
    for name in ("L1-d16", "L4-d128"):
        got = lm.evaluate_loss(lad.rung(name), valid, max_blocks=64)
        assert abs(got - body["rungs"][name]["shipped_valid_loss_64"]) < 1e-4
    for name, r in sorted(body["rungs"].items(), key=lambda kv: kv[1]["N"]):
        assert r["N"] == scaling.non_embedding_params(lad.rung(name))
        finals.append(r["loss"][-1])
        assert abs(r["shipped_valid_loss"] - r["loss"][-1]) < 0.01     # float16 costs little
    assert len(finals) == len(scaling.LADDER)
    assert finals == sorted(finals, reverse=True)                      # bigger is better
