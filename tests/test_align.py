"""d2lt.align: the instruction data, the response mask, sequence log-probabilities (against
transformers' GPT-2 logits), the DPO loss against a hand computation, the metric, the input checks."""
import math

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

from d2lt import align, lm
from d2lt.gpt import GPT, GPTConfig


@pytest.fixture(scope="module")
def tok():
    return lm.wiki_bpe()


@pytest.fixture(scope="module")
def words(tok):
    return align.wiki_words(tok, 60)


@pytest.fixture(scope="module")
def hf_and_ours(tok):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=64, n_embd=32,
                                    n_layer=2, n_head=2)).eval()
    return hf, GPT.from_hf(hf).eval()


# ----------------------------------------------------------------------------- data

def test_answers_and_examples(words, tok):
    assert align.answer("reverse", ["a", "b", "c"]) == ["c", "b", "a"]
    assert align.answer("repeat", ["a", "b"]) == ["a", "b"]
    assert align.answer("first", ["a", "b"]) == ["a"] and align.answer("last", ["a", "b"]) == ["b"]
    assert all(len(tok.encode(" " + w).ids) == 1 and w.islower() for w in words)
    ex = align.make_examples(words, 200, seed=3)
    assert ex == align.make_examples(words, 200, seed=3)           # seeded
    assert ex != align.make_examples(words, 200, seed=4)
    assert len({e.prompt for e in ex}) == 200 and {e.task for e in ex} == set(align.TASKS)
    for e in ex:
        assert 2 <= len(e.words) <= 4 and len(set(e.words)) == len(e.words)
        assert e.response == "".join(" " + w for w in align.answer(e.task, list(e.words)))
        assert e.prompt.endswith("Response:") and align.INSTRUCTIONS[e.task] in e.prompt
    held = align.make_examples(words, 50, seed=5, exclude={e.prompt for e in ex})
    assert not {e.prompt for e in held} & {e.prompt for e in ex}
    assert align.demonstration(ex[0], True) == ex[0].response + align.FILLER
    assert align.demonstration(ex[0], False) == ex[0].response


def test_response_mask_covers_exactly_the_response_tokens(tok, words):
    ex = align.make_examples(words, 5, seed=0)
    items = [align.encode(tok, e.prompt, e.response) for e in ex]
    ids, mask = align.collate(items)
    for b, (e, (row, n_prompt)) in enumerate(zip(ex, items)):
        resp = tok.encode(e.response).ids + [lm.EOT_ID]
        assert row[0] == lm.EOT_ID and row[n_prompt:] == resp
        assert ids[b, mask[b]].tolist() == resp                         # exactly the response
        assert mask[b].nonzero().squeeze(1).tolist() == list(range(n_prompt, len(row)))
        assert ids[b, len(row):].eq(0).all() and not mask[b, len(row):].any()  # padding
    m = align.response_mask([2, 1], [4, 3], 5)
    assert m.tolist() == [[False, False, True, True, False], [False, True, True, False, False]]


def test_sft_loss_is_the_cross_entropy_of_the_response_tokens_only(tok, words, hf_and_ours):
    _, model = hf_and_ours
    ex = align.make_examples(words, 4, seed=1)
    ids, mask = align.collate([align.encode(tok, e.prompt, e.response) for e in ex])
    with torch.no_grad():
        logits = model(ids[:, :-1])[0]
    ce = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")   # (B, L-1)
    want = ce[mask[:, 1:]].mean()
    assert_close(align.sft_step(model, (ids, mask)), want)
    assert not torch.isclose(want, ce[ids[:, 1:] != -5].mean())      # the prompt would change it


def test_sequence_logprob_equals_a_direct_sum_under_transformers_gpt2(tok, words, hf_and_ours):
    hf, ours = hf_and_ours
    ex = align.make_examples(words, 6, seed=2)
    ids, mask = align.collate([align.encode(tok, e.prompt, align.demonstration(e, i % 2 == 0))
                               for i, e in enumerate(ex)])
    with torch.no_grad():
        got = align.sequence_logprob(ours, ids, mask)
        logits = hf(ids).logits
    want = []
    for b in range(len(ex)):
        lp = logits[b].log_softmax(-1)
        want.append(sum(lp[t - 1, ids[b, t]] for t in range(ids.shape[1]) if mask[b, t]))
    assert_close(got, torch.stack(want), atol=1e-4, rtol=1e-5)
    assert (got < 0).all()


# ----------------------------------------------------------------------------- DPO

def test_dpo_loss_equals_a_hand_computation():
    pc, pr = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -2.0])
    rc, rr = torch.tensor([-3.5, -4.0]), torch.tensor([-3.0, -3.0])
    beta = 0.5
    loss, margins = align.dpo_loss(pc, pr, rc, rr, beta)
    m0 = 0.5 * ((-3.0 + 3.5) - (-4.0 + 3.0))          # 0.75
    m1 = 0.5 * ((-5.0 + 4.0) - (-2.0 + 3.0))          # -1.0
    hand = (math.log(1 + math.exp(-m0)) + math.log(1 + math.exp(-m1))) / 2
    assert_close(margins, torch.tensor([m0, m1]))
    assert_close(loss, torch.tensor(hand))


def test_dpo_loss_is_log2_at_the_reference_and_falls_as_chosen_rises():
    pc, pr = torch.randn(5), torch.randn(5)
    loss, margins = align.dpo_loss(pc, pr, pc.clone(), pr.clone(), 0.1)
    assert_close(loss, torch.tensor(math.log(2)))
    assert_close(margins, torch.zeros(5))
    prev = loss
    for d in (0.5, 1.0, 2.0, 4.0):
        now, _ = align.dpo_loss(pc + d, pr, pc, pr, 0.1)
        assert now < prev
        prev = now
    worse, _ = align.dpo_loss(pc, pr + 1.0, pc, pr, 0.1)             # the rejected one rising
    assert worse > math.log(2)
    x = pc.clone().requires_grad_()
    align.dpo_loss(x, pr, pc, pr, 0.1)[0].backward()
    assert (x.grad < 0).all()                                         # descent raises log pi(chosen)


def test_dpo_step_on_pairs(tok, words, hf_and_ours):
    import copy

    _, policy = hf_and_ours
    ref = copy.deepcopy(policy)
    pairs = align.preference_pairs(tok, align.make_examples(words, 3, seed=7))
    for (c, nc), (r, nr) in pairs:
        assert c[:nc] == r[:nr] and r[nr:] == tok.encode(
            tok.decode(c[nc:-1]) + align.FILLER).ids + [lm.EOT_ID]
    loss, margins = align.dpo_step(policy, ref, pairs, beta=0.1)
    assert_close(loss, torch.tensor(math.log(2)), atol=1e-5, rtol=0)
    assert_close(margins, torch.zeros(3), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="frozen copy"):
        align.dpo_step(policy, policy, pairs)


# ----------------------------------------------------------------------------- the metric

class _Oracle(torch.nn.Module):
    """A model that writes a fixed continuation after the prompt, then ends (for the metric)."""

    def __init__(self, tok, vocab, write):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab, block_size=128, n_layer=1, n_head=1, n_embd=4)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.tok, self.write = tok, write

    def generate(self, idx, n, temperature=0.0, eos=None):
        rows = []
        for row in idx.tolist():
            prompt = self.tok.decode(row[1:])
            rows.append(row + self.tok.encode(self.write(prompt)).ids + [lm.EOT_ID])
        L = max(map(len, rows))
        return torch.tensor([r + [lm.EOT_ID] * (L - len(r)) for r in rows])


def test_follow_rate_counts_correct_exact_and_filler(tok, words):
    ex = align.make_examples(words, 12, seed=9)
    by_prompt = {e.prompt: e for e in ex}

    def write(prompt):
        e = by_prompt[prompt]
        i = ex.index(e)
        if i % 3 == 0:
            return e.response                      # exact
        if i % 3 == 1:
            return e.response + align.FILLER       # correct, then the filler
        return " zzz" + e.response                 # wrong
    rate = align.follow_rate(_Oracle(tok, tok.get_vocab_size(), write), tok, ex)
    assert rate == {"follows": 8 / 12, "exact": 4 / 12, "filler": 4 / 12, "n": 12}
    # an answer that only starts like the right word does not count
    e = ex[0]
    rate = align.follow_rate(_Oracle(tok, tok.get_vocab_size(), lambda p: e.response + "s"), tok, [e])
    assert rate["follows"] == 0


# ----------------------------------------------------------------------------- bad input

def test_bad_inputs_raise(tok, words, hf_and_ours):
    _, model = hf_and_ours
    with pytest.raises(ValueError, match="one of"):
        align.answer("sort", ["a"])
    with pytest.raises(TypeError, match="single str"):
        align.answer("repeat", "a b")
    with pytest.raises(ValueError, match="empty"):
        align.answer("repeat", [])
    with pytest.raises(ValueError, match="at least 4 distinct"):
        align.make_examples(["a", "b", "c"], 3)
    with pytest.raises(ValueError, match="letters"):
        align.make_examples(["a b", "c", "d", "e"], 3)
    with pytest.raises(TypeError, match="n must be"):
        align.make_examples(words, 2.5)
    with pytest.raises(ValueError, match="distinct new prompts"):
        align.make_examples(["ab", "cd"], 100, tasks=["first"], min_words=2, max_words=2)
    with pytest.raises(TypeError, match="single str"):
        align.make_examples(words, 3, exclude="Instruction")
    with pytest.raises(ValueError, match="non-empty"):
        align.encode(tok, "", "x")
    with pytest.raises(ValueError, match="n_prompt"):
        align.response_mask([3], [3])
    with pytest.raises(ValueError, match="same length"):
        align.response_mask([1, 2], [3])
    with pytest.raises(ValueError, match="width"):
        align.response_mask([1], [4], 3)
    ids, mask = align.collate([align.encode(tok, "Instruction: x", " y")])
    with pytest.raises(ValueError, match="position 0"):
        align.sequence_logprob(model, ids, torch.ones_like(mask))
    with pytest.raises(ValueError, match="shape of ids"):
        align.sequence_logprob(model, ids, mask[:, :-1])
    with pytest.raises(TypeError, match="bool"):
        align.sequence_logprob(model, ids, mask.long())
    with pytest.raises(ValueError, match="at least one response token"):
        align.sequence_logprob(model, ids, torch.zeros_like(mask))
    with pytest.raises(TypeError, match="pair"):
        align.sft_step(model, ids)
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="beta"):
        align.dpo_loss(x, x, x, x, 0.0)
    with pytest.raises(ValueError, match="finite"):
        align.dpo_loss(x, x, x, torch.tensor([0.0, float("nan"), 0.0]))
    with pytest.raises(ValueError, match="shape"):
        align.dpo_loss(x, x, x, torch.zeros(2))
    with pytest.raises(TypeError, match="Example"):
        align.follow_rate(model, tok, ["Instruction: x"])
    with pytest.raises(TypeError, match="pair"):
        align.collate([[1, 2, 3]])


# ----------------------------------------------------------------------------- the shipped model

def test_shipped_sft_checkpoint_reproduces_its_rates(tok):
    from d2lt import train

    model, config, path = align.sft_gpt(tok)
    assert path.exists(), f"{path} is missing: run scripts/train_sft_checkpoint.py"
    extra = train.load_checkpoint(path, model, config)
    _, _, test = align.instruction_data(tok)
    got = align.follow_rate(model.eval(), tok, test)
    stored = extra["rates"]["sft"]
    for key in ("follows", "exact", "filler"):
        assert got[key] == pytest.approx(stored[key], abs=0.02), (key, got, stored)
    assert got["follows"] > 0.8 and got["filler"] > 0.6         # what chapter 13 builds on
    assert extra["rates"]["base"]["follows"] < 0.1
    assert extra["losses"] and extra["cpu_seconds"] > 0
