import pytest
import torch

from d2lt import text


def test_tokenize():
    assert text.tokenize("God said, \"Let there be light.\"") == \
        ["god", "said", ",", '"', "let", "there", "be", "light", ".", '"']
    assert text.tokenize("Dieu créa les cieux") == ["dieu", "créa", "les", "cieux"]
    with pytest.raises(TypeError, match="str"):
        text.tokenize(["a"])


def test_vocab_reserved_frequency_and_round_trip():
    v = text.Vocab([["b", "a", "a"], ["c", "a", "b"]], min_freq=2)
    assert v.idx_to_token[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert v.idx_to_token[4:] == ["a", "b"]  # by frequency, c dropped (freq 1 < 2)
    assert v["c"] == v.unk and v[["a", "b"]] == [4, 5]
    assert (v.pad, v.bos, v.eos, v.unk) == (0, 1, 2, 3)
    w = text.Vocab.from_json(v.to_json())
    assert w.idx_to_token == v.idx_to_token
    assert len(text.Vocab(["x", "y", "z"], max_size=5)) == 5


def test_vocab_bad_inputs():
    with pytest.raises(ValueError, match="min_freq"):
        text.Vocab([], min_freq=0)
    with pytest.raises(TypeError, match="token"):
        text.Vocab(["a"])[3.0]
    with pytest.raises(ValueError, match="serialised Vocab"):
        text.Vocab.from_json('["a"]')
    with pytest.raises(ValueError, match="id must be in"):
        text.Vocab(["a"]).to_tokens(99)


def test_encode_pads_truncates_and_decodes():
    v = text.Vocab([["a", "b", "c"]])
    ids, lens = text.encode([["a"], ["a", "b", "c", "a"]], v, num_steps=4, bos=True)
    assert ids.tolist()[0] == [v.bos, v["a"], v.eos, v.pad]
    assert ids.tolist()[1] == [v.bos, v["a"], v["b"], v["c"]]  # truncated
    assert lens.tolist() == [3, 4]
    assert text.decode(ids[0], v) == ["a"]
    with pytest.raises(ValueError, match="num_steps"):
        text.encode([["a"]], v, 0)
    with pytest.raises(TypeError, match="list of token lists"):
        text.encode(["a", "b"], v, 3)
    with pytest.raises(TypeError, match="Vocab"):
        text.encode([["a"]], {"a": 1}, 3)
    with pytest.raises(ValueError, match="1-D"):
        text.decode(ids, v)
    with pytest.raises(TypeError, match="Vocab"):
        text.decode(ids[0], {"a": 1})


# --------------------------------------------------------------------------- bad input, by class

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

V = text.Vocab([["a", "b", "c"], ["a", "b"]])


@pytest.mark.parametrize("call", [
    lambda: text.tokenize(b"bytes"),
    lambda: text.tokenize(None),
    lambda: text.tokenize("a", lower="yes"),
])
def test_tokenize_wrong_types(call):
    with pytest.raises(TypeError, match="must be"):
        call()


def test_tokenize_empty_and_unicode_are_valid():
    assert text.tokenize("") == [] and text.tokenize("   ") == []
    assert text.tokenize("Élan, vital", lower=False) == ["Élan", ",", "vital"]


@pytest.mark.parametrize("tokens,match", [
    ("abc", "single str"),                       # a bare string is not split into characters
    (b"abc", "single bytes"),
    ([["a", "b"], "cd"], "mixes tokens and token lists"),
    (["a", ["b"]], "mixes tokens and token lists"),
    ([["a", 1]], r"tokens\[0\]\[1\] must be a token"),
    ([1, 2], r"tokens\[0\] must be a token"),
    ({"a": 1}, "list of tokens"),
    (None, "list of tokens"),
    (5, "list of tokens"),
])
def test_vocab_refuses_what_is_not_tokens(tokens, match):
    with pytest.raises(TypeError, match=match):
        text.Vocab(tokens)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"min_freq": 1.5}, TypeError, "min_freq"),
    ({"min_freq": True}, TypeError, "min_freq"),
    ({"min_freq": -1}, ValueError, "min_freq"),
    ({"max_size": 4}, ValueError, "max_size"),
    ({"max_size": 10.0}, TypeError, "max_size"),
    ({"reserved_tokens": "<sep>"}, TypeError, "reserved_tokens"),
    ({"reserved_tokens": [1]}, TypeError, "reserved_tokens"),
])
def test_vocab_argument_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        text.Vocab([["a"]], **kwargs)


def test_vocab_valid_inputs_unchanged():
    flat, nested = text.Vocab(["b", "a", "a"]), text.Vocab([("b",), ["a", "a"]])
    assert flat.idx_to_token == nested.idx_to_token == list(text.RESERVED) + ["a", "b"]
    assert text.Vocab(iter([["x"]])).idx_to_token[4:] == ["x"]  # any iterable of token lists
    assert len(text.Vocab()) == 4 and len(text.Vocab([])) == 4
    assert text.Vocab([["a"]], reserved_tokens=["<sep>"]).idx_to_token[4:] == ["<sep>", "a"]
    assert V["a b"] == V.unk  # a str is one token, never split
    assert V[[["a"], ["b", "zzz"]]] == [[V["a"]], [V["b"], V.unk]]


@pytest.mark.parametrize("bad", [3, 3.0, None, {"a"}, torch.tensor([4])])
def test_vocab_indexing_refuses_non_tokens(bad):
    with pytest.raises(TypeError, match="token"):
        V[bad]
    with pytest.raises(TypeError, match="token"):
        V[["a", bad]]


@pytest.mark.parametrize("bad,error,match", [
    ("abc", TypeError, "to_tokens takes ids"),   # used to recurse forever
    ("a", TypeError, "to_tokens takes ids"),
    (2.0, TypeError, "int id"),
    ([4, 2.5], TypeError, "int id"),
    (True, TypeError, "int id"),
    (None, TypeError, "int id"),
    (torch.tensor([1.0, 2.0]), TypeError, "dtype"),
    (-1, ValueError, r"\[0, 7\) for a vocabulary of size 7, got -1"),
    (7, ValueError, "size 7, got 7"),
    ([[4], [99]], ValueError, "got 99"),
])
def test_to_tokens_bad_ids(bad, error, match):
    assert len(V) == 7
    with pytest.raises(error, match=match):
        V.to_tokens(bad)


def test_to_tokens_valid_forms():
    assert V.to_tokens(4) == "a" and V.to_tokens(torch.tensor(5)) == "b"
    assert V.to_tokens([4, [5, 6]]) == ["a", ["b", "c"]]
    assert V.to_tokens(torch.tensor([[4, 5]])) == [["a", "b"]]
    assert V.to_tokens([torch.tensor(4), 5]) == ["a", "b"] and V.to_tokens([]) == []
    assert V.to_tokens(range(4, 6)) == ["a", "b"]


@pytest.mark.parametrize("bad,error,match", [
    (["a"], TypeError, "to_json wrote"),
    (None, TypeError, "to_json wrote"),
    ("", ValueError, "not valid JSON"),
    ("[\"<pad>\", ", ValueError, "not valid JSON"),
    ("{\"a\": 1}", ValueError, "JSON list"),
    ('["<pad>", "<bos>", "<eos>", "<unk>", 5]', ValueError, "must be a str"),
    ('["<pad>", "<bos>", "<eos>", "<unk>", "a", "a"]', ValueError, "twice"),
    ("[]", ValueError, "JSON list starting with"),
])
def test_from_json_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        text.Vocab.from_json(bad)


@pytest.mark.parametrize("token_lists,error,match", [
    ("a b c", TypeError, "list of token lists"),
    (["a", "b"], TypeError, r"token_lists\[0\] is the str 'a'"),
    ([["a"], "b c"], TypeError, r"token_lists\[1\] is the str"),  # used to be split into characters
    ([["a", 3]], TypeError, r"token_lists\[0\]\[1\] must be a token"),
    ([None], TypeError, r"token_lists\[0\] must be a list of tokens"),
    ({"a": ["b"]}, TypeError, "list of token lists"),
    (7, TypeError, "list of token lists"),
    ([], ValueError, "empty"),
])
def test_encode_bad_token_lists(token_lists, error, match):
    with pytest.raises(error, match=match):
        text.encode(token_lists, V, 4)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"num_steps": 2.0}, TypeError, "num_steps"),
    ({"num_steps": -3}, ValueError, "num_steps"),
    ({"num_steps": True}, TypeError, "num_steps"),
    ({"num_steps": 4, "bos": 1}, TypeError, "bos"),
    ({"num_steps": 4, "eos": "no"}, TypeError, "eos"),
])
def test_encode_argument_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        text.encode([["a"]], V, **kwargs)


def test_encode_empty_sentence_and_tuples_are_valid():
    ids, lens = text.encode([[], ("a",)], V, 3)
    assert ids.tolist() == [[V.eos, V.pad, V.pad], [V["a"], V.eos, V.pad]] and lens.tolist() == [1, 2]
    ids, lens = text.encode([[]], V, 3, eos=False)
    assert lens.tolist() == [0]


@pytest.mark.parametrize("ids,error,match", [
    ([4.0, 5.0], TypeError, r"ids\[0\] = float"),              # float ids
    (torch.tensor([4.0, 5.0]), TypeError, "dtype torch.float32"),
    (torch.tensor([True]), TypeError, "dtype torch.bool"),
    ([4, True], TypeError, r"ids\[1\] = bool"),
    ("4 5", TypeError, "single str"),
    (None, TypeError, "sequence of int ids"),
    ([[4, 5]], ValueError, "1-D"),
    (torch.zeros(2, 2, dtype=torch.long), ValueError, "1-D"),
    ([4, 7], ValueError, r"size 7, got 7 at position 1"),     # at the vocabulary size
    ([4, 2, 99], ValueError, "got 99 at position 2"),          # even after <eos>
    (torch.tensor([-1]), ValueError, "got -1 at position 0"),
])
def test_decode_bad_ids(ids, error, match):
    with pytest.raises(error, match=match):
        text.decode(ids, V)


def test_decode_valid_forms():
    assert text.decode([], V) == [] and text.decode(torch.tensor([], dtype=torch.long), V) == []
    assert text.decode([V.bos, 4, V.pad, 5, V.eos, 6], V) == ["a", "b"]
    assert text.decode([4, V.eos, 6], V, stop_at_eos=False) == ["a", "<eos>", "c"]
    assert text.decode(torch.tensor([4, 5], dtype=torch.int32), V) == ["a", "b"]
    assert text.decode([torch.tensor(4), 5], V) == ["a", "b"]
    with pytest.raises(TypeError, match="stop_at_eos"):
        text.decode([4], V, stop_at_eos=None)


# --------------------------------------------------------------------------- properties

_words = st.lists(st.sampled_from(["a", "b", "c", "zz", ",", "é"]), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(_words, min_size=1, max_size=6), st.integers(1, 16), st.booleans(), st.booleans())
def test_encode_shape_length_and_round_trip(token_lists, num_steps, bos, eos):
    ids, lens = text.encode(token_lists, V, num_steps, bos=bos, eos=eos)
    assert ids.shape == (len(token_lists), num_steps) and ids.dtype == torch.long
    for row, n, toks in zip(ids, lens.tolist(), token_lists):
        assert n == min(num_steps, len(toks) + bos + eos)
        assert (row[n:] == V.pad).all() and (row[:n] != V.pad).all()
        known = [t if t in V.token_to_idx else "<unk>" for t in toks]
        fits = len(toks) + bos + eos <= num_steps
        got = text.decode(row, V)
        assert got == (known if fits else known[: max(0, num_steps - bos)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(min_size=1, max_size=4), max_size=8), max_size=8),
       st.integers(1, 3), st.one_of(st.none(), st.integers(5, 12)))
def test_vocab_json_round_trip_and_ids(token_lists, min_freq, max_size):
    v = text.Vocab(token_lists, min_freq=min_freq, max_size=max_size)
    assert v.idx_to_token[:4] == list(text.RESERVED) and len(set(v.idx_to_token)) == len(v)
    assert max_size is None or len(v) <= max_size
    w = text.Vocab.from_json(v.to_json())
    assert w.idx_to_token == v.idx_to_token and w.token_to_idx == v.token_to_idx
    for i in range(len(v)):
        assert v[v.to_tokens(i)] == i
