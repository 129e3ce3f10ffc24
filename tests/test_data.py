import os
from pathlib import Path

import pytest

from d2lt import data


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
