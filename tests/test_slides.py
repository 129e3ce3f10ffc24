"""`make slides` (scripts/build_slides.py): reveal.js decks of the chapters, offline.

One chapter's deck is built from its stored notebook into a temporary folder
(a couple of seconds) and checked: one slide per ``#``/``##`` heading, a
sub-slide per ``###``, nothing loaded from the network (HTML and the copied
stylesheets), every local file it loads is there, formulas typeset by a local
MathJax, reveal.js initialised from the copy.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from test_book import Page, css_refs, is_local_file_ref, is_network

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_slides  # noqa: E402

CHAPTER = ROOT / "chapters" / "01_seq2seq_rnn.ipynb"


def _headings(nb, level):
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for piece in build_slides.split_markdown(cell.source):
            m = build_slides.HEADING.match(piece)
            n += bool(m and len(m.group(1)) in level)
    return n


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    decks = build_slides.build([CHAPTER], out, stored=True)
    assert decks == [out / f"{CHAPTER.stem}.slides.html"]
    return out, decks[0]


def test_one_slide_per_section_and_a_subslide_per_subsection(deck):
    _, path = deck
    text = path.read_text(encoding="utf-8")
    nb = nbformat.read(CHAPTER, as_version=4)
    sections = _headings(nb, (1, 2))
    subsections = _headings(nb, (3,))
    assert sections >= 8 and subsections >= 1, (sections, subsections)
    # reveal.js: a horizontal slide is an outer <section> holding one <section> per
    # sub-slide; each slide here opens with its heading.
    outer = re.findall(r"<section>\s*<section>", text)
    assert len(outer) == sections, (len(outer), sections)
    assert text.count("<section") == sections * 2 + subsections
    for title in ("1.1 Real translation pairs", "1.6 BLEU", "Summary"):
        assert title in text, title


def test_the_deck_loads_nothing_from_the_network_and_finds_every_file(deck):
    out, path = deck
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    assert page.loads, "the deck loads nothing: the check would prove nothing"
    remote = [url for _, _, url in page.loads if is_network(url)]
    assert not remote, f"the slides load from the network: {remote}"
    missing = [url for _, _, url in page.loads
               if is_local_file_ref(url) and not (path.parent / url.split("#")[0]).is_file()]
    assert not missing, f"the slides load files that were not copied: {missing}"
    scripts = set(page.scripts)
    assert {"reveal.js/dist/reveal.js", "mathjax/tex-svg.js"} <= scripts, scripts
    for style in page.styles:
        assert not [u for u in css_refs(style) if is_network(u)], style[:200]
    sheets = sorted(out.rglob("*.css"))
    assert sheets
    bad = [(css.name, u) for css in sheets
           for u in css_refs(css.read_text(encoding="utf-8", errors="replace"))
           if is_network(u) or (is_local_file_ref(u) and not (css.parent / u.split("?")[0]
                                                                .split("#")[0]).exists())]
    assert not bad, f"stylesheets load from the network or miss files: {bad[:10]}"
    text = path.read_text(encoding="utf-8")
    assert "Reveal.initialize" in text and "require(" not in text
    assert "unpkg.com" not in text and "cdnjs" not in text and "cdn.jsdelivr" not in text


def test_images_are_embedded_and_math_is_left_for_mathjax(deck):
    _, path = deck
    text = path.read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in text, "the chapter's diagram is not embedded"
    assert "$" in text or "\\(" in text


def test_the_split_is_made_at_headings_outside_code():
    src = "intro\n## A\ntext\n```\n## not a heading\n```\n### B\nmore"
    assert build_slides.split_markdown(src) == [
        "intro", "## A\ntext\n```\n## not a heading\n```", "### B\nmore"]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# T\nfirst\n## S\nsee [the glossary]"
                                      "(../book/glossary.md#gl-bleu)"),
        nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("   "),
        nbformat.v4.new_markdown_cell("### Sub\nz")])
    slides = build_slides.to_slides(nb)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in slides.cells]
    assert kinds == ["slide", "slide", "-", "subslide"], kinds
    assert slides.cells[1].source == "## S\nsee the glossary", slides.cells[1].source
    assert "slideshow" not in nb.cells[0].metadata, "the source notebook was modified"


def test_toc_chapters_reads_flat_and_part_tables_of_contents(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "chapters").mkdir(exist_ok=True)
        (tmp_path / "chapters" / f"{name}.ipynb").write_text("{}")
    flat = tmp_path / "flat.yml"
    flat.write_text("root: intro\nchapters:\n  - file: chapters/a.ipynb\n"
                    "  - file: book/glossary.ipynb\n  - file: chapters/b\n")
    parts = tmp_path / "parts.yml"
    parts.write_text("root: intro\nparts:\n  - caption: Chapters\n    chapters:\n"
                     "      - file: chapters/b.ipynb\n        sections:\n"
                     "          - file: chapters/a.ipynb\n  - caption: Teachers\n"
                     "    chapters:\n      - file: book/glossary.md\n")
    names = lambda toc: [p.name for p in build_slides.toc_chapters(toc)]  # noqa: E731
    assert names(flat) == ["a.ipynb", "b.ipynb"]
    assert names(parts) == ["b.ipynb", "a.ipynb"]
    assert [p.name for p in build_slides.toc_chapters()][:1] == [CHAPTER.name]


def test_a_missing_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such"):
        build_slides.build([tmp_path / "no_such.ipynb"], tmp_path / "out")


# `make lab` and the teaching pages: the other Makefile entry points of the kit.

@pytest.mark.parametrize("page", ["START.md", "book/instructor_guide.md", "book/quizzes.md",
                                  "book/glossary.md"])
def test_teaching_pages_are_paired_and_their_links_resolve(page):
    import jupytext
    md = ROOT / page
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    assert [c.source.strip() for c in nb.cells] == \
        [c.source.strip() for c in jupytext.read(md).cells], \
        f"{page} and its .ipynb differ: jupytext --to ipynb --update {page}"
    assert not any(c.cell_type == "code" for c in nb.cells)
    text = md.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+\.(?:ipynb|md))(?:#[^)]*)?\)", text):
        assert (md.parent / target).is_file(), f"{page} links {target}, which does not exist"


def test_make_lab_opens_the_start_page_and_make_slides_builds_the_decks():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lab = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "jupyter lab" in lab and "START.ipynb" in lab
    slides = re.search(r"^slides:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "scripts/build_slides.py" in slides and "_build/slides" in slides
    start = (ROOT / "START.md").read_text(encoding="utf-8")
    for words in ("chapters/01_seq2seq_rnn.ipynb", "D2LT_PROFILE", "exercises/", "check"):
        assert words in start, words
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for page in ("book/instructor_guide.ipynb", "book/quizzes.ipynb", "book/glossary.ipynb"):
        assert page in toc, page
    intro = (ROOT / "book_intro.md").read_text(encoding="utf-8")
    for page in ("book/instructor_guide.ipynb", "book/quizzes.ipynb", "book/glossary.ipynb"):
        assert f"]({page})" in intro, page
