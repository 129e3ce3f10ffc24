"""d2lt.lm: the byte-level BPE tokenizer, token blocks, the LM step, perplexity, the schedule,
prefix masks, and the shipped wiki GPT checkpoint (checked against transformers where it has one)."""
import math

import pytest
import torch
from torch.nn import functional as F

from d2lt import gpt, lm, train

TEXTS = ["The cat sat on the mat. The cat ate the rat.", "A dog, a cat and a bird: friends?",
         "Naïve café — ünïcödé text, 東京 and emoji 🙂 survive the byte level."] * 5


@pytest.fixture(scope="module")
def small_tok():
    return lm.train_bpe(TEXTS, vocab_size=300)


def test_bpe_is_deterministic_exact_and_reserves_eot(small_tok):
    again = lm.train_bpe(TEXTS, vocab_size=300)
    assert small_tok.to_str() == again.to_str()
    assert lm.tokenizer_fingerprint(small_tok) == lm.tokenizer_fingerprint(again)
    assert small_tok.token_to_id(lm.EOT) == lm.EOT_ID == 0
    assert small_tok.get_vocab_size() <= 300
    for t in TEXTS + ["never seen: Zürich ✓ ~~~", " leading and trailing spaces  "]:
        assert small_tok.decode(small_tok.encode(t).ids) == t  # no unknown token: every byte is a symbol
    assert lm.bpe_from_json(small_tok.to_str()).to_str() == small_tok.to_str()


def test_bpe_merges_frequent_pairs(small_tok):
    enc = small_tok.encode(" cat")
    assert len(enc.ids) < len(" cat".encode())  # a frequent word is fewer symbols than bytes
    assert lm.train_bpe(TEXTS, vocab_size=600).get_vocab_size() > small_tok.get_vocab_size()


@pytest.mark.parametrize("bad, err", [("a text", TypeError), ([], ValueError), (["ok", 3], TypeError)])
def test_bpe_refuses_bad_texts(bad, err):
    with pytest.raises(err):
        lm.train_bpe(bad, vocab_size=300)


def test_bpe_refuses_bad_sizes_and_json():
    with pytest.raises(ValueError, match="258"):
        lm.train_bpe(TEXTS, vocab_size=100)
    with pytest.raises(TypeError):
        lm.train_bpe(TEXTS, vocab_size=300.0)
    with pytest.raises(ValueError, match="JSON"):
        lm.bpe_from_json("{not json")
    with pytest.raises(TypeError, match="tokenizers.Tokenizer"):
        lm.tokenizer_fingerprint("a tokenizer")


def test_encode_articles_puts_eot_before_every_article(small_tok):
    ids = lm.encode_articles(small_tok, ["a cat", "the mat"])
    assert ids.dtype == torch.long and ids[0] == lm.EOT_ID
    assert int((ids == lm.EOT_ID).sum()) == 2
    cut = int((ids == lm.EOT_ID).nonzero()[1])
    assert small_tok.decode(ids[1:cut].tolist()) == "a cat"
    assert small_tok.decode(ids[cut + 1:].tolist()) == "the mat"


def test_token_blocks_shift_targets_by_one():
    ids = torch.arange(23)
    tb = lm.TokenBlocks(ids, 5)
    assert len(tb) == 4 and tb.num_tokens() == 20
    x, y = tb[1]
    assert x.tolist() == [5, 6, 7, 8, 9] and y.tolist() == [6, 7, 8, 9, 10]
    assert torch.equal(tb[-1][0], tb[3][0])
    batches = tb.loader(3)
    assert [b[0].shape[0] for b in batches] == [3, 1]
    assert torch.equal(torch.cat([b[0] for b in batches]).reshape(-1), ids[:20])
    assert torch.equal(torch.cat([b[1] for b in batches]).reshape(-1), ids[1:21])
    assert len(tb.loader(2, max_blocks=3)) == 2


def test_random_batches_are_reproducible_and_shifted():
    ids = torch.arange(1000)
    tb = lm.TokenBlocks(ids, 16)
    a, b = list(tb.batches(4, 3, seed=7)), list(tb.batches(4, 3, seed=7))
    assert len(a) == 3 and len(tb.batches(4, 3)) == 3
    for (x1, y1), (x2, y2) in zip(a, b):
        assert torch.equal(x1, x2) and x1.shape == (4, 16)
        assert torch.equal(y1, x1 + 1)  # on arange the next token is the id plus one
    assert not torch.equal(a[0][0], list(tb.batches(4, 3, seed=8))[0][0])
    again = lm.RandomBatches(tb, 4, 3, seed=7)
    assert torch.equal(list(again)[0][0], list(again)[0][0])  # each pass draws the same offsets


@pytest.mark.parametrize("args, err", [((torch.arange(5), 5), ValueError),
                                       ((torch.arange(10.0), 3), TypeError),
                                       ((list(range(10)), 3), TypeError), ((torch.arange(10), 0), ValueError),
                                       ((torch.tensor([1, -1, 2, 3]), 2), ValueError),
                                       ((torch.arange(12).view(3, 4), 2), ValueError)])
def test_token_blocks_refuse_bad_input(args, err):
    with pytest.raises(err):
        lm.TokenBlocks(*args)


def _tiny(norm="pre", V=37, T=16, L=2, seed=0):
    torch.manual_seed(seed)
    return gpt.GPT(gpt.GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=2, n_embd=16, norm=norm))


def test_lm_step_and_evaluate_loss_are_the_next_token_cross_entropy():
    m = _tiny().eval()
    ids = torch.randint(0, 37, (100,), generator=torch.Generator().manual_seed(0))
    tb = lm.TokenBlocks(ids, 16)
    x, y = tb.loader(64)[0]
    want = F.cross_entropy(m(x)[0].reshape(-1, 37), y.reshape(-1))
    torch.testing.assert_close(lm.lm_step(m, (x, y)), want)
    assert lm.evaluate_loss(m, tb, batch_size=2) == pytest.approx(want.item(), rel=1e-5)
    assert lm.perplexity(m, tb) == pytest.approx(math.exp(want.item()), rel=1e-5)
    assert m.training is False
    m.train()
    lm.evaluate_loss(m, tb)
    assert m.training  # evaluation leaves the mode as it found it


def test_lm_step_refuses_bad_batches():
    m = _tiny()
    with pytest.raises(TypeError, match="pair"):
        lm.lm_step(m, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        lm.lm_step(m, (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long)))
    with pytest.raises(TypeError, match="d2lt language model"):
        lm.lm_step("model", (torch.zeros(2, 3, dtype=torch.long),) * 2)
    with pytest.raises(TypeError, match="TokenBlocks"):
        lm.evaluate_loss(m, [torch.zeros(3, dtype=torch.long)])


def test_our_loss_matches_transformers_gpt2_on_the_same_weights():
    """Shift convention and loss against a model nobody here wrote (GPT2LMHeadModel's labels)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=53, n_positions=16, n_embd=24, n_layer=2, n_head=3,
                                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)).eval()
    ours = gpt.GPT.from_hf(hf).eval()
    ids = torch.randint(0, 53, (81,), generator=torch.Generator().manual_seed(1))
    tb = lm.TokenBlocks(ids, 16)
    x, y = tb.loader(64)[0]
    full = torch.cat([x, y[:, -1:]], 1)  # each block and its last target: HF shifts inside
    losses = []
    with torch.no_grad():
        for row in full:
            # HF scores positions 1..T of the row given the earlier ones, within the model's 16 positions
            out = hf(row[None, :-1], labels=row[None, :-1])
            last = F.cross_entropy(hf(row[None, :-1]).logits[0, -1:], row[-1:])
            losses.append((out.loss * 15 + last) / 16)
    assert lm.evaluate_loss(ours, tb) == pytest.approx(torch.stack(losses).mean().item(), rel=1e-4)


def test_unigram_perplexity():
    V = 5
    train_ids = torch.tensor([0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    eval_ids = torch.tensor([1, 2, 3, 4])
    p = (lm.token_counts(train_ids, V) + 1) / (10 + V)
    want = math.exp(-sum(math.log(p[i]) for i in eval_ids.tolist()) / 4)
    assert lm.unigram_perplexity(train_ids, eval_ids, V) == pytest.approx(want)
    assert lm.unigram_perplexity(torch.arange(V), torch.arange(V), V) == pytest.approx(V)  # uniform
    with pytest.raises(ValueError, match="< 5"):
        lm.unigram_perplexity(train_ids, torch.tensor([5]), V)
    with pytest.raises(ValueError):
        lm.unigram_perplexity(train_ids, eval_ids, V, alpha=0)


def test_warmup_cosine_matches_transformers_schedule():
    from transformers import get_cosine_schedule_with_warmup

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=10, num_training_steps=50)
    theirs = [sched.lr_lambdas[0](s) for s in range(51)]
    ours = [lm.warmup_cosine(s, 1.0, 10, 50) for s in range(51)]
    # the same cosine; our warm-up takes step s at the rate theirs gives step s + 1 (no step at lr 0)
    assert ours[10:] == pytest.approx(theirs[10:], abs=1e-12)
    assert ours[:10] == pytest.approx(theirs[1:11], abs=1e-12)
    assert lm.warmup_cosine(0, 1.0, 0, 50) == 1.0 and lm.warmup_cosine(99, 1.0, 5, 50, 0.1) == 0.1
    assert lm.warmup_cosine(50, 2.0, 10, 50, 0.2) == pytest.approx(0.2)


@pytest.mark.parametrize("args, err", [((-1, 1.0, 10, 50), ValueError), ((0, 0.0, 10, 50), ValueError),
                                       ((0, 1.0, 60, 50), ValueError), ((0, 1.0, 10, 50, 2.0), ValueError),
                                       ((0, float("nan"), 10, 50), ValueError),
                                       ((1.5, 1.0, 10, 50), TypeError)])
def test_warmup_cosine_refuses_bad_arguments(args, err):
    with pytest.raises(err):
        lm.warmup_cosine(*args)


def test_scheduled_adamw_follows_the_schedule_and_decays_only_matrices():
    m = _tiny()
    opt = lm.ScheduledAdamW(m, 1e-2, warmup=3, total=10, min_lr=1e-3)
    seen = []
    for _ in range(12):
        seen.append(opt.current_lr())
        m(torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.long))[1].backward()
        opt.step()
        assert opt.param_groups[0]["lr"] == seen[-1]
        opt.zero_grad()
    assert seen == pytest.approx([lm.warmup_cosine(s, 1e-2, 3, 10, 1e-3) for s in range(12)])
    decay, rest = opt.param_groups
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() == 1 for p in rest["params"])
    assert lm.ScheduledAdamW(m, 1e-2, 3, 10, start_step=5).current_lr() == pytest.approx(
        lm.warmup_cosine(5, 1e-2, 3, 10, 1e-3))
    with pytest.raises(TypeError):
        lm.ScheduledAdamW(list(m.parameters()), 1e-2, 3, 10)


def test_prefix_mask():
    m = lm.prefix_mask(5, 2)
    assert m.dtype == torch.bool and m.shape == (5, 5)
    assert m[0, 1] and not m[1, 2] and m[4, 0] and not m[2, 3] and m[3, 3]
    assert torch.equal(lm.prefix_mask(4, 0), torch.ones(4, 4, dtype=torch.bool).tril())
    assert torch.equal(lm.prefix_mask(4, 1), lm.prefix_mask(4, 0))
    assert lm.prefix_mask(4, 4).all()
    with pytest.raises(ValueError):
        lm.prefix_mask(4, 5)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_mask_forward_with_the_causal_mask_is_the_model(norm):
    m = _tiny(norm).eval()
    idx = torch.randint(0, 37, (3, 9))
    tgt = torch.randint(0, 37, (3, 9))
    tgt[0, :4] = gpt.IGNORE_INDEX
    want = m(idx, tgt)
    got = lm.mask_forward(m, idx, lm.prefix_mask(9, 0), tgt)
    torch.testing.assert_close(got[0], want[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[1], want[1], atol=1e-5, rtol=1e-5)
    per_row = lm.mask_forward(m, idx, lm.prefix_mask(9, 0).expand(3, 9, 9))[0]
    torch.testing.assert_close(per_row, want[0], atol=1e-5, rtol=1e-5)


def test_mask_forward_prefix_positions_see_each_other_and_nothing_later():
    m = _tiny().eval()
    idx = torch.randint(0, 37, (1, 8))
    mask = lm.prefix_mask(8, 4)
    base = lm.mask_forward(m, idx, mask)[0]
    in_prefix = idx.clone()
    in_prefix[0, 3] = (idx[0, 3] + 1) % 37
    changed = lm.mask_forward(m, in_prefix, mask)[0]
    assert not torch.allclose(changed[0, 0], base[0, 0])  # position 0 sees position 3: bidirectional
    after = idx.clone()
    after[0, 6] = (idx[0, 6] + 1) % 37
    changed = lm.mask_forward(m, after, mask)[0]
    torch.testing.assert_close(changed[0, :6], base[0, :6])  # position 6 is seen by nobody before it
    assert not torch.allclose(changed[0, 6], base[0, 6])


def test_mask_forward_refuses_bad_masks():
    m = _tiny()
    idx = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(TypeError, match="bool"):
        lm.mask_forward(m, idx, torch.ones(4, 4))
    with pytest.raises(ValueError, match="shape"):
        lm.mask_forward(m, idx, torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one key"):
        lm.mask_forward(m, idx, torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="d2lt.gpt.GPT"):
        lm.mask_forward(torch.nn.Linear(2, 2), idx, lm.prefix_mask(4, 0))
    with pytest.raises(TypeError, match="states"):
        lm.mask_forward(m, idx, lm.prefix_mask(4, 0), states=())


def test_mask_forward_hands_out_every_block_state():
    m = _tiny(L=3).eval()
    idx = torch.randint(0, 37, (2, 6))
    states = []
    logits = lm.mask_forward(m, idx, lm.prefix_mask(6, 0), states=states)[0]
    assert len(states) == 3 and all(s.shape == (2, 6, 16) for s in states)
    torch.testing.assert_close(m.lm_head(m.transformer.ln_f(states[-1])), logits)
    causal = [s[:, 0] for s in states]
    changed = idx.clone()
    changed[:, 1:] = (changed[:, 1:] + 1) % 37
    again = []
    lm.mask_forward(m, changed, lm.prefix_mask(6, 0), states=again)
    for a, b in zip(causal, again):  # under the causal mask position 0 sees only itself
        torch.testing.assert_close(a, b[:, 0])


def test_mask_forward_trains_through_dropout():
    torch.manual_seed(0)
    m = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.5))
    idx = torch.randint(0, 11, (2, 6))
    loss = lm.mask_forward(m.train(), idx, lm.prefix_mask(6, 3), idx)[1]
    loss.backward()
    assert m.transformer.wte.weight.grad is not None


# --------------------------------------------------------------------------- the wiki tokenizer and checkpoint

@pytest.fixture(scope="module")
def wiki_tok():
    return lm.wiki_bpe()


def test_wiki_tokenizer_is_cached_and_retrains_identically(wiki_tok):
    from d2lt import data

    assert wiki_tok.get_vocab_size() == lm.WIKI_VOCAB_SIZE
    fresh = lm.train_bpe([a.text for a in data.load_wiki("train")], lm.WIKI_VOCAB_SIZE)
    assert lm.tokenizer_fingerprint(fresh) == lm.tokenizer_fingerprint(wiki_tok)
    ids = lm.wiki_tokens(wiki_tok, "valid")
    assert ids[0] == lm.EOT_ID and int((ids == lm.EOT_ID).sum()) == len(data.load_wiki("valid"))
    assert torch.equal(ids, lm.encode_articles(wiki_tok, [a.text for a in data.load_wiki("valid")]))
    with pytest.raises(ValueError):
        lm.wiki_tokens(wiki_tok, "dev")


def test_the_shipped_checkpoint_reproduces_its_perplexities(wiki_tok):
    model, config, path = lm.wiki_gpt(wiki_tok)
    if not path.exists():
        pytest.skip("no shipped checkpoint (scripts/train_gpt_checkpoint.py makes it)")
    assert path.stat().st_size <= 8 * 2**20
    extra = train.load_checkpoint(path, model, config)
    assert "test_perplexity" in extra, f"{path.name} is unfinished: no measured perplexity stored"
    T = model.config.block_size
    test = lm.TokenBlocks(lm.wiki_tokens(wiki_tok, "test"), T)
    ppl = lm.perplexity(model, test)
    assert ppl == pytest.approx(extra["test_perplexity"], rel=1e-3)
    train_ids = lm.wiki_tokens(wiki_tok, "train")
    unigram = lm.unigram_perplexity(train_ids, test.ids[1:test.num_tokens() + 1], wiki_tok.get_vocab_size())
    assert unigram == pytest.approx(extra["unigram_perplexity"], rel=1e-6)
    assert ppl < unigram / 3  # far below the model that ignores the context
    assert extra["cpu_seconds"] <= 16 * 60
