"""d2lt.transformer against d2l, torch.nn.Transformer*Layer and its own step-by-step path."""
import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from d2lt import seq2seq, train
from d2lt import transformer as T
from d2lt.compat import d2l as load_d2l

from helpers import assert_stepwise_equals_teacher_forced

D, F_, H = 16, 32, 4


@pytest.fixture(scope="module")
def d2l():
    return load_d2l()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _copy_mha_from_d2l(ours, theirs):
    with torch.no_grad():
        for name in ("W_q", "W_k", "W_v", "W_o"):
            getattr(ours, name).weight.copy_(getattr(theirs, name).weight)


def _copy_addnorm_ffn(ours, theirs, n_addnorm):
    with torch.no_grad():
        ours.ffn.load_state_dict(theirs.ffn.state_dict())
        for k in range(1, n_addnorm + 1):
            getattr(ours, f"addnorm{k}").load_state_dict(getattr(theirs, f"addnorm{k}").state_dict())


# ----------------------------------------------------------------------------- sub-layers

def test_ffn_and_addnorm_match_d2l(d2l):
    X, Y = torch.randn(2, 5, D), torch.randn(2, 5, D)
    theirs = d2l.PositionWiseFFN(F_, D)
    theirs(X)  # materialise the lazy layers
    ours = T.PositionWiseFFN(F_, D)
    ours(X)
    ours.load_state_dict(theirs.state_dict())
    assert_close(ours(X), theirs(X))
    an, ref = T.AddNorm(D, 0.0), d2l.AddNorm(D, 0.0)
    ref.load_state_dict(an.state_dict())
    assert_close(an(X, Y), ref(X, Y))
    assert_close(an(X, Y), nn.functional.layer_norm(X + Y, (D,)))


def test_ffn_acts_on_each_position_alone():
    ffn = T.PositionWiseFFN(F_, 7, num_inputs=D)
    X = torch.randn(3, 6, D)
    assert_close(ffn(X)[:, 2], ffn(X[:, 2:3])[:, 0])
    assert ffn(X).shape == (3, 6, 7)


# ----------------------------------------------------------------------------- encoder

def test_encoder_block_matches_d2l(d2l):
    X, lens = torch.randn(2, 6, D), torch.tensor([6, 3])
    theirs = d2l.TransformerEncoderBlock(D, F_, H, 0.0).eval()
    theirs(X, lens)
    ours = T.TransformerEncoderBlock(D, F_, H, 0.0).eval()
    _copy_mha_from_d2l(ours.attention, theirs.attention)
    _copy_addnorm_ffn(ours, theirs, 2)
    assert_close(ours(X, lens), theirs(X, lens))


def test_encoder_matches_d2l(d2l):
    X, lens = torch.randint(0, 30, (2, 7)), torch.tensor([7, 4])
    theirs = d2l.TransformerEncoder(30, D, F_, H, 2, 0.0).eval()
    theirs(X, lens)
    ours = T.TransformerEncoder(30, D, F_, H, 2, 0.0).eval()
    with torch.no_grad():
        ours.embedding.weight.copy_(theirs.embedding.weight)
    for a, b in zip(ours.blks, theirs.blks):
        _copy_mha_from_d2l(a.attention, b.attention)
        _copy_addnorm_ffn(a, b, 2)
    assert_close(ours(X, lens), theirs(X, lens))
    for w, ref in zip(ours.attention_weights, theirs.attention_weights):
        assert_close(w.reshape(-1, 7, 7), ref)  # d2l keeps (B*h, S, S)


def test_encoder_block_matches_torch_layer():
    ref = nn.TransformerEncoderLayer(D, H, F_, dropout=0.0, batch_first=True).eval()
    ours = T.encoder_layer_from_torch(ref).eval()
    X, lens = torch.randn(3, 5, D), torch.tensor([5, 2, 4])
    pad = torch.arange(5)[None] >= lens[:, None]  # torch: True = ignore
    with torch.no_grad():
        assert_close(ours(X, lens)[pad.logical_not()], ref(X, src_key_padding_mask=pad)[pad.logical_not()])
        assert_close(ours(X), ref(X))


def test_encoder_block_matches_torch_layer_in_training_mode():
    """Dropout 0: training mode (torch's slow path) agrees too, and the gradients do."""
    ref = nn.TransformerEncoderLayer(D, H, F_, dropout=0.0, batch_first=True).train()
    ours = T.encoder_layer_from_torch(ref).train()
    X = torch.randn(2, 4, D)
    a, b = ours(X), ref(X)
    assert_close(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    assert_close(ours.ffn.dense1.weight.grad, ref.linear1.weight.grad)


# ----------------------------------------------------------------------------- decoder

class BookDecoderBlock(nn.Module):
    """The d2l book's TransformerDecoderBlock (section 11.7; not in the d2l package), verbatim in logic."""

    def __init__(self, d2l, num_hiddens, ffn_num_hiddens, num_heads, dropout, i):
        super().__init__()
        self.i = i
        self.attention1 = d2l.MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm1 = d2l.AddNorm(num_hiddens, dropout)
        self.attention2 = d2l.MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm2 = d2l.AddNorm(num_hiddens, dropout)
        self.ffn = d2l.PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm3 = d2l.AddNorm(num_hiddens, dropout)

    def forward(self, X, state):
        enc_outputs, enc_valid_lens = state[0], state[1]
        key_values = X if state[2][self.i] is None else torch.cat((state[2][self.i], X), dim=1)
        state[2][self.i] = key_values
        if self.training:
            batch_size, num_steps, _ = X.shape
            dec_valid_lens = torch.arange(1, num_steps + 1, device=X.device).repeat(batch_size, 1)
        else:
            dec_valid_lens = None
        X2 = self.attention1(X, key_values, key_values, dec_valid_lens)
        Y = self.addnorm1(X, X2)
        Y2 = self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens)
        Z = self.addnorm2(Y, Y2)
        return self.addnorm3(Z, self.ffn(Z)), state


def test_decoder_block_matches_the_d2l_book(d2l):
    X, enc, lens = torch.randn(2, 5, D), torch.randn(2, 6, D), torch.tensor([6, 3])
    theirs = BookDecoderBlock(d2l, D, F_, H, 0.0, 0).train()
    theirs(X, [enc, lens, [None]])
    ours = T.TransformerDecoderBlock(D, F_, H, 0.0, 0, use_bias=False).train()
    _copy_mha_from_d2l(ours.attention1, theirs.attention1)
    _copy_mha_from_d2l(ours.attention2, theirs.attention2)
    _copy_addnorm_ffn(ours, theirs, 3)
    assert_close(ours(X, [enc, lens, [None]])[0], theirs(X, [enc, lens, [None]])[0])
    # eval mode, one step at a time with a cache, gives the same outputs
    ours.eval()
    state = [enc, lens, [None]]
    steps = [ours(X[:, t:t + 1], state)[0] for t in range(5)]
    assert_close(torch.cat(steps, 1), theirs.train()(X, [enc, lens, [None]])[0])


def test_decoder_block_matches_torch_layer():
    ref = nn.TransformerDecoderLayer(D, H, F_, dropout=0.0, batch_first=True).eval()
    ours = T.decoder_layer_from_torch(ref)
    X, enc, lens = torch.randn(3, 5, D), torch.randn(3, 6, D), torch.tensor([6, 2, 4])
    pad = torch.arange(6)[None] >= lens[:, None]
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    with torch.no_grad():
        want = ref(X, enc, tgt_mask=causal, memory_key_padding_mask=pad)
        assert_close(ours.train()(X, [enc, lens, [None]])[0], want)  # training path (dropout 0)
        assert_close(ours.eval()(X, [enc, lens, [None]])[0], want)   # cached path, all at once


def test_torch_layer_mapping_refuses_pre_norm_and_gelu():
    with pytest.raises(ValueError, match="post-norm"):
        T.encoder_layer_from_torch(nn.TransformerEncoderLayer(D, H, F_, norm_first=True, batch_first=True))
    with pytest.raises(ValueError, match="ReLU"):
        T.decoder_layer_from_torch(nn.TransformerDecoderLayer(D, H, F_, activation="gelu", batch_first=True))
    with pytest.raises(ValueError, match="bias=False"):
        T.encoder_layer_from_torch(nn.TransformerEncoderLayer(D, H, F_, bias=False, batch_first=True))
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        T.encoder_layer_from_torch(nn.Linear(2, 2))


def _model(dropout=0.0, **kw):
    return T.transformer_seq2seq(T.TransformerConfig(30, 40, D, F_, H, 2, dropout, **kw))


def test_stepwise_decoding_equals_teacher_forcing():
    model = _model().eval()
    X, lens, Y = torch.randint(4, 30, (3, 6)), torch.tensor([6, 4, 1]), torch.randint(4, 40, (3, 7))
    assert_stepwise_equals_teacher_forced(model, X, lens, Y)
    with torch.no_grad():
        assert_close(model.train()(X, Y, lens), model.eval()(X, Y, lens))


def test_new_tokens_get_their_own_positions():
    """d2l adds position 0 to every token fed one at a time; ours adds the token's position."""
    model = _model().eval()
    X, lens = torch.randint(4, 30, (1, 5)), torch.tensor([5])
    state = model.decoder.init_state(model.encoder(X, lens), lens)
    y = torch.tensor([[7]])
    first = model.decoder(y, state)[0]
    second = model.decoder(y, state)[0]
    assert model.decoder.cached_steps(state) == 2
    assert not torch.allclose(first, second)
    assert_close(second[:, 0], model(X, torch.tensor([[7, 7]]), lens)[:, 1])


def test_decoder_is_causal_and_ignores_source_padding():
    model = _model().eval()
    X, lens, Y = torch.randint(4, 30, (2, 6)), torch.tensor([6, 3]), torch.randint(4, 40, (2, 5))
    base = model(X, Y, lens)
    Y2 = Y.clone()
    Y2[:, 3:] = 5
    assert_close(model(X, Y2, lens)[:, :3], base[:, :3])  # the future does not leak
    X2 = X.clone()
    X2[1, 3:] = 9
    assert_close(model(X2, Y, lens)[1], base[1])  # source padding is masked


def test_attention_weights_of_all_three_kinds():
    model = _model().eval()
    X, lens, Y = torch.randint(4, 30, (2, 6)), torch.tensor([6, 3]), torch.randint(4, 40, (2, 5))
    model(X, Y, lens)
    enc = model.encoder.attention_weights
    self_w, cross_w = model.decoder.attention_weights
    assert len(enc) == len(self_w) == len(cross_w) == 2
    assert enc[0].shape == (2, H, 6, 6) and self_w[0].shape == (2, H, 5, 5) and cross_w[0].shape == (2, H, 5, 6)
    for w in (enc[1], self_w[1], cross_w[1]):
        assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    assert (self_w[0].triu(1) == 0).all()  # causal
    assert (cross_w[0][1, :, :, 3:] == 0).all() and (enc[0][1, :, :, 3:] == 0).all()  # padding


def test_tied_and_shared_embeddings():
    m = _model()
    assert m.decoder.dense.weight is m.decoder.embedding.weight
    untied = _model(tie_output=False)
    assert T.count_parameters(untied) - T.count_parameters(m) == 40 * D
    shared = T.transformer_seq2seq(T.TransformerConfig(30, 30, D, F_, H, 1, share_embeddings=True))
    assert shared.encoder.embedding is shared.decoder.embedding
    with pytest.raises(ValueError, match="one vocabulary"):
        T.TransformerConfig(30, 40, share_embeddings=True)


def test_base_configuration_parameter_count():
    """The paper's base model (Table 3: 65M parameters, quoted) counted with the course's own model."""
    n = T.count_parameters(T.transformer_seq2seq(T.TransformerConfig.base(37000)))
    d, f, V, L = 512, 2048, 37000, 6
    attn, ffn, ln = 4 * (d * d + d), d * f + f + f * d + d, 2 * d
    by_hand = V * d + L * (attn + ffn + 2 * ln) + L * (2 * attn + ffn + 3 * ln) + V  # + output bias
    assert n == by_hand
    assert 60e6 < n < 65e6, n  # 63.1M: the paper's 65M is an approximate count with its own vocabulary


# ----------------------------------------------------------------------------- training pieces

def test_noam_schedule():
    lr = [T.noam_lr(s, 512, 4000) for s in range(1, 20001)]
    peak = max(range(len(lr)), key=lr.__getitem__) + 1
    assert peak == 4000
    assert lr[0] < lr[1999] < lr[3999] and lr[3999] > lr[15999]
    assert lr[15999] == pytest.approx(lr[3999] / 2)  # 1/sqrt(step) after the peak
    assert lr[3999] == pytest.approx(512 ** -0.5 * 4000 ** -0.5)


def test_noam_adam_sets_the_rate_before_each_step():
    p = nn.Parameter(torch.zeros(3))
    opt = T.NoamAdam([p], 64, warmup=10, factor=2.0)
    for s in range(1, 4):
        p.grad = torch.ones(3)
        opt.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(T.noam_lr(s, 64, 10, 2.0))
    fixed = T.NoamAdam([p], 64, warmup=None, lr=5e-4)
    p.grad = torch.ones(3)
    fixed.step()
    assert fixed.param_groups[0]["lr"] == 5e-4


def test_label_smoothing_loss_and_trimming():
    model = _model()
    src, lens = torch.randint(4, 30, (2, 9)), torch.tensor([4, 3])
    src[0, 4:], src[1, 3:] = 0, 0
    dec, tgt = torch.randint(4, 40, (2, 8)), torch.randint(4, 40, (2, 8))
    tgt[:, 5:] = 0
    s, sl, d, t = T.trim_batch((src, lens, dec, tgt), 0)
    assert s.shape == (2, 4) and d.shape == (2, 5) and t.shape == (2, 5)
    model.eval()
    with torch.no_grad():
        full = seq2seq.sequence_loss(model(src, dec, lens), tgt, 0)
        assert_close(T.transformer_step(model, (src, lens, dec, tgt), 0, 0.0), full)
        smooth = T.transformer_step(model, (src, lens, dec, tgt), 0, 0.1)
        logp = model(src, dec, lens)[:, :5].log_softmax(-1)[tgt[:, :5] != 0]  # (real tokens, V)
    uniform = -logp.mean(-1).mean()  # cross-entropy against the uniform distribution
    assert_close(smooth, 0.9 * full + 0.1 * uniform)


def test_the_model_learns_to_copy():
    """A few hundred steps on a copy task: the loss falls well below chance (log 12)."""
    torch.manual_seed(0)
    model = T.transformer_seq2seq(T.TransformerConfig(12, 12, 32, 64, 4, 1, 0.0))
    src = torch.randint(4, 12, (256, 6))
    dec = torch.cat([torch.ones(256, 1, dtype=torch.long), src[:, :-1]], 1)
    data = list(zip(src.split(32), torch.full((256,), 6).split(32), dec.split(32), src.split(32)))
    opt = T.NoamAdam(model.parameters(), 32, warmup=50)
    h = train.fit(model, data, lambda m, b: T.transformer_step(m, b, 0, 0.0), optimizer=opt,
                  max_steps=300, progress=False, device="cpu")
    assert h.losses[-1] < 0.2 * math.log(12), h.losses[-1]


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("args, exc", [
    ((16, 32, 3, 0.0), ValueError),      # heads do not divide the width
    ((16, 32, 0, 0.0), ValueError),
    ((16, 32, 4, 1.5), ValueError),      # dropout out of range
    ((16, 32, 4, float("nan")), ValueError),
    (("16", 32, 4, 0.0), TypeError),
    ((16.0, 32, 4, 0.0), TypeError),
])
def test_blocks_refuse_bad_sizes(args, exc):
    with pytest.raises(exc):
        T.TransformerEncoderBlock(*args)
    with pytest.raises(exc):
        T.TransformerDecoderBlock(*args, 0)


def test_bad_inputs_are_refused_with_clear_messages():
    model = _model().eval()
    X, lens, Y = torch.randint(4, 30, (2, 6)), torch.tensor([6, 3]), torch.randint(4, 40, (2, 5))
    with pytest.raises((TypeError, ValueError), match="integer tensor"):
        model(X.float(), Y, lens)
    with pytest.raises(ValueError, match=r"token ids in \[0, 29\]"):
        model(X + 30, Y, lens)
    with pytest.raises(ValueError, match=r"token ids in \[0, 39\]"):
        model(X, Y + 40, lens)
    with pytest.raises(ValueError, match="valid_lens"):
        model(X, Y, torch.tensor([7, 3]))
    with pytest.raises(ValueError, match="valid_lens"):
        model(X, Y, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="state"):
        model.decoder(Y, "state")
    blk = T.TransformerEncoderBlock(D, F_, H, 0.0)
    with pytest.raises(ValueError, match="width 16"):
        blk(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match="same shape"):
        T.AddNorm(D, 0.0)(torch.randn(2, 3, D), torch.randn(2, 4, D))
    with pytest.raises(ValueError, match="max_len"):
        T.transformer_seq2seq(T.TransformerConfig(30, 40, D, F_, H, 1, max_len=4)).eval()(X[:, :3], Y, None)
    with pytest.raises(TypeError, match="TransformerConfig"):
        T.transformer_seq2seq({"src_vocab": 3})
    with pytest.raises(ValueError, match="step"):
        T.noam_lr(0, 512)
    with pytest.raises(ValueError, match="label_smoothing"):
        T.transformer_step(model, (X, lens, Y, Y), 0, 1.0)
    with pytest.raises(TypeError, match="TranslationTask"):
        T.verse_transformer("verses")


# ----------------------------------------------------------------------------- the shipped checkpoint

def test_verse_checkpoint_reproduces_its_figures():
    """Chapter 6's verse checkpoint: same task and CPU time as chapters 1-2's, figures reproduced."""
    from d2lt import metrics, tasks
    from d2lt.text import tokenize

    task = tasks.verse_task()
    model, config, path = T.verse_transformer(task)
    assert path.exists(), f"{path} is missing: run scripts/train_transformer_checkpoint.py"
    extra = train.load_checkpoint(path, model, config)
    assert "bleu_by_length" in extra, (f"{path} is unfinished (training stopped before the final "
                                       "scoring): run scripts/train_transformer_checkpoint.py --resume")
    model.eval()
    rows = seq2seq.bleu_by_length(model, task.test_pairs, task.src_vocab, task.tgt_vocab, task.src_steps,
                                  task.tgt_steps + 5, tasks.VERSE_EDGES)
    got = [r["bleu"] for r in rows]
    assert got == pytest.approx(extra["bleu_by_length"], abs=0.5), (extra["bleu_by_length"], got)
    hyps = seq2seq.translate(model, [p[0] for p in task.test_pairs], task.src_vocab, task.tgt_vocab,
                             task.src_steps, task.tgt_steps + 5)
    corpus = metrics.corpus_bleu(hyps, [" ".join(tokenize(p[1])) for p in task.test_pairs])
    assert corpus == pytest.approx(extra["corpus_bleu"], abs=0.5)
    curve = extra["bleu_curve"]
    assert len(curve) == len(extra["losses"]) and curve[-1][0] <= extra["cpu_seconds"] / 60 + 1e-6
    for kind in tasks.VERSE_CHECKPOINTS:  # the same CPU time as each RNN checkpoint
        rnn, rnn_config, rnn_path = tasks.verse_model(kind, task)
        rnn_extra = train.load_checkpoint(rnn_path, rnn, rnn_config)
        assert extra["cpu_seconds"] == pytest.approx(rnn_extra["cpu_seconds"], rel=0.05), kind


def test_transformer_beats_the_attention_rnn_on_verses_at_equal_cpu_time():
    """Chapter 6's claim on the verses, from the shipped checkpoints (same data, split and CPU time)."""
    from d2lt import tasks

    task = tasks.verse_task()
    model, config, path = T.verse_transformer(task)
    ours = train.load_checkpoint(path, model, config)["bleu_by_length"]
    rnn, rnn_config, rnn_path = tasks.verse_model("attention", task)
    theirs = train.load_checkpoint(rnn_path, rnn, rnn_config)["bleu_by_length"]
    for a, b, lo, hi in zip(ours, theirs, tasks.VERSE_EDGES, tasks.VERSE_EDGES[1:]):
        assert a > b, f"source lengths {lo}-{hi - 1}: Transformer {a:.1f} BLEU, attention RNN {b:.1f}"
