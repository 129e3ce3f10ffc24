"""d2lt.text2text: tokenizer, span-corruption batches, task batches, ROUGE against rouge-score, the checkpoint."""
import random

import pytest
import torch
from torch.nn import functional as F

from d2lt import t5 as t5lib
from d2lt import text2text as tt

@pytest.fixture(scope="module")
def tok():
    from d2lt import data

    return tt.train_unigram([a.text for a in data.load_wiki("valid")], 300)


# ------------------------------------------------------------------ tokenizer

def test_unigram_layout(tok):
    V = tok.get_vocab_size()
    assert V == 300
    assert [tok.token_to_id(s) for s in tt.SPECIALS] == [tt.PAD, tt.EOS, tt.UNK]
    sid = tt.sentinel_id(V)
    assert [tok.token_to_id(f"<extra_id_{k}>") for k in range(tt.NUM_SENTINELS)] == \
        [sid(k) for k in range(tt.NUM_SENTINELS)] == list(range(V - 1, V - 1 - tt.NUM_SENTINELS, -1))
    text = "the lazy fox about anarchism"
    assert tt.decode(tok, tt.encode(tok, text)) == text
    assert tt.encode(tok, text)[-1] == tt.EOS and len(tt.encode(tok, text, max_len=3)) == 3


def test_unigram_state_round_trip(tok):
    again = tt.unigram_from_state(tt.tokenizer_state(tok))
    for text in ("dogs and cats in Europe", "<extra_id_3> elsewhere"):
        assert again.encode(text).ids == tok.encode(text).ids
    assert again.get_vocab_size() == tok.get_vocab_size()


def test_sentinels_run_out_clearly():
    with pytest.raises(ValueError, match="only 32 sentinels"):
        tt.sentinel_id(300)(32)


def test_tokenizer_refuses_bad_input():
    with pytest.raises(TypeError, match="texts"):
        tt.train_unigram("a string, not a list")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        tt.train_unigram(["ok", 3])
    with pytest.raises(ValueError, match="vocab_size"):
        tt.train_unigram(["tiny text"], 50)
    with pytest.raises(ValueError, match="too few"):
        tt.train_unigram(["tiny text"], 5000)


# ------------------------------------------------------------------ span corruption

def test_corrupt_example_restores_and_matches_t5(tok):
    V = tok.get_vocab_size()
    g = torch.Generator().manual_seed(0)
    for n in (2, 7, 64, 128):
        ids = torch.randint(3, V - tt.NUM_SENTINELS, (n,), generator=g)
        state = g.get_state()
        x, y = tt.corrupt_example(ids, V, 0.15, 3.0, generator=g)
        g2 = torch.Generator()
        g2.set_state(state)
        mask = t5lib.random_span_mask(n, 0.15, 3.0, generator=g2)
        want = t5lib.span_corrupt(ids.tolist(), mask, tt.sentinel_id(V))
        assert (x, y) == (want[0] + [tt.EOS], want[1] + [tt.EOS])
        spans, cur = {}, None  # put each span back at its sentinel
        for t in y[:-1]:
            if t >= V - tt.NUM_SENTINELS:
                cur = t
                spans[cur] = []
            else:
                spans[cur].append(t)
        restored = [u for t in x[:-1] for u in (spans[t] if t in spans else [t])]
        assert restored == ids.tolist()


def test_span_batches_mask_afresh_each_epoch():
    stream = torch.randint(3, 200, (128 * 10 + 5,))
    b = tt.SpanCorruptionBatches(stream, 128, 4, 300, seed=0)
    assert len(b) == 3 and b.pieces.shape == (10, 128)
    e1, e2 = list(b), list(b)
    assert [x["input_ids"].shape[0] for x in e1] == [4, 4, 2]
    first = e1[0]
    assert first["input_ids"].shape[1] == 128 - 19 + 6 + 1 and first["labels"].shape[1] == 19 + 7 + 1
    assert first["attention_mask"].all()
    assert not all(torch.equal(a["input_ids"], c["input_ids"]) for a, c in zip(e1, e2))
    fixed = tt.heldout_batches(stream, 128, 300, batch_size=4)
    again = tt.heldout_batches(stream, 128, 300, batch_size=4)
    assert all(torch.equal(a["labels"], c["labels"]) for a, c in zip(fixed, again))


def test_make_batch_pads_inputs_and_ignores_padded_labels():
    b = tt.make_batch([([5, 6, 7, 1], [8, 1]), ([5, 1], [9, 9, 9, 1])])
    assert b["input_ids"].tolist() == [[5, 6, 7, 1], [5, 1, 0, 0]]
    assert b["attention_mask"].tolist() == [[True] * 4, [True, True, False, False]]
    assert b["labels"].tolist() == [[8, 1, -100, -100], [9, 9, 9, 1]]


def test_t5_step_matches_transformers_loss():
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    hf = T5ForConditionalGeneration(T5Config(vocab_size=120, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                             num_heads=4, dropout_rate=0.0,
                                             decoder_start_token_id=0)).eval()
    ours = t5lib.from_hf(hf).eval()
    rng = random.Random(0)
    pairs = [([rng.randint(3, 119) for _ in range(rng.randint(2, 9))] + [1],
              [rng.randint(3, 119) for _ in range(rng.randint(1, 6))] + [1]) for _ in range(5)]
    b = tt.make_batch(pairs)
    with torch.no_grad():
        want = hf(input_ids=b["input_ids"], attention_mask=b["attention_mask"].long(),
                  labels=b["labels"]).loss
        got = tt.t5_step(ours, b)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_evaluate_loss_is_a_token_weighted_mean():
    torch.manual_seed(0)
    model = tt.build_t5(dict(tt.wiki_t5_config(300), d_model=32, d_kv=8, d_ff=64, num_layers=1))
    b1 = tt.make_batch([([5, 6, 1], [7, 1])])
    b2 = tt.make_batch([([5, 1], [8, 9, 10, 1])])
    both = tt.make_batch([([5, 6, 1], [7, 1]), ([5, 1], [8, 9, 10, 1])])
    torch.testing.assert_close(torch.tensor(tt.evaluate_loss(model, [b1, b2])),
                               tt.t5_step(model.eval(), both).detach())


# ------------------------------------------------------------------ tasks and batches

ENC = [([i, 1], [i + 1, 1], "a") for i in range(3, 23)] + [([i, 1], [i, 1], "b") for i in range(30, 40)]


def test_by_task_batches_hold_one_task_and_take_turns():
    b = tt.Seq2SeqBatches(ENC, 4, "by_task", seed=0)
    order = b.order()
    tasks = [{ENC[i][2] for i in rows} for rows in order]
    assert all(len(t) == 1 for t in tasks)
    assert [t.pop() for t in tasks[:6]] == ["a", "b", "a", "b", "a", "b"]
    assert sorted(i for rows in order for i in rows) == list(range(len(ENC)))


def test_mixed_batches_cover_everything_and_mix():
    b = tt.Seq2SeqBatches(ENC, 10, "mixed", seed=0)
    order = b.order()
    assert sorted(i for rows in order for i in rows) == list(range(len(ENC)))
    assert any(len({ENC[i][2] for i in rows}) == 2 for rows in order)
    assert b.order() != order  # a new order every epoch
    with pytest.raises(ValueError, match="mix"):
        tt.Seq2SeqBatches(ENC, 4, "interleaved")


def test_decoder_only_batches_mask_the_prompt():
    ex = tt.decoder_only_example([11, 12, 13, 1], [21, 22, 1], 16)
    assert ex == ([11, 12, 13, 1, 21, 22], [-1, -1, -1, 21, 22, 1])
    b = tt.DecoderOnlyBatches(ENC, 4, 8, "mixed").collate(ENC[:2] + ENC[-1:])
    assert b["idx"].shape == b["targets"].shape == (3, 3)
    assert b["targets"][:, 0].tolist() == [-1, -1, -1]
    with pytest.raises(ValueError, match="no room"):
        tt.decoder_only_example([5], list(range(3, 12)) + [1], 8)


def test_gpt_step_averages_over_the_target_tokens():
    from d2lt.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    b = tt.DecoderOnlyBatches(ENC, 4, 16).collate([([5, 6, 7, 1], [8, 9, 1], "a")])
    logits, _ = gpt(b["idx"])
    want = F.cross_entropy(logits[0, 3:], torch.tensor([8, 9, 1]))
    torch.testing.assert_close(tt.gpt_step(gpt, b), want)


def test_pairs_from_the_data():
    from d2lt import data

    papers = data.load_aclsum("valid")[:2]
    pairs = tt.aclsum_pairs(papers)
    assert [t for _, _, t in pairs] == list(tt.ASPECTS) * 2
    assert pairs[1][0].startswith("summarize approach: ") and pairs[1][1] == papers[0].summaries["approach"]
    s = tt.sentiment_pairs(data.load_sentiment("valid")[:1])
    assert s[0][0].startswith("sentiment: ") and s[0][1] in ("positive", "negative")
    with pytest.raises(ValueError, match="aspect"):
        tt.aclsum_pairs(papers, aspects=["title"])
    with pytest.raises(TypeError, match="Paper"):
        tt.aclsum_pairs(["not a paper"])


# ------------------------------------------------------------------ ROUGE and the baseline

def test_rouge_matches_rouge_score():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    words = "The model a method we propose parsing Parsing 3.5 x-ray , . ( ) BLEU improves of".split()
    rng = random.Random(0)
    hyps, refs = [], []
    for _ in range(300):
        hyps.append(" ".join(rng.choice(words) for _ in range(rng.randint(0, 15))))
        refs.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 15))))
    for h, r in zip(hyps, refs):
        got, want = tt.rouge_scores(h, r), scorer.score(r, h)
        for k in got:
            assert abs(got[k] - want[k].fmeasure) < 1e-12, (k, h, r)
    mean = tt.rouge(hyps, refs)
    for k in mean:
        assert abs(mean[k] - 100 * sum(scorer.score(r, h)[k].fmeasure for h, r in zip(hyps, refs))
                   / len(hyps)) < 1e-9


def test_rouge_refuses_bad_input():
    with pytest.raises(ValueError, match="pair up"):
        tt.rouge(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="texts"):
        tt.rouge("a", "a")


def test_lead_baseline():
    doc = "First one . Second one ? Third !"
    assert tt.lead_baseline(doc) == "First one ."
    assert tt.lead_baseline(doc, 2) == "First one . Second one ?"
    assert tt.lead_baseline("no full stop") == "no full stop"
    with pytest.raises(ValueError, match="n"):
        tt.lead_baseline(doc, 0)


def test_inverse_sqrt_schedule():
    assert tt.inverse_sqrt_lr(150, 1.0, 300) == pytest.approx(0.5)
    assert tt.inverse_sqrt_lr(300, 1.0, 300) == pytest.approx(1.0)
    assert tt.inverse_sqrt_lr(1200, 1.0, 300) == pytest.approx(0.5)
    p = torch.nn.Parameter(torch.zeros(2))
    opt = tt.InverseSqrtAdam([p], 1e-2, 10)
    for _ in range(5):
        p.grad = torch.ones(2)
        opt.step()
    assert opt.steps_taken == 5 and opt.param_groups[0]["lr"] == pytest.approx(5e-3)


# ------------------------------------------------------------------ the shipped checkpoint

@pytest.fixture(scope="module")
def shipped():
    try:
        return tt.load_wiki_t5()
    except FileNotFoundError:
        pytest.skip("checkpoints/ch09_t5_wiki.pt is not there")


def test_checkpoint_reproduces_its_heldout_losses(shipped):
    from d2lt import data

    model, tok, extra = shipped
    if "heldout_loss" not in extra:
        pytest.skip("the checkpoint is unfinished (no held-out loss stored yet)")
    assert tok.get_vocab_size() == tt.WIKI_VOCAB
    for split in ("valid", "test"):
        batches = tt.heldout_batches(tt.token_stream(tok, data.load_wiki(split)), tt.WIKI_LENGTH,
                                     tok.get_vocab_size())
        assert abs(tt.evaluate_loss(model, batches) - extra["heldout_loss"][split]) < 1e-3
    assert extra["cpu_seconds"] <= 15.5 * 60


def test_generate_texts_runs_on_the_checkpoint(shipped):
    model, tok, _ = shipped
    out = tt.generate_texts(model, tok, ["sentiment: a fine film .", "summarize approach: We parse ."],
                            max_new_tokens=5)
    assert len(out) == 2 and all(isinstance(o, str) for o in out)


def test_batches_refuse_bad_input():
    with pytest.raises(TypeError, match=r"encoded\[0\]"):
        tt.Seq2SeqBatches([("text", "text")], 2)
    with pytest.raises(TypeError, match="encoded"):
        tt.Seq2SeqBatches("not a list", 2)
    with pytest.raises(ValueError, match="batch_size"):
        tt.Seq2SeqBatches(ENC, 0)
    with pytest.raises(TypeError, match="prompt_ids"):
        tt.decoder_only_example("12", [1], 8)
    with pytest.raises(TypeError, match=r"pairs\[0\]"):
        tt.encode_pairs(None, [(1, 2, 3)])
    with pytest.raises(ValueError, match="length"):
        tt.SpanCorruptionBatches(torch.arange(10), 1, 2, 300)
    with pytest.raises(ValueError, match="fewer than one piece"):
        tt.SpanCorruptionBatches(torch.arange(10), 20, 2, 300)


def test_greedy_without_and_with_the_ngram_ban():
    torch.manual_seed(0)
    model = tt.build_t5(dict(tt.wiki_t5_config(), vocab_size=60, d_model=16, d_kv=4, d_ff=32,
                             num_layers=1)).eval()
    x = torch.randint(3, 60, (4, 7))
    mask = torch.ones(4, 7, dtype=torch.bool)
    mask[1, 5:] = False
    plain = tt.greedy(model, x, 30, mask)
    assert torch.equal(plain, model.generate(x, 30, mask))
    for n in (1, 2, 3):
        out = tt.greedy(model, x, 30, mask, no_repeat_ngram=n)
        for row in out.tolist():
            row = row[:row.index(tt.EOS)] if tt.EOS in row else row
            grams = [tuple(row[i:i + n]) for i in range(len(row) - n + 1)]
            assert len(grams) == len(set(grams)), (n, row)
    with pytest.raises(ValueError, match="no_repeat_ngram"):
        tt.greedy(model, x, 5, mask, no_repeat_ngram=0)
    with pytest.raises(TypeError, match="T5"):
        tt.greedy(torch.nn.Linear(2, 2), x, 5)
