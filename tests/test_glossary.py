"""The bilingual glossary (book/glossary.md) and the chapters' links to it.

- every entry is a ``### term`` heading followed by its Chinese term in bold, the
  chapter that introduces it and a definition; terms and anchors are unique and
  there are at least 60, covering chapters 1-14 of the syllabus;
- the table at the top lists exactly the entries, with the same Chinese terms;
- the page gives its headings anchors (``myst: heading_anchors``), and every
  glossary link in a chapter's markdown names one of them (the book build and
  tests/test_book.py then check the link in the HTML);
- chapters 1-6 link their first use of terms, at most one link per term each;
- the notebook pair is in sync.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import jupytext
import nbformat
import pytest
from myst_parser.mdit_to_docutils.base import default_slugify

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "glossary.md"
LINK = re.compile(r"\[([^\]]+)\]\(\.\./book/glossary\.(ipynb|md)(?:#([^)\s]*))?\)")
ENTRY = re.compile(r"^### ([^\n]+)\n\n\*\*([^\n*]+)\*\* · chapter (\[\d+\]\([^)\n]*\)|\d+)\n\n"
                   r"([^\n].*?)(?=\n###|\Z)",
                   re.M | re.S)
ROW = re.compile(r"^\| \[(.+?)\]\(#([^)]+)\) \| (.+?) \| (.+?) \|$", re.M)
CHAPTER_SOURCES = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))


def is_cjk(text: str) -> bool:
    return any("CJK" in unicodedata.name(ch, "") for ch in text)


def entries(text: str) -> list:
    """(term, chinese, chapter number, definition) for every entry of the page."""
    out = []
    for m in ENTRY.finditer(text):
        number = int(re.match(r"\[?(\d+)", m.group(3)).group(1))
        out.append((m.group(1).strip(), m.group(2).strip(), number, m.group(4).strip()))
    return out


def markdown_of(md_path: Path) -> str:
    return "\n".join(c.source for c in jupytext.read(md_path).cells if c.cell_type == "markdown")


@pytest.fixture(scope="module")
def page():
    return PAGE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def glossary(page):
    return entries(page)


def test_every_heading_is_a_well_formed_entry(page, glossary):
    headings = re.findall(r"^### (.+)$", page, re.M)
    assert len(headings) == len(glossary), (
        "some entries do not read '### term', a blank line, '**中文** · chapter N', a blank "
        f"line, a definition: {sorted(set(headings) - {e[0] for e in glossary})}")


def test_entries_are_unique_bilingual_and_cover_the_syllabus(glossary):
    assert len(glossary) >= 60, len(glossary)
    terms = [e[0].lower() for e in glossary]
    assert len(terms) == len(set(terms)), sorted({t for t in terms if terms.count(t) > 1})
    slugs = [default_slugify(e[0]) for e in glossary]
    assert len(slugs) == len(set(slugs)), "two terms share an anchor"
    chinese = [e[1] for e in glossary]
    assert len(chinese) == len(set(chinese)), sorted({c for c in chinese if chinese.count(c) > 1})
    for term, zh, number, definition in glossary:
        assert re.search(r"[A-Za-z]", term) and not is_cjk(term), \
            f"{term!r}: the heading must be the English term"
        assert is_cjk(zh), f"{term}: {zh!r} is not Chinese"
        assert 1 <= number <= 14, (term, number)
        assert len(definition) >= 40 and definition.endswith((".", ")")), (term, definition)
    assert set(range(1, 15)) <= {e[2] for e in glossary}, "every syllabus chapter has terms"
    for term, zh in [("self-attention", "自注意力"), ("multi-head attention", "多头注意力"),
                     ("masked language model", "掩码语言模型"), ("in-context learning", "上下文学习")]:
        assert (term, zh) in {(e[0], e[1]) for e in glossary}, term


def test_the_table_lists_exactly_the_entries(page, glossary):
    rows = ROW.findall(page)
    assert sorted((r[0], r[2]) for r in rows) == sorted((e[0], e[1]) for e in glossary)
    for name, anchor, _, _ in rows:
        assert anchor == default_slugify(name), (name, anchor)
    assert [r[0].lower() for r in rows] == sorted(r[0].lower() for r in rows), "table not sorted"


def test_the_page_has_heading_anchors_and_its_pair_is_in_sync():
    nb = nbformat.read(PAGE.with_suffix(".ipynb"), as_version=4)
    assert nb.metadata.get("myst", {}).get("heading_anchors", 0) >= 3, \
        "book/glossary.md must set myst: heading_anchors: 3 (the chapters link to the headings)"
    text = jupytext.read(PAGE)
    assert [c.source.strip() for c in nb.cells] == [c.source.strip() for c in text.cells], \
        "run: jupytext --to ipynb --update book/glossary.md"
    assert not any(c.cell_type == "code" for c in nb.cells)


def test_every_glossary_link_in_a_chapter_names_an_entry(glossary):
    anchors = {default_slugify(e[0]) for e in glossary}
    bad = []
    for md in CHAPTER_SOURCES:
        for text, ext, anchor in LINK.findall(markdown_of(md)):
            if ext != "ipynb":
                bad.append(f"{md.name}: [{text}] links glossary.{ext}; the book has glossary.ipynb")
            elif not anchor:
                bad.append(f"{md.name}: [{text}] links the glossary without an anchor")
            elif anchor not in anchors:
                bad.append(f"{md.name}: [{text}] -> #{anchor}, which is no entry of the glossary")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("md", CHAPTER_SOURCES, ids=lambda p: p.name)
def test_chapters_link_the_first_use_of_their_terms(md):
    text = markdown_of(md)
    anchors = [a for _, _, a in LINK.findall(text)]
    assert len(anchors) >= 10, f"{md.name} links only {len(anchors)} glossary terms"
    assert len(anchors) == len(set(anchors)), \
        f"{md.name} links a term more than once: {sorted({a for a in anchors if anchors.count(a) > 1})}"
    # "first use": the linked words do not occur in an earlier paragraph of the chapter
    plain = LINK.sub(lambda m: "\0" * len(m.group(0)), text)
    for m in LINK.finditer(text):
        words = re.sub(r"\s+", " ", m.group(1)).lower()
        before = re.sub(r"^#.*$", " ", plain[:m.start()], flags=re.M)  # headings do not count
        before = re.sub(r"\s+", " ", before).lower()
        before = re.sub(r"`[^`]*`|\$[^$]*\$|\"[^\"]*\"", " ", before)
        assert not re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", before), \
            f"{md.name}: '{m.group(1)}' is linked, but the words occur earlier in the chapter"


def test_the_link_pattern_catches_wrong_links():
    sample = ("see [heads](../book/glossary.ipynb#attention-head), [x](../book/glossary.md#x) "
              "and [y](../book/glossary.ipynb)")
    assert LINK.findall(sample) == [("heads", "ipynb", "attention-head"), ("x", "md", "x"),
                                    ("y", "ipynb", "")]
    assert entries("### term\n\n**术语** · chapter 3\n\nA definition long enough to count "
                   "as one, really.\n") == [("term", "术语", 3, "A definition long enough to count "
                                             "as one, really.")]
    assert not entries("### term\n\n**term** chapter 3\n\nno dot")
    assert default_slugify("zero-shot, one-shot and few-shot") == "zero-shot-one-shot-and-few-shot"
