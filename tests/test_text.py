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
