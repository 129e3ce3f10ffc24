"""The atomic writer and the records of derived files: bad inputs, faults, killed writers."""
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2lt import files

FILES_PY = str(Path(files.__file__).resolve())


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    """Each test starts like a new process: nothing verified yet."""
    monkeypatch.setattr(files, "_VERIFIED", set())


def _partials(folder: Path) -> list:
    return sorted(p.name for p in folder.glob(files.PARTIAL_PREFIX + "*"))


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


# --------------------------------------------------------------------------- atomic writes

def test_atomic_write_writes_and_leaves_no_partial(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    assert files.atomic_write_text(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode("utf-8")
    files.atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _partials(target.parent) == []


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_write_honours_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert files._umask() == mask
        path = files.atomic_write_bytes(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def half(f):
        f.write("new, but")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.atomic_write(target, half, binary=False)
    assert target.read_text() == "old" and _partials(tmp_path) == []


@pytest.mark.parametrize("path", [None, 3, 2.5, True, b"a.txt", ["a.txt"], "", "   "])
def test_atomic_write_refuses_bad_paths(tmp_path, path):
    with pytest.raises((TypeError, ValueError), match="path must be"):
        files.atomic_write_bytes(path, b"x")


def test_atomic_write_refuses_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="write must be callable"):
        files.atomic_write(tmp_path / "a", b"x")
    with pytest.raises(TypeError, match="binary must be a bool"):
        files.atomic_write(tmp_path / "a", lambda f: None, binary="no")
    with pytest.raises(ValueError, match="is a folder"):
        files.atomic_write_bytes(tmp_path, b"x")
    with pytest.raises(TypeError, match="text must be a str"):
        files.atomic_write_text(tmp_path / "a", b"bytes")
    with pytest.raises(TypeError, match="data must be bytes"):
        files.atomic_write_bytes(tmp_path / "a", "text")
    assert not (tmp_path / "a").exists()


# Subprocesses load d2lt/files.py on its own (it imports nothing from d2lt): no torch to import.
_LOAD_FILES = textwrap.dedent("""
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("d2lt_files", sys.argv[1])
    files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(files)
    del sys.argv[1]
""")

_KILLED_WRITER = _LOAD_FILES + textwrap.dedent("""
    import time
    from pathlib import Path

    target, ready = Path(sys.argv[1]), Path(sys.argv[2])

    def write(f):
        f.write(b"n" * (1 << 20))
        f.flush()
        ready.write_text("writing")
        time.sleep(120)  # killed here, in the middle of the write

    files.atomic_write(target, write)
""")


def _start_killable_writer(target: Path, ready: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, FILES_PY, str(target), str(ready)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"the writer exited early: {proc.communicate()[1].decode()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail("the writer did not start writing within 120 s")
        time.sleep(0.05)
    return proc


def test_a_writer_killed_mid_write_leaves_the_old_file_and_a_partial_that_is_cleaned(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "weights.bin"
    target.write_bytes(b"old weights")
    proc = _start_killable_writer(target, tmp_path / "ready")
    proc.kill()  # portable: SIGKILL on POSIX, TerminateProcess on Windows
    proc.communicate()
    assert proc.returncode != 0
    assert target.read_bytes() == b"old weights"  # never torn
    left = list(folder.glob(files.PARTIAL_PREFIX + "*"))
    assert len(left) == 1 and left[0].stat().st_size == 1 << 20
    assert files.clean_partials(folder) == []  # young: it could belong to a live writer
    _age(left[0], 2 * files.STALE_SECONDS)
    files.atomic_write_bytes(folder / "other.bin", b"y")  # any write in the folder cleans it
    assert _partials(folder) == [] and target.read_bytes() == b"old weights"


def test_two_writers_of_one_file_leave_one_whole_version(tmp_path):
    target = tmp_path / "t.bin"
    script = _LOAD_FILES + textwrap.dedent("""
        for _ in range(8):
            files.atomic_write_bytes(sys.argv[1], sys.argv[2].encode() * 100_000)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, FILES_PY, str(target), c]) for c in "ab"]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    assert target.read_bytes() in (b"a" * 100_000, b"b" * 100_000)
    assert _partials(tmp_path) == []


# --------------------------------------------------------------------------- clean_partials

def test_clean_partials_removes_only_stale_partials(tmp_path):
    young = tmp_path / ".partial-young"
    young.write_bytes(b"1")
    old = tmp_path / ".partial-old"
    old.write_bytes(b"2")
    _age(old, 7200)
    old_dir = tmp_path / ".partial-olddir"
    (old_dir / "inner").mkdir(parents=True)
    (old_dir / "inner" / "f").write_bytes(b"3")
    _age(old_dir / "inner" / "f", 7200)
    _age(old_dir / "inner", 7200)
    _age(old_dir, 7200)
    busy_dir = tmp_path / ".partial-busy"  # an old folder a download is still writing into
    busy_dir.mkdir()
    (busy_dir / "pkg.whl").write_bytes(b"4")
    _age(busy_dir, 7200)
    keep = tmp_path / "keep.txt"
    keep.write_text("x")
    _age(keep, 7200)
    removed = files.clean_partials(tmp_path)
    assert sorted(p.name for p in removed) == [".partial-old", ".partial-olddir"]
    assert young.exists() and keep.exists() and busy_dir.exists() and not old_dir.exists()
    assert files.clean_partials(tmp_path / "missing") == []
    assert {p.name for p in files.clean_partials(tmp_path, older_than=0)} == {".partial-young",
                                                                             ".partial-busy"}


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "60", True, None])
def test_clean_partials_refuses_bad_ages(tmp_path, bad):
    with pytest.raises(ValueError, match="older_than must be a finite number"):
        files.clean_partials(tmp_path, older_than=bad)


def test_clean_partials_refuses_bad_folders():
    with pytest.raises(TypeError, match="folder must be a str or os.PathLike"):
        files.clean_partials(3)
    with pytest.raises(TypeError, match="folder must be"):
        files.clean_partials(["a"])


# --------------------------------------------------------------------------- hashes and records

def test_file_digest_and_its_errors(tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"a\nb\nc")
    d = files.file_digest(f, count_lines=True)
    assert d == {"sha256": files.sha256_file(f), "size": 5, "lines": 2}
    with pytest.raises(files.MissingFileError, match="existing file") as e:
        files.file_digest(tmp_path / "nope")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, ValueError)
    assert str(tmp_path / "nope") in str(e.value)
    with pytest.raises(ValueError, match="must be a file"):
        files.file_digest(tmp_path)
    with pytest.raises(TypeError, match="path must be a str"):
        files.file_digest(None)


def _recorded(tmp_path, data=b"line 1\nline 2\n", **fields):
    f = tmp_path / "table.tsv"
    f.write_bytes(data)
    files.write_record(f, lines=data.count(b"\n"), **fields)
    files.forget_verified()  # as a later process would see it
    return f


def test_a_record_verifies_its_file(tmp_path):
    f = _recorded(tmp_path, source="x==1")
    meta = files.verify_record(f, source="x==1")
    assert meta["size"] == f.stat().st_size and meta["lines"] == 2 and meta["file"] == "table.tsv"
    rec = json.loads(files.record_path(f).read_text())
    assert rec == meta and files.record_path(f).name == "table.tsv.meta.json"


def test_an_unchanged_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    f = _recorded(tmp_path)
    calls = []
    real = files.file_digest
    monkeypatch.setattr(files, "file_digest", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(3):
        files.verify_record(f)
    assert len(calls) == 1
    files.forget_verified()
    files.verify_record(f)
    assert len(calls) == 2
    f.write_bytes(b"line 1\nline 3\n")  # same size, new content: a new mtime/inode
    _age(f, -5)
    with pytest.raises(files.IntegrityError, match="damaged"):
        files.verify_record(f)


@pytest.mark.parametrize("fault", ["truncate_line", "flip_byte", "append", "delete_file", "delete_record",
                                   "bad_json", "not_object", "edit_sha", "edit_size", "edit_lines",
                                   "other_name", "wrong_source", "no_sha"])
def test_every_fault_is_detected_and_names_the_file(tmp_path, fault):
    f = _recorded(tmp_path, source="x==1")
    rec = files.record_path(f)
    meta = json.loads(rec.read_text())
    edit = dict(meta)
    if fault == "truncate_line":
        f.write_bytes(b"line 1\n")
    elif fault == "flip_byte":
        data = bytearray(f.read_bytes())
        data[3] ^= 0x01
        f.write_bytes(bytes(data))
    elif fault == "append":
        f.write_bytes(f.read_bytes() + b"line 3\n")
    elif fault == "delete_file":
        f.unlink()
    elif fault == "delete_record":
        rec.unlink()
    elif fault == "bad_json":
        rec.write_text("{not json")
    elif fault == "not_object":
        rec.write_text("[1, 2]")
    elif fault == "edit_sha":
        edit["sha256"] = "0" * 64
    elif fault == "edit_size":
        edit["size"] += 1
    elif fault == "edit_lines":
        edit["lines"] = 1
    elif fault == "other_name":
        edit["file"] = "other.tsv"
    elif fault == "no_sha":
        del edit["sha256"]
    if edit != meta:
        rec.write_text(json.dumps(edit))
    expected = {"source": "x==2"} if fault == "wrong_source" else {"source": "x==1"}
    with pytest.raises(files.IntegrityError) as e:
        files.verify_record(f, **expected)
    assert "table.tsv" in str(e.value)


def test_write_record_refuses_bad_input(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x")
    with pytest.raises(files.MissingFileError):
        files.write_record(tmp_path / "missing")
    with pytest.raises(ValueError, match="sha256 must be 64"):
        files.write_record(f, sha256="abc")
    with pytest.raises(ValueError, match="lines must be"):
        files.write_record(f, lines=-1)
    with pytest.raises(ValueError, match="reserved"):
        files.write_record(f, size=3)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        files.write_record(f, source=object())
    assert not files.record_path(f).exists()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=2000), where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_changed_byte_is_detected(tmp_path, data, where, bit):
    f = tmp_path / "blob.bin"
    files.atomic_write_bytes(f, data)
    files.write_record(f)
    files.forget_verified()
    assert files.verify_record(f)["size"] == len(data)
    changed = bytearray(data)
    changed[where % len(data)] ^= 1 << bit
    f.write_bytes(bytes(changed))
    files.forget_verified()
    with pytest.raises(files.IntegrityError, match="damaged"):
        files.verify_record(f)
