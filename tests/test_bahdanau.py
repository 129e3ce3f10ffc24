"""The attention decoder against the d2l book's Bahdanau decoder, plus shapes, masks and bad inputs."""
import pytest
import torch
from torch import nn

from d2lt import attention, bahdanau, seq2seq, text
from d2lt.compat import d2l as load_d2l
from helpers import assert_stepwise_equals_teacher_forced

V_SRC, V_TGT, E, H = 11, 13, 6, 10


def _book_decoder_class():
    """The book's ``Seq2SeqAttentionDecoder`` (d2l.ai, section 11.4), time-major, as printed there.

    The d2l 1.0.3 package has ``AdditiveAttention`` and the ``AttentionDecoder`` base
    class but not this decoder, so it is re-typed here from the book's logic.
    """
    d2l = load_d2l()

    class BookDecoder(d2l.AttentionDecoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.attention = d2l.AdditiveAttention(num_hiddens, dropout)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
            self.dense = nn.LazyLinear(vocab_size)
            self.apply(d2l.init_seq2seq)

        def init_state(self, enc_outputs, enc_valid_lens):
            outputs, hidden_state = enc_outputs  # (T, B, H), (L, B, H)
            return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

        def forward(self, X, state):
            enc_outputs, hidden_state, enc_valid_lens = state
            X = self.embedding(X).permute(1, 0, 2)  # (T, B, E)
            outputs, self._attention_weights = [], []
            for x in X:
                query = torch.unsqueeze(hidden_state[-1], dim=1)  # (B, 1, H)
                context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
                x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
                out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
                outputs.append(out)
                self._attention_weights.append(self.attention.attention_weights)
            outputs = self.dense(torch.cat(outputs, dim=0))
            return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

        @property
        def attention_weights(self):
            return self._attention_weights

    return BookDecoder


def _pair(num_layers):
    """The book's decoder and ours with the same weights."""
    torch.manual_seed(0)
    book = _book_decoder_class()(V_TGT, E, H, num_layers)
    enc_out, enc_state = torch.randn(5, 2, H), torch.randn(num_layers, 2, H)
    book(torch.zeros(2, 1, dtype=torch.long), book.init_state((enc_out, enc_state), None))  # build lazy layers
    ours = bahdanau.Seq2SeqAttentionDecoder(V_TGT, E, H, num_layers)
    ours.load_state_dict(book.state_dict())  # same parameter names and shapes
    return book, ours


@pytest.mark.parametrize("num_layers", [1, 2])
def test_decoder_matches_the_book_with_padding(num_layers):
    book, ours = _pair(num_layers)
    B, Ts, T = 3, 6, 4
    enc_out = torch.randn(B, Ts, H)  # batch-first encoder states
    enc_state = torch.randn(num_layers, B, H)
    lens = torch.tensor([6, 2, 4])
    X = torch.randint(0, V_TGT, (B, T))
    ref, ref_state = book(X, book.init_state((enc_out.transpose(0, 1), enc_state), lens))
    got, state = ours(X, ours.init_state((enc_out, enc_state), lens))
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(state.hidden, ref_state[1])
    assert len(ours.attention_weights) == T
    for w, w_ref in zip(ours.attention_weights, book.attention_weights):
        assert w.shape == (B, 1, Ts)
        torch.testing.assert_close(w, w_ref)
        assert (w[1, 0, 2:] == 0).all() and (w[2, 0, 4:] == 0).all()  # nothing on padding


def test_whole_model_matches_the_book_without_padding():
    d2l = load_d2l()
    book_dec, _ = _pair(2)
    torch.manual_seed(1)
    book_enc = d2l.Seq2SeqEncoder(V_SRC, E, H, 2)
    book = d2l.EncoderDecoder(book_enc, book_dec)
    model = bahdanau.attention_seq2seq(seq2seq.Seq2SeqConfig(V_SRC, V_TGT, E, H, 2))
    model.encoder.embedding.load_state_dict(book_enc.embedding.state_dict())
    model.encoder.rnn.load_state_dict(book_enc.rnn.rnn.state_dict())
    model.decoder.load_state_dict(book_dec.state_dict())
    X, Y = torch.randint(0, V_SRC, (3, 7)), torch.randint(0, V_TGT, (3, 5))
    lens = torch.full((3,), 7)
    torch.testing.assert_close(model(X, Y, lens), book(X, Y, lens))


def test_attend_equals_additive_attention_module():
    """Projecting the keys once per sentence gives exactly what the attention module computes."""
    _, dec = _pair(1)
    enc_out, lens = torch.randn(4, 7, H), torch.tensor([7, 1, 3, 5])
    state = dec.init_state((enc_out, torch.randn(1, 4, H)), lens)
    query = torch.randn(4, H)
    context, weights = dec.attend(query, state)
    ref = dec.attention(query[:, None], enc_out, enc_out, lens)
    torch.testing.assert_close(context, ref)
    torch.testing.assert_close(weights, dec.attention.attention_weights)
    # and the same as d2lt's masked softmax of the additive scores, written out
    scores = dec.attention.w_v(torch.tanh(dec.attention.W_q(query)[:, None] + dec.attention.W_k(enc_out)))
    torch.testing.assert_close(weights, attention.masked_softmax(scores.transpose(1, 2), lens))


def test_step_by_step_equals_teacher_forcing_and_greedy_decode_keeps_weights():
    torch.manual_seed(0)
    model = bahdanau.attention_seq2seq(seq2seq.Seq2SeqConfig(V_SRC, V_TGT, E, H, 2)).eval()
    X, lens = torch.randint(4, V_SRC, (3, 6)), torch.tensor([6, 2, 4])
    assert_stepwise_equals_teacher_forced(model, X, lens, torch.randint(4, V_TGT, (3, 5)))
    ids, attn = seq2seq.greedy_decode(model, X, lens, bos=1, eos=2, max_steps=4, save_attention=True)
    assert len(attn) == ids.shape[1] and attn[0].shape == (3, 6)
    torch.testing.assert_close(attn[0].sum(-1), torch.ones(3))
    assert (attn[0][1, 2:] == 0).all()


def test_padding_content_does_not_matter():
    torch.manual_seed(0)
    model = bahdanau.attention_seq2seq(seq2seq.Seq2SeqConfig(V_SRC, V_TGT, E, H, 1)).eval()
    X, lens = torch.randint(4, V_SRC, (2, 6)), torch.tensor([3, 6])
    Y = torch.randint(4, V_TGT, (2, 4))
    X2 = X.clone()
    X2[0, 3:] = torch.randint(4, V_SRC, (3,))
    torch.testing.assert_close(model(X, Y, lens)[0], model(X2, Y, lens)[0])


def test_align_returns_tokens_and_a_row_per_output_token():
    vocab = text.Vocab([["a", "b", "c"]])
    torch.manual_seed(0)
    model = bahdanau.attention_seq2seq(seq2seq.Seq2SeqConfig(len(vocab), len(vocab), E, H))
    src, out, w = bahdanau.align(model, "a b c", vocab, vocab, src_steps=8, max_steps=5)
    assert src == ["a", "b", "c", "<eos>"]
    assert w.shape == (len(out), 4) and 1 <= len(out) <= 5
    torch.testing.assert_close(w.sum(-1), torch.ones(len(out)))
    with pytest.raises(TypeError, match="sentence must be a str"):
        bahdanau.align(model, ["a"], vocab, vocab, 8, 5)
    with pytest.raises(TypeError, match="keeps no attention weights"):
        bahdanau.align(seq2seq.rnn_seq2seq(seq2seq.Seq2SeqConfig(7, 7, E, H)), "a", vocab, vocab, 8, 5)


def test_bad_inputs_are_named():
    dec = bahdanau.Seq2SeqAttentionDecoder(V_TGT, E, H, 2)
    enc_out, enc_state = torch.randn(2, 5, H), torch.randn(2, 2, H)
    with pytest.raises(ValueError, match=r"encoder outputs must have shape \(B, Ts, 10\)"):
        dec.init_state((torch.randn(2, 5, H + 1), enc_state))
    with pytest.raises(ValueError, match=r"encoder state must have shape \(2, 2, 10\)"):
        dec.init_state((enc_out, torch.randn(1, 2, H)))
    with pytest.raises(TypeError, match="enc_all_outputs"):
        dec.init_state(enc_out)
    with pytest.raises(ValueError, match="enc_valid_lens must lie in"):
        dec.init_state((enc_out, enc_state), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="enc_valid_lens must be a tensor of shape"):
        dec.init_state((enc_out, enc_state), torch.tensor([5]))
    state = dec.init_state((enc_out, enc_state), torch.tensor([5, 3]))
    with pytest.raises(TypeError, match="integer tensor of shape"):
        dec(torch.randn(2, 3), state)
    with pytest.raises(ValueError, match="batch size 3"):
        dec(torch.zeros(3, 2, dtype=torch.long), state)
    with pytest.raises(TypeError, match="AttentionState"):
        dec(torch.zeros(2, 2, dtype=torch.long), (enc_out, enc_state))
    with pytest.raises(ValueError, match="num_hiddens must be an int >= 1, got 0"):
        bahdanau.Seq2SeqAttentionDecoder(V_TGT, E, 0, 1)
    with pytest.raises(ValueError, match="dropout"):
        bahdanau.Seq2SeqAttentionDecoder(V_TGT, E, H, 1, dropout=1.5)
    with pytest.raises(TypeError, match="Seq2SeqConfig"):
        bahdanau.attention_seq2seq({"src_vocab": 5})


def test_learns_to_copy_quickly():
    """A tiny end-to-end run: copying short sequences is learned in a few hundred steps."""
    torch.manual_seed(0)
    V, T = 9, 5
    X = torch.randint(4, V, (256, T))
    lens = torch.full((256,), T)
    dec_in = torch.cat([torch.ones(256, 1, dtype=torch.long), X[:, :-1]], 1)
    model = bahdanau.attention_seq2seq(seq2seq.Seq2SeqConfig(V, V, 8, 16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = seq2seq.sequence_loss(model(X, dec_in, lens), X, pad_id=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3, f"copy task loss stayed at {loss.item():.3f}"
