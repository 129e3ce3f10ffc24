"""The chapter quizzes (quizzes/chNN.yml) are well formed, keyed right and in the book.

- every chapter of the book (``_toc.yml``) and every chapter notebook under
  ``chapters/`` has a quiz, and every quiz belongs to an existing chapter;
- each quiz is well formed (``quizlib.problems``): 5-8 questions, ids unique
  over all quizzes, exactly one key per question, every option explained;
- where a question has a computable answer, its code is run (with ``d2lt``
  and, where it says so, the solution's functions) and the keyed option must
  hold the computed value and no distractor may;
- the book's quiz page is the rendering of the quizzes (and its notebook pair
  is in sync).
The checks themselves are shown to reject malformed and wrongly keyed quizzes.
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from helpers import solution_namespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "quizzes"))
import quizlib  # noqa: E402

FILES = quizlib.quiz_files()
QUIZZES = {p.name: quizlib.load(p) for p in FILES}


def _toc_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    entries = list(toc.get("chapters", []) or [])
    for part in toc.get("parts", []) or []:
        entries += part.get("chapters", []) or []
    out = set()
    while entries:
        e = entries.pop()
        entries += e.get("sections", []) or []
        if str(e.get("file", "")).startswith("chapters/"):
            out.add(Path(e["file"]).with_suffix(".ipynb").as_posix())
    return out


def _chapters():
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")}
    return sorted(on_disk | _toc_chapters())


@pytest.fixture(scope="module")
def namespaces():
    cache = {}

    def get(quiz):
        stem = Path(quiz["chapter"]).stem
        if stem not in cache:
            cache[stem] = {**quizlib.base_namespace(), "sol": solution_namespace(stem)}
        return cache[stem]
    return get


def test_there_are_quizzes():
    assert len(FILES) >= 6, [p.name for p in FILES]


@pytest.mark.parametrize("chapter", _chapters())
def test_every_chapter_has_a_quiz(chapter):
    number = re.match(r"chapters/(\d\d)_", chapter).group(1)
    name = f"ch{number}.yml"
    assert name in QUIZZES, (f"{chapter} has no quiz: add quizzes/{name} (see quizzes/quizlib.py) "
                             "and run `python quizzes/quizlib.py`")
    assert QUIZZES[name]["chapter"] == chapter, (name, QUIZZES[name]["chapter"])


@pytest.mark.parametrize("name", sorted(QUIZZES))
def test_quiz_is_well_formed(name):
    assert quizlib.problems(QUIZZES[name], name) == []


def test_question_ids_are_unique_over_all_quizzes():
    ids = [q["id"] for quiz in QUIZZES.values() for q in quiz["questions"]]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def _computed():
    return [(name, q) for name, quiz in sorted(QUIZZES.items()) for q in quiz["questions"]
            if "compute" in q]


def check_key(quiz, q, namespace):
    """The keyed option holds the computed value; no other option does."""
    result = quizlib.evaluate(q, namespace)
    tol = q.get("tolerance")
    key = q["answer"]
    assert quizlib.same(q["options"][key]["value"], result, tol), \
        f"{q['id']}: the key {key} says {q['options'][key]['value']!r}, the computation gives {result!r}"
    wrong = [oid for oid, opt in q["options"].items()
             if oid != key and quizlib.same(opt["value"], result, tol)]
    assert not wrong, f"{q['id']}: options {wrong} also hold the computed value {result!r}"


@pytest.mark.parametrize("name,question", _computed(), ids=[q["id"] for _, q in _computed()])
def test_computed_answers_are_the_keyed_ones(name, question, namespaces):
    quiz = QUIZZES[name]
    if not question.get("uses_solution"):
        ns = quizlib.base_namespace()
        assert "sol" not in ns
    else:
        ns = namespaces(quiz)
    check_key(quiz, question, ns)


def test_the_book_page_is_the_rendering_of_the_quizzes():
    page = quizlib.PAGE
    expected = quizlib.render([QUIZZES[p.name] for p in FILES])
    assert page.read_text(encoding="utf-8") == expected, \
        "book/quizzes.md is stale: run `python quizzes/quizlib.py`"
    nb = nbformat.read(page.with_suffix(".ipynb"), as_version=4)
    text = jupytext.read(page)
    assert [c.source.strip() for c in nb.cells] == [c.source.strip() for c in text.cells], \
        "book/quizzes.ipynb differs from book/quizzes.md: run `python quizzes/quizlib.py`"
    body = page.read_text(encoding="utf-8")
    in_book = [q for q in QUIZZES.values() if q["chapter"] in quizlib.book_chapters()]
    assert in_book, "no quiz belongs to a chapter of the book"
    for quiz in QUIZZES.values():
        shown = quiz in in_book
        assert (f"](../{quiz['chapter']})" in body) == shown, quiz["chapter"]
        for q in quiz["questions"]:
            assert (f"({q['id']})=" in body) == shown, q["id"]
    assert body.count("```{admonition} Answer\n:class: dropdown") == \
        sum(len(q["questions"]) for q in in_book)


def test_the_page_shows_exactly_the_books_chapters(tmp_path):
    """A chapter added to the table of contents brings its quiz onto the page."""
    for name in ("_toc.yml", "chapters"):
        (tmp_path / name).symlink_to(ROOT / name)
    quizzes = [QUIZZES[p.name] for p in FILES]
    page = quizlib.render(quizzes, tmp_path)
    assert "(ch01-context-vector)=" in page
    (tmp_path / "_toc.yml").unlink()
    (tmp_path / "_toc.yml").write_text("root: book_intro\nparts:\n  - caption: Chapters\n"
                                       "    chapters:\n      - file: chapters/02_bahdanau_attention\n")
    page = quizlib.render(quizzes, tmp_path)
    assert "(ch01-context-vector)=" not in page and "(ch02-why-loop)=" in page
    assert f"quizzes of {len(quizzes) - 1} more chapter(s)" in page


# The checks must be able to fail.

def _sample():
    return copy.deepcopy(QUIZZES["ch01.yml"])


@pytest.mark.parametrize("breakage,message", [
    (lambda q: q["questions"][0].update(answer="z"), "exactly one option id"),
    (lambda q: q["questions"][0].update(answer=["a", "b"]), "exactly one option id"),
    (lambda q: q["questions"][1].update(id=q["questions"][0]["id"]), "id used twice"),
    (lambda q: q["questions"][0].update(id="ch02-context"), "id must look like ch01-"),
    (lambda q: q["questions"][0]["options"]["c"].pop("why"), "'why' is missing"),
    (lambda q: q["questions"][0]["options"]["c"].update(why="no."), "too short"),
    (lambda q: q["questions"][0]["options"].pop("a"), "option ids must be"),
    (lambda q: q["questions"][1]["options"]["a"].pop("value"), "needs a 'value' on every option"),
    (lambda q: q.update(chapter="chapters/99_missing.ipynb"), "does not exist"),
    (lambda q: q.update(questions=q["questions"][:4]), "5 to 8 questions"),
    (lambda q: [x.pop("compute", None) and x["options"] and
                [o.pop("value", None) for o in x["options"].values()] for x in q["questions"]],
     "at least two questions"),
    (lambda q: q["questions"][0].update(hint="x"), "unknown keys"),
    (lambda q: q["questions"][0]["options"]["b"].update(text=q["questions"][0]["options"]["a"]["text"]),
     "two options read the same"),
])
def test_malformed_quizzes_are_rejected(breakage, message):
    quiz = _sample()
    breakage(quiz)
    found = "\n".join(quizlib.problems(quiz, "ch01.yml"))
    assert message in found, found


def test_a_wrong_key_or_a_distractor_with_the_right_value_is_caught():
    quiz = _sample()
    q = next(x for x in quiz["questions"] if x["id"] == "ch01-encoder-params")
    ns = quizlib.base_namespace()
    check_key(quiz, q, ns)
    key = q["answer"]
    other = next(oid for oid in q["options"] if oid != key)
    wrong_key = copy.deepcopy(q)
    wrong_key["answer"] = other
    with pytest.raises(AssertionError, match="the computation gives 22016"):
        check_key(quiz, wrong_key, ns)
    twin = copy.deepcopy(q)
    twin["options"][other]["value"] = 22016
    with pytest.raises(AssertionError, match=rf"options \['{other}'\] also hold"):
        check_key(quiz, twin, ns)
    off = copy.deepcopy(q)
    off["compute"] = "answer = 3 * (64 * 32 + 64 * 64 + 2 * 64)"  # the GRU alone
    with pytest.raises(AssertionError, match=f"the key {key}"):
        check_key(quiz, off, ns)


def test_values_compare_as_numbers_within_the_tolerance():
    assert quizlib.same(0.6065, 0.60653, 1e-3) and not quizlib.same(0.6065, 0.62, 1e-3)
    assert quizlib.same(3, 3) and not quizlib.same(3, 3.5) and not quizlib.same(True, 1)
    assert quizlib.same([2, 3, 5], (2, 3, 5)) and not quizlib.same([2, 3, 5], [2, 5, 3])
    assert quizlib.same(0.0, 0.0, 1e-3) and not quizlib.same(None, 0.0)
    assert quizlib.same("masked", "masked") and not quizlib.same("kept", "masked")
