"""Files that are never half-written: one atomic writer for the cache and the checkpoints.

A file is written to a temporary name beside its target (``.partial-*``),
flushed and ``fsync``-ed, given the permissions the user's umask asks for (a
temporary file is created 0600; a cache or checkpoint should not be), and only
then renamed over the target (``os.replace`` is atomic on POSIX and Windows).
After the rename the folder itself is synced where the platform allows, so a
power cut leaves either the old file or the new one, never a torn one.

A process killed between creating the temporary file and the rename leaves a
``.partial-*`` file behind; :func:`clean_partials` removes those older than an
hour (a younger one may belong to a writer that is still running).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
STALE_SECONDS = 3600.0


def _umask() -> int:
    mask = os.umask(0)
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


def clean_partials(folder, older_than: float = STALE_SECONDS) -> list:
    """Remove ``.partial-*`` files and folders in ``folder`` older than ``older_than`` seconds.

    Returns the paths removed. A missing folder is not an error.
    """
    folder = Path(folder)
    if not isinstance(older_than, (int, float)) or isinstance(older_than, bool) or not older_than >= 0:
        raise ValueError(f"older_than must be a number of seconds >= 0, got {older_than!r}")
    if not folder.is_dir():
        return []
    removed, now = [], time.time()
    for p in folder.glob(PARTIAL_PREFIX + "*"):
        try:
            if now - p.lstat().st_mtime < older_than:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
            removed.append(p)
        except FileNotFoundError:
            continue  # another process cleaned it first
    return removed


def atomic_write(path, write, *, binary: bool = True) -> Path:
    """Write ``path`` atomically: ``write(f)`` fills an open temporary file, then it is renamed.

    ``write`` receives a file object opened for writing (bytes if ``binary``,
    else UTF-8 text with ``newline=""``). Stale partial files of earlier,
    interrupted writes in the same folder are removed first.
    """
    if not callable(write):
        raise TypeError(f"write must be callable(file), got {type(write).__name__}")
    path = Path(path)
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
        os.replace(tmp, path)
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
