"""Files that are never half-written, and derived files that are checked before use.

A file is written to a temporary name beside its target (``.partial-*``),
flushed and ``fsync``-ed, given the permissions the user's umask asks for (a
temporary file is created 0600; a cache or checkpoint should not be), and only
then renamed over the target (``os.replace`` is atomic on POSIX and Windows).
After the rename the folder itself is synced where the platform allows, so a
power cut leaves either the old file or the new one, never a torn one.

A process killed between creating the temporary file and the rename leaves a
``.partial-*`` file behind; :func:`clean_partials` removes those older than an
hour (a younger one may belong to a writer that is still running). Every
write through :func:`atomic_write` cleans the folder it writes to.

A file derived from verified data (an extracted archive member, a prepared
table) gets a small *record* beside it, ``NAME.meta.json``, written atomically
after the file: its sha256, its size, optionally its number of lines, and
whatever the writer wants to tie it to (the archive it came from).
:func:`verify_record` checks a file against its record and raises
:class:`IntegrityError` (a ``ValueError``) naming the file and what is wrong;
the caller rebuilds the file. A file is hashed once per process for a given
(path, size, modification time, inode, record): verifying the same unchanged
file again costs a ``stat``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
STALE_SECONDS = 3600.0
RECORD_SUFFIX = ".meta.json"
RECORD_FORMAT = 1
_BLOCK = 1 << 20

#: (path, size, mtime_ns, inode, record bytes) of the files verified in this process.
_VERIFIED: set = set()


class IntegrityError(ValueError):
    """A derived file does not match the record beside it (or has none)."""


class MissingFileError(FileNotFoundError, ValueError):
    """A file that must exist does not (both a ``FileNotFoundError`` and a ``ValueError``)."""


def as_path(path, what: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path`; a ``TypeError`` for anything but str/PathLike."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(path).__name__} {path!r:.80}")
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{what} must be a non-empty path, got {path!r}")
    return Path(path)


def _umask() -> int:
    try:  # Linux reports the umask without changing it (thread-safe)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; its rename is durable enough
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace(src, dst) -> None:
    """``os.replace``, retried briefly on Windows, where a reader holding ``dst`` open blocks it."""
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 19:
                raise
            time.sleep(0.05 * (attempt + 1))


def _last_change(p: Path) -> float:
    """Newest modification time of ``p`` and, for a folder, of everything in it."""
    newest = p.lstat().st_mtime
    if p.is_dir() and not p.is_symlink():
        for dirpath, dirnames, filenames in os.walk(p):
            for name in dirnames + filenames:
                try:
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def clean_partials(folder, older_than: float = STALE_SECONDS) -> list:
    """Remove ``.partial-*`` files and folders in ``folder`` older than ``older_than`` seconds.

    A folder counts as old when nothing in it changed for that long (a
    download still writing into it is left alone). Returns the paths removed.
    A missing folder is not an error.
    """
    folder = as_path(folder, "folder")
    if (not isinstance(older_than, (int, float)) or isinstance(older_than, bool)
            or not math.isfinite(older_than) or older_than < 0):
        raise ValueError(f"older_than must be a finite number of seconds >= 0, got {older_than!r}")
    if not folder.is_dir():
        return []
    removed, now = [], time.time()
    for p in folder.glob(PARTIAL_PREFIX + "*"):
        try:
            if now - _last_change(p) < older_than:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except FileNotFoundError:
            continue  # another process cleaned it first
        except OSError:
            continue  # in use (Windows) or not ours to remove: leave it for a later clean
    return removed


def atomic_write(path, write, *, binary: bool = True) -> Path:
    """Write ``path`` atomically: ``write(f)`` fills an open temporary file, then it is renamed.

    ``write`` receives a file object opened for writing (bytes if ``binary``,
    else UTF-8 text with ``newline=""``). Stale partial files of earlier,
    interrupted writes in the same folder are removed first.
    """
    path = as_path(path)
    if not callable(write):
        raise TypeError(f"write must be callable(file), got {type(write).__name__}")
    if not isinstance(binary, bool):
        raise TypeError(f"binary must be a bool, got {type(binary).__name__}")
    if path.is_dir():
        raise ValueError(f"cannot write the file {path}: it is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=PARTIAL_PREFIX, suffix=path.suffix)
    try:
        mode = "wb" if binary else "w"
        kwargs = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return atomic_write(path, lambda f: f.write(text), binary=False)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return atomic_write(path, lambda f: f.write(data))


# --------------------------------------------------------------------------- hashes and records

def _existing_file(path, what: str = "path") -> Path:
    path = as_path(path, what)
    if not path.exists():
        raise MissingFileError(2, f"{what} must be an existing file, got a path with no file", str(path))
    if not path.is_file():
        raise ValueError(f"{what} must be a file, got {path} (a folder or special file)")
    return path


def file_digest(path, *, count_lines: bool = False) -> dict:
    """``{"sha256": hex, "size": bytes}`` of a file, with ``"lines"`` (newlines) if asked."""
    path = _existing_file(path)
    if not isinstance(count_lines, bool):
        raise TypeError(f"count_lines must be a bool, got {type(count_lines).__name__}")
    h, size, lines = hashlib.sha256(), 0, 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
            size += len(block)
            if count_lines:
                lines += block.count(b"\n")
    out = {"sha256": h.hexdigest(), "size": size}
    if count_lines:
        out["lines"] = lines
    return out


def sha256_file(path) -> str:
    """The sha256 (hex) of the file at ``path``."""
    return file_digest(path)["sha256"]


def record_path(path) -> Path:
    """Where the record of ``path`` lives: ``NAME.meta.json`` beside it."""
    path = as_path(path)
    return path.with_name(path.name + RECORD_SUFFIX)


def _check_fields(fields: dict) -> None:
    for key, value in fields.items():
        if key in ("file", "format", "sha256", "size", "lines"):
            raise ValueError(f"record field {key!r} is reserved; got it among the extra fields")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f"record field {key!r} must be JSON-serialisable, got "
                            f"{type(value).__name__}") from e


def _key(path: Path, st: os.stat_result, record: bytes) -> tuple:
    return (str(path.absolute()), st.st_size, st.st_mtime_ns, st.st_ino, record)


def write_record(path, *, sha256: str | None = None, lines: int | None = None, **fields) -> Path:
    """Record the finished file ``path`` beside it (atomically) and return the record's path.

    ``sha256`` may be given when the writer hashed the bytes as it wrote them
    (saving a second read); otherwise the file is hashed. ``lines`` records the
    number of newlines (checked by :func:`verify_record`). ``fields`` are
    JSON-serialisable values the file is tied to; :func:`verify_record` compares
    them with the values it is given.
    """
    path = _existing_file(path)
    _check_fields(fields)
    if lines is not None and (not isinstance(lines, int) or isinstance(lines, bool) or lines < 0):
        raise ValueError(f"lines must be None or an int >= 0, got {lines!r}")
    st = path.stat()
    if sha256 is None:
        sha256 = file_digest(path)["sha256"]
    elif not (isinstance(sha256, str) and len(sha256) == 64
              and all(c in "0123456789abcdef" for c in sha256)):
        raise ValueError(f"sha256 must be 64 lower-case hex digits, got {sha256!r}")
    meta = {"format": RECORD_FORMAT, "file": path.name, "sha256": sha256, "size": st.st_size}
    if lines is not None:
        meta["lines"] = lines
    meta.update(fields)
    text = json.dumps(meta, sort_keys=True, indent=1) + "\n"
    out = atomic_write_text(record_path(path), text)
    _VERIFIED.add(_key(path, st, text.encode("utf-8")))
    return out


def verify_record(path, **expected) -> dict:
    """Check ``path`` against its record and return the record.

    Raises :class:`IntegrityError` naming the file when it is missing, has no
    record, the record is unreadable or names other ``expected`` values, or the
    file's size, sha256 or number of lines differ from the record.
    """
    path = as_path(path)
    _check_fields(expected)
    rec = record_path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise IntegrityError(f"{path} is missing") from None
    if not path.is_file():
        raise IntegrityError(f"{path} is not a file")
    try:
        raw = rec.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{path} has no record ({rec.name} is missing)") from None
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IntegrityError(f"the record {rec} of {path} is unreadable ({type(e).__name__}: {e})") from e
    if not isinstance(meta, dict):
        raise IntegrityError(f"the record {rec} of {path} must hold a JSON object, "
                             f"got {type(meta).__name__}")
    want = {"format": RECORD_FORMAT, "file": path.name, **expected}
    wrong = {k: (v, meta.get(k)) for k, v in want.items() if meta.get(k) != v}
    if wrong:
        detail = "; ".join(f"{k}: expected {v!r}, recorded {r!r}" for k, (v, r) in sorted(wrong.items()))
        raise IntegrityError(f"the record {rec} does not describe this {path.name}: {detail}")
    sha, size, lines = meta.get("sha256"), meta.get("size"), meta.get("lines")
    if not (isinstance(sha, str) and len(sha) == 64) or not isinstance(size, int) or isinstance(size, bool) \
            or not (lines is None or (isinstance(lines, int) and not isinstance(lines, bool))):
        raise IntegrityError(f"the record {rec} of {path} is malformed: sha256={sha!r}, size={size!r}, "
                             f"lines={lines!r}")
    if st.st_size != size:
        raise IntegrityError(f"{path} has {st.st_size} bytes; its record says {size}")
    key = _key(path, st, raw)
    if key in _VERIFIED:
        return meta
    got = file_digest(path, count_lines=lines is not None)
    if got["sha256"] != sha:
        raise IntegrityError(f"{path} is damaged: sha256 {got['sha256']}, its record says {sha}")
    if lines is not None and got["lines"] != lines:
        raise IntegrityError(f"{path} has {got['lines']} lines; its record says {lines}")
    _VERIFIED.add(key)
    return meta


def forget_verified() -> None:
    """Forget which files this process has verified (the next check hashes them again)."""
    _VERIFIED.clear()
