"""d2lt.tasks: the course's translation tasks, their invariants and their bad inputs."""
import dataclasses

import pytest
import torch

import d2lt
from d2lt import seq2seq, tasks, text

PAIRS = [("one two", "un deux"), ("two three", "deux trois"), ("three", "trois"), ("one", "un")]


def _task(**kw):
    return tasks.translation_task(PAIRS, PAIRS[:2], **{"min_freq": 1, **kw})


# ----------------------------------------------------------------- translation_task

def test_translation_task_builds_vocabularies_on_the_training_side():
    task = _task()
    assert task.src_steps == 3 and task.tgt_steps == 3  # the longest sentence (2 tokens) + <eos>
    assert len(task.train) == len(task.train_pairs) == 4
    assert task.src_vocab["two"] != task.src_vocab.unk and task.tgt_vocab["trois"] != task.tgt_vocab.unk
    assert task.settings()["src_vocab"] == len(task.src_vocab)
    fixed = _task(src_steps=6, tgt_steps=5)
    assert fixed.train.src.shape == (4, 6) and fixed.train.tgt.shape == (4, 5)
    # pairs may carry more than (source, target), as data.number_pairs does
    assert len(tasks.translation_task([p + (i,) for i, p in enumerate(PAIRS)], PAIRS, min_freq=1).train) == 4


@pytest.mark.parametrize("train, test, exc, match", [
    ("one two", PAIRS, TypeError, r"train_pairs must be a list of \(source, target\).*str"),
    (PAIRS, "un deux", TypeError, r"test_pairs must be a list"),
    ([], PAIRS, ValueError, "train_pairs is empty"),
    (PAIRS, [], ValueError, "test_pairs is empty"),
    (["one two"], PAIRS, TypeError, r"train_pairs\[0\] must be a \(source, target"),
    ([("one two",)], PAIRS, TypeError, r"train_pairs\[0\] must be a \(source, target"),
    (PAIRS + [("four", 4)], PAIRS, TypeError, r"train_pairs\[4\] must start with two strings.*\(str, int\)"),
    (PAIRS, [(None, "x")], TypeError, r"test_pairs\[0\] must start with two strings"),
    ((p for p in PAIRS), PAIRS, TypeError, "train_pairs must be a list.*generator"),
    ({"one": "un"}, PAIRS, TypeError, "train_pairs must be a list.*dict"),
])
def test_translation_task_refuses_malformed_pairs(train, test, exc, match):
    with pytest.raises(exc, match=match):
        tasks.translation_task(train, test, min_freq=1)


@pytest.mark.parametrize("kw, exc, match", [
    ({"src_steps": 0}, ValueError, r"src_steps must be an int >= 1, got 0"),   # 0 used to mean "from the data"
    ({"tgt_steps": -3}, ValueError, r"tgt_steps must be an int >= 1, got -3"),
    ({"src_steps": 2.5}, TypeError, r"src_steps must be an int.*float 2.5"),
    ({"tgt_steps": "8"}, TypeError, r"tgt_steps must be an int.*str '8'"),
    ({"min_freq": 0}, ValueError, "min_freq"),
    ({"max_vocab": 2}, ValueError, "max_size"),
])
def test_translation_task_refuses_bad_sizes(kw, exc, match):
    with pytest.raises(exc, match=match):
        _task(**kw)


# ------------------------------------------------------------- TranslationTask invariants

def test_translation_task_invariants():
    task = _task()
    assert task.check() is task
    with pytest.raises(ValueError, match="train has 4 rows but there are 3 train_pairs"):
        dataclasses.replace(task, train_pairs=PAIRS[:3])
    with pytest.raises(ValueError, match=r"5 source and 3 target steps.*src \(4, 3\)"):
        dataclasses.replace(task, src_steps=5)
    with pytest.raises(TypeError, match="src_vocab must be a d2lt.text.Vocab.*dict"):
        dataclasses.replace(task, src_vocab={"a": 1})
    with pytest.raises(TypeError, match="train must be a d2lt.seq2seq.PairTensors.*tuple"):
        dataclasses.replace(task, train=(task.train.src, task.train.tgt))
    with pytest.raises(ValueError, match=r"src_steps must be an int >= 1, got 0"):
        dataclasses.replace(task, src_steps=0)
    small = text.Vocab([["un"]])  # too small for the target ids of the task
    with pytest.raises(ValueError, match=r"train.dec_in holds ids outside \[0, 4\]"):
        dataclasses.replace(task, tgt_vocab=small)
    task.test_pairs = "un deux"  # edited by hand: check() finds it
    with pytest.raises(TypeError, match="test_pairs must be a list"):
        task.check()


def test_fingerprint_tokens():
    assert tasks.fingerprint_tokens(["a", "b"]) == tasks.fingerprint_tokens(("a", "b"))
    assert tasks.fingerprint_tokens(["a", "b"]) != tasks.fingerprint_tokens(["b", "a"])
    assert len(tasks.fingerprint_tokens([])) == 12
    with pytest.raises(TypeError, match="tokens must be a list of str, got str 'ab'"):
        tasks.fingerprint_tokens("ab")  # would hash the characters
    with pytest.raises(TypeError, match=r"tokens\[1\] must be a str, got int 3"):
        tasks.fingerprint_tokens(["a", 3])


# ------------------------------------------------------------------------ verse task

@pytest.mark.parametrize("limit, exc, match", [
    (0, ValueError, r"limit must be an int >= 1, got 0"),
    (-5, ValueError, r"limit must be an int >= 1, got -5"),
    (2.5, TypeError, r"limit must be an int.*float 2.5"),
    ("100", TypeError, r"limit must be an int.*str '100'"),
    (True, TypeError, r"limit must be an int.*bool True"),
])
def test_verse_task_limit_is_checked_before_loading(limit, exc, match, monkeypatch):
    from d2lt import data
    monkeypatch.setattr(data, "load_verses", lambda *a, **k: pytest.fail("loaded data for a bad limit"))
    with pytest.raises(exc, match=match):
        tasks.verse_task(limit=limit)


def test_verse_task_refuses_unknown_settings(monkeypatch):
    from d2lt import data
    monkeypatch.setattr(data, "load_verses", lambda *a, **k: pytest.fail("loaded data for a bad setting"))
    with pytest.raises(TypeError, match=r"unknown settings \['max_word'\].*'max_words'"):
        tasks.verse_task(max_word=10)  # a typo must not silently fall back to the default


@pytest.fixture
def fake_verses(monkeypatch):
    """``data.load_verses`` replaced by 60 training and 10 test verses (no data needed)."""
    from types import SimpleNamespace

    from d2lt import data
    words = "in the beginning god created heaven and earth light was good".split()
    g = torch.Generator().manual_seed(0)

    def verse(i):
        idx = torch.randint(0, len(words), (int(torch.randint(1, 8, (1,), generator=g)),), generator=g)
        s = " ".join(words[j] for j in idx.tolist())
        return SimpleNamespace(src=f"{s} {i}", tgt=f"{s.upper()} {i}")
    split = {"train": [verse(i) for i in range(60)], "test": [verse(i) for i in range(10)]}
    calls = []

    def load_verses(src, tgt, which, max_words):
        calls.append((src, tgt, which, max_words))
        return split[which]
    monkeypatch.setattr(data, "load_verses", load_verses)
    return calls


def test_verse_task_limit_keeps_pairs_and_tensors_together(fake_verses):
    full = tasks.verse_task()
    assert fake_verses[-1] == ("web", "lsg", "test", 25) and len(full.train) == 60
    task = tasks.verse_task(limit=40)
    assert len(task.train) == len(task.train_pairs) == 40
    assert task.src_vocab.idx_to_token == full.src_vocab.idx_to_token  # the whole split's vocabulary
    again = seq2seq.pair_tensors(task.train_pairs, task.src_vocab, task.tgt_vocab, task.src_steps, task.tgt_steps)
    for name in ("src", "src_len", "dec_in", "tgt", "tgt_len"):
        assert torch.equal(getattr(again, name), getattr(task.train, name)), name  # row i is pair i
    assert len(set(task.train_pairs)) == 40 and set(task.train_pairs) <= set(full.train_pairs)
    assert tasks.verse_task(limit=40).train_pairs == task.train_pairs  # a fixed subset
    assert len(tasks.verse_task(limit=10**9).train) == 60  # more than there are: all of them
    assert tasks.verse_task(max_words=10) and fake_verses[-1][-1] == 10  # a known setting is passed on


def test_verse_model_checks_kind_and_task():
    task = _task()
    for kind, decoder in (("gru", seq2seq.Seq2SeqDecoder), ("attention", d2lt.bahdanau.Seq2SeqAttentionDecoder)):
        model, config, path = tasks.verse_model(kind, task)
        assert type(model.decoder) is decoder and path.name == tasks.VERSE_CHECKPOINTS[kind]
        assert config["num_hiddens"] == 256 and config["vocab_hash"] == task.settings()["vocab_hash"]
    with pytest.raises(ValueError, match=r"kind must be one of \['attention', 'gru'\], got 'lstm'"):
        tasks.verse_model("lstm", task)
    with pytest.raises(TypeError, match="kind must be a str.*int 1"):
        tasks.verse_model(1, task)
    with pytest.raises(TypeError, match="kind must be a str.*list"):
        tasks.verse_model(["gru"], task)  # unhashable: not a KeyError from the lookup
    with pytest.raises(TypeError, match="task must be a d2lt.tasks.TranslationTask.*NoneType"):
        tasks.verse_model("gru", None)


# ------------------------------------------------------------------------ number task

def test_number_task_keeps_test_numbers_out_of_training():
    task = tasks.number_task(d2lt.Profile("ci"))
    assert not {p[2] for p in task.test_pairs} & {p[2] for p in task.train_pairs}
    assert len(task.test_pairs) > 500
    assert task.check() is task


@pytest.mark.parametrize("profile", ["ci", None, 1, {"name": "ci"}])
def test_number_task_wants_a_profile(profile):
    with pytest.raises(TypeError, match="profile must be a d2lt.Profile"):
        tasks.number_task(profile)
