"""d2lt.icl: task generators, prompts, scoring of in-context learners, scratchpads, and the shipped models."""
import math

import pytest
import torch

from d2lt import icl, train
from d2lt.gpt import GPT, IGNORE_INDEX, GPTConfig


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- vocabulary

def test_encode_decode_round_trip_and_bad_input():
    text = "A3C5B0C" + "3+4*2-7=" + ">7$"
    ids = icl.encode(text)
    assert len(ids) == len(text) and icl.decode(ids) == text
    assert icl.decode(torch.tensor(ids)) == text
    assert len(set(icl.VOCAB)) == len(icl.VOCAB)
    with pytest.raises(ValueError, match="characters"):
        icl.encode("A 3")
    with pytest.raises(TypeError):
        icl.encode(["A"])
    with pytest.raises(ValueError):
        icl.decode([0, len(icl.VOCAB)])
    with pytest.raises(TypeError):
        icl.decode("A3")
    with pytest.raises(ValueError):
        icl.decode(torch.zeros(2, 2, dtype=torch.long))


# --------------------------------------------------------------------------- random mappings

def test_sample_mappings_is_reproducible_and_in_range():
    a, b = icl.sample_mappings(50, gen(3), 8, 5), icl.sample_mappings(50, gen(3), 8, 5)
    assert torch.equal(a, b) and a.shape == (50, 8) and a.dtype == torch.long
    assert int(a.min()) >= 0 and int(a.max()) <= 4 and len(a.unique()) == 5
    assert not torch.equal(a, icl.sample_mappings(50, gen(4), 8, 5))
    with pytest.raises(TypeError, match="torch.Generator"):
        icl.sample_mappings(5, 0)
    for bad in (dict(n=0), dict(num_inputs=17), dict(num_outputs=1), dict(num_outputs=11)):
        kw = {**dict(n=5, num_inputs=8, num_outputs=8), **bad}
        with pytest.raises(ValueError):
            icl.sample_mappings(kw["n"], gen(), kw["num_inputs"], kw["num_outputs"])
    with pytest.raises(TypeError):
        icl.sample_mappings(5.0, gen())


def _pairs(row):
    """(input letter, output digit) pairs of one row of ids ``x y x y ...``."""
    text = icl.decode(row)
    return [(text[i], text[i + 1]) for i in range(0, len(text) - 1, 2)]


def test_icl_sequences_show_the_mapping():
    maps = icl.sample_mappings(20, gen(1))
    seq = icl.icl_sequences(maps, 12, gen(2))
    assert seq.shape == (20, 24)
    for t in range(20):
        for x, y in _pairs(seq[t]):
            assert int(y) == int(maps[t, icl.INPUTS.index(x)])
    assert torch.equal(seq, icl.icl_sequences(maps, 12, gen(2)))
    with pytest.raises(ValueError):
        icl.icl_sequences(torch.full((2, 8), 12), 4, gen())
    with pytest.raises(TypeError):
        icl.icl_sequences(maps.float(), 4, gen())
    with pytest.raises(ValueError):
        icl.icl_sequences(maps, 0, gen())


def test_icl_batch_trains_on_the_answers_only():
    idx, targets = icl.icl_batch(16, 9, gen(5))
    assert idx.shape == targets.shape == (16, 17)
    is_input = idx >= icl.STOI["A"]
    assert bool((targets[~is_input] == IGNORE_INDEX).all())
    assert bool((targets[is_input] != IGNORE_INDEX).all()) and int(is_input.sum()) == 16 * 9
    assert torch.equal(targets[:, :-1][is_input[:, :-1]], idx[:, 1:][is_input[:, :-1]])
    for t in range(16):  # one task per row: the same input always has the same output
        seen = {}
        for x, y in _pairs(torch.cat([idx[t], targets[t, -1:]])):
            assert seen.setdefault(x, y) == y
    a, b = icl.icl_batch(4, 3, gen(9)), icl.icl_batch(4, 3, gen(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("query", ["any", "seen", "unseen"])
def test_shot_prompts_queries(query):
    k, n = 5, 300
    prompts, answers, maps = icl.shot_prompts(k, n, gen(7), query=query)
    assert prompts.shape == (n, 2 * k + 1) and answers.shape == (n,)
    shown_any = 0
    for t in range(n):
        text = icl.decode(prompts[t])
        x = text[-1]
        assert answers[t] - icl.STOI["0"] == maps[t, icl.INPUTS.index(x)]
        shown = dict(_pairs(prompts[t, :-1]))
        for xx, yy in shown.items():  # the examples are true to the task
            assert int(yy) == int(maps[t, icl.INPUTS.index(xx)])
        if query == "seen":
            assert x in shown
        if query == "unseen":
            assert x not in shown
        shown_any += x in shown
    if query == "any":  # the query is shown with probability 1 - (7/8)^5 = 0.487
        assert abs(shown_any / n - (1 - (7 / 8) ** 5)) < 0.1
    p2, a2, _ = icl.shot_prompts(k, n, gen(7), query=query)
    assert torch.equal(prompts, p2) and torch.equal(answers, a2)


def test_shot_prompts_bad_input():
    with pytest.raises(ValueError, match="k >= 1"):
        icl.shot_prompts(0, 5, gen(), query="seen")
    with pytest.raises(ValueError):
        icl.shot_prompts(2, 5, gen(), query="some")
    with pytest.raises(ValueError):
        icl.shot_prompts(-1, 5, gen())
    with pytest.raises(ValueError):
        icl.shot_prompts(2, 5, gen(), num_inputs=1, query="unseen")
    prompts, _, _ = icl.shot_prompts(0, 4, gen())
    assert prompts.shape == (4, 1)


def test_bayes_accuracy_formula():
    assert icl.bayes_accuracy(0) == pytest.approx(1 / 8)
    assert icl.bayes_accuracy(1, 4, 5) == pytest.approx(1 / 4 + 3 / 4 * 1 / 5)
    assert icl.bayes_accuracy(100) > 0.999
    assert all(icl.bayes_accuracy(k) < icl.bayes_accuracy(k + 1) for k in range(20))
    with pytest.raises(ValueError):
        icl.bayes_accuracy(-1)


def test_the_evaluation_scores_the_oracle_perfectly_and_chance_at_chance():
    shots = [1, 2, 4, 8, 16]
    n = 4000
    # an oracle that knows what was shown answers every shown query
    assert icl.accuracy_vs_shots(icl.ideal_learner, shots, n=n, query="seen") == {k: 1.0 for k in shots}
    # the ideal learner on uniform queries follows the Bayes curve (within 4 standard errors)
    ideal = icl.accuracy_vs_shots(icl.ideal_learner, [0] + shots, n=n)
    for k, acc in ideal.items():
        p = icl.bayes_accuracy(k)
        assert abs(acc - p) < 4 * math.sqrt(p * (1 - p) / n), (k, acc, p)
    chance = icl.accuracy_vs_shots(icl.chance_learner(gen(1)), shots, n=n)
    for acc in chance.values():
        assert abs(acc - 1 / 8) < 4 * math.sqrt(1 / 8 * 7 / 8 / n)
    unseen = icl.accuracy_vs_shots(icl.ideal_learner, shots, n=n, query="unseen")
    assert all(abs(a - 1 / 8) < 0.03 for a in unseen.values())
    # a learner that always says "0" is as good as chance, not better
    zero = icl.accuracy_vs_shots(lambda p: torch.full((p.shape[0],), icl.STOI["0"]), shots, n=n)
    assert all(abs(a - 1 / 8) < 0.03 for a in zero.values())


def test_accuracy_vs_shots_with_a_model_and_bad_input():
    torch.manual_seed(0)
    model = GPT(icl.icl_gpt_config("tiny"))
    a = icl.accuracy_vs_shots(model, [0, 3], n=64)
    assert a == icl.accuracy_vs_shots(model, [0, 3], n=64) and all(0 <= v <= 1 for v in a.values())
    assert icl.next_token(model, torch.tensor([icl.encode("A3B")])).shape == (1,)
    with pytest.raises(TypeError):
        icl.accuracy_vs_shots("model", [1])
    with pytest.raises(TypeError):
        icl.accuracy_vs_shots(model, "1,2")
    with pytest.raises(ValueError):
        icl.accuracy_vs_shots(model, [])
    with pytest.raises(ValueError):
        icl.accuracy_vs_shots(model, [1], n=0)
    with pytest.raises(ValueError, match="shape"):
        icl.accuracy_vs_shots(lambda p: torch.zeros(3), [1], n=8)
    with pytest.raises(ValueError):
        icl.ideal_learner(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(TypeError):
        icl.next_token(torch.nn.Linear(2, 2), torch.zeros(1, 1, dtype=torch.long))


def test_finetune_cost_trains_a_copy():
    torch.manual_seed(0)
    model = GPT(icl.icl_gpt_config("tiny"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = icl.finetune_cost(model, 8, 1.0, generator=gen(3), max_steps=300, lr=3e-3)
    assert set(out) >= {"steps", "seconds", "accuracy", "reached", "icl_accuracy", "icl_seconds"}
    assert out["steps"] >= 1 and out["reached"] == (out["accuracy"] >= 1.0)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the original is untouched
    easy = icl.finetune_cost(model, 8, 0.0, generator=gen(3))
    assert easy["steps"] == 0 and easy["reached"]
    default = icl.finetune_cost(model, 8, generator=gen(3), lr=3e-3)  # the in-context accuracy
    assert default["target"] == default["icl_accuracy"] == easy["icl_accuracy"]
    assert default["reached"] and default["accuracy"] >= default["icl_accuracy"]
    with pytest.raises(ValueError):
        icl.finetune_cost(model, 0, 0.5, generator=gen())
    with pytest.raises(ValueError):
        icl.finetune_cost(model, 4, 1.5, generator=gen())
    with pytest.raises(TypeError):
        icl.finetune_cost("m", 4, 0.5, generator=gen())
    with pytest.raises(TypeError):
        icl.finetune_cost(model, 4, 0.5, generator=3)


# --------------------------------------------------------------------------- chains and scratchpads

def _left_to_right(problem):
    """The running values computed independently, with Python's own arithmetic."""
    body = problem.rstrip("=")
    value, out = int(body[0]), []
    for i in range(1, len(body), 2):
        op, b = body[i], int(body[i + 1])
        value = eval(f"({value}) {op} ({b})") % 10  # noqa: S307 - digits and + - * only
        out.append(value)
    return out


def test_sample_chains_and_values():
    probs = icl.sample_chains(200, 5, gen(11))
    assert probs == icl.sample_chains(200, 5, gen(11)) and probs != icl.sample_chains(200, 5, gen(12))
    assert all(len(p) == 12 and p.endswith("=") for p in probs)
    assert {c for p in probs for c in p[1:-1:2]} == set(icl.OPS)
    for p in probs:
        assert icl.chain_values(p) == _left_to_right(p)
    assert icl.chain_values("3+4*2-7=") == [7, 4, 7]
    only_plus = icl.sample_chains(20, 3, gen(), ops="+")
    assert all(set(p[1:-1:2]) == {"+"} for p in only_plus)
    for bad in ("3+4", "3+=", "34=", "3/4=", "+4=", ""):
        with pytest.raises(ValueError):
            icl.chain_values(bad)
    with pytest.raises(ValueError):
        icl.sample_chains(3, 2, gen(), ops="+/")
    with pytest.raises(ValueError):
        icl.sample_chains(3, 0, gen())


def test_every_scratchpad_step_is_correct():
    for p in icl.sample_chains(300, 6, gen(13)):
        pad = icl.scratchpad(p)
        steps, answer = pad.split(">")
        parts = steps.rstrip(";").split(";")
        values = _left_to_right(p)
        assert len(parts) == 6
        prev = int(p[0])
        for j, step in enumerate(parts):  # "a op b = c": a is the previous value, op and b the problem's
            a, op, b, eq, c = step
            assert eq == "=" and int(a) == prev and op == p[2 * j + 1] and b == p[2 * j + 2]
            assert int(c) == eval(f"({a}) {op} ({b})") % 10 == values[j]  # noqa: S307
            prev = int(c)
        assert answer == str(values[-1]) == icl.final_answer(pad + icl.EOS)
    assert icl.scratchpad("3+4*2=") == "3+4=7;7*2=4;>4"


def test_chain_batch_masks_the_prompt():
    probs = icl.sample_chains(8, 4, gen(2))
    for use in (False, True):
        idx, targets = icl.chain_batch(probs, use)
        P = len(probs[0])
        assert bool((targets[:, :P - 1] == IGNORE_INDEX).all())
        for t, p in enumerate(probs):
            prompt, answer = icl.chain_texts(p, use)
            assert icl.decode(idx[t]) == (prompt + answer)[:-1]
            assert icl.decode(targets[t, P - 1:]) == answer
    with pytest.raises(ValueError, match="same number"):
        icl.chain_batch(["1+2=", "1+2+3="], True)
    with pytest.raises(TypeError):
        icl.chain_batch("1+2=", True)
    with pytest.raises(TypeError):
        icl.chain_batch(["1+2="], 1)


def test_final_answer_and_exact_match():
    assert icl.final_answer("3+4=7;>7$junk") == "7"
    assert icl.final_answer("7$") == "7" and icl.final_answer("") == ""
    assert icl.final_answer("3+4=7;7*2") == "3+4=7;7*2"  # an unfinished scratchpad has no answer
    probs = icl.sample_chains(500, 5, gen(21))
    truth = [str(icl.chain_values(p)[-1]) for p in probs]
    oracle = [icl.final_answer(icl.scratchpad(p)) for p in probs]
    assert icl.exact_match(oracle, truth) == 1.0
    g = gen(0)
    guesses = [str(int(torch.randint(0, 10, (1,), generator=g))) for _ in probs]
    assert abs(icl.exact_match(guesses, truth) - 0.1) < 0.06
    with pytest.raises(ValueError, match="same length"):
        icl.exact_match(["1"], ["1", "2"])
    with pytest.raises(TypeError):
        icl.exact_match("1", "1")
    with pytest.raises(TypeError):
        icl.exact_match([1], ["1"])
    with pytest.raises(ValueError):
        icl.exact_match([], [])


def test_solve_chains_and_batches():
    torch.manual_seed(0)
    model = GPT(icl.icl_gpt_config("tiny"))
    probs = icl.sample_chains(6, 3, gen(1))
    out = icl.solve_chains(model, probs, True, batch_size=4)
    assert len(out) == 6 and all(isinstance(t, str) and icl.EOS not in t for t in out)
    assert 0.0 <= icl.chain_accuracy(model, probs, False) <= 1.0
    with pytest.raises(ValueError):
        icl.solve_chains(model, ["1+2=", "1+2+3="], True)
    b1 = [tuple(x) for x in icl.chain_batches(4, 3, True, seed=5)]
    b2 = [tuple(x) for x in icl.chain_batches(4, 3, True, seed=5)]
    assert len(b1) == 3 and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(b1, b2))
    assert len(list(icl.icl_batches(2, 4))) == 4
    with pytest.raises(TypeError):
        icl.TaskBatches("f", 2, 2)
    with pytest.raises(ValueError):
        icl.icl_batches(0, 2)


def test_a_small_model_learns_chains_with_a_scratchpad():
    """The chapter's claim in miniature: a short training on the scratchpad format is far above chance."""
    torch.manual_seed(0)
    model = GPT(icl.icl_gpt_config("tiny"))
    from d2lt import lm
    opt = lm.ScheduledAdamW(model, 3e-3, 30, 400, weight_decay=0.0)
    train.fit(model, icl.chain_batches(32, 400, True, seed=1, num_steps=2), lm.lm_step, optimizer=opt,
              progress=False, plot=False, device="cpu")
    probs = icl.sample_chains(200, 2, gen(99))
    assert icl.chain_accuracy(model, probs, True) > 0.3  # chance: 0.1


# --------------------------------------------------------------------------- the shipped models

def test_icl_gpt_configs():
    m, cfg, path = icl.icl_gpt("icl")
    m2, cfg2, _ = icl.icl_gpt("icl")
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), m2.parameters()))
    assert cfg == cfg2 and path.name == icl.CHECKPOINT_ICL and isinstance(m.config, GPTConfig)
    d, cd, _ = icl.icl_gpt("direct")
    s, cs, _ = icl.icl_gpt("scratchpad")
    assert d.config == s.config and cd != cs  # the same model size, different checkpoints
    with pytest.raises(ValueError):
        icl.icl_gpt("cot")
    with pytest.raises(ValueError):
        icl.icl_gpt_config("big")


def _shipped(kind):
    model, config, path = icl.icl_gpt(kind)
    if not path.exists():
        pytest.skip(f"no shipped checkpoint {path.name} (scripts/train_icl_checkpoint.py makes it)")
    assert path.stat().st_size <= 4 * 2**20
    extra = train.load_checkpoint(path, model, config)
    return model.eval(), extra


def test_the_shipped_in_context_learner_reproduces_its_figures():
    model, extra = _shipped("icl")
    assert "accuracy_vs_shots" in extra, "unfinished checkpoint: no measured accuracy stored"
    shots = [int(k) for k in extra["accuracy_vs_shots"]]
    acc = icl.accuracy_vs_shots(model, shots, n=extra["eval_n"], seed=extra["eval_seed"])
    for k in shots:
        assert abs(acc[k] - extra["accuracy_vs_shots"][str(k)]) <= 0.01, k
    assert acc[8] > acc[1] + 0.2 and acc[1] > 1 / 8 + 0.05
    assert extra["cpu_seconds"] <= 8 * 60


def test_the_shipped_chain_models_reproduce_their_figures():
    direct, ed = _shipped("direct")
    pad, es = _shipped("scratchpad")
    for model, extra, use in ((direct, ed, False), (pad, es, True)):
        assert "exact_match" in extra, "unfinished checkpoint: no measured exact match stored"
        probs = icl.sample_chains(extra["eval_n"], extra["num_steps"], gen(extra["eval_seed"]))
        assert icl.chain_accuracy(model, probs, use) == pytest.approx(extra["exact_match"], abs=0.01)
    assert es["exact_match"] > ed["exact_match"] + 0.3
    assert abs(es["cpu_seconds"] - ed["cpu_seconds"]) < 15  # the same training budget
