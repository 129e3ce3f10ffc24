"""The chapter quizzes: load, check and render ``quizzes/chNN.yml``.

    python quizzes/quizlib.py          # rewrite book/quizzes.md (+ .ipynb) from the quizzes

A quiz file holds one chapter's multiple-choice questions::

    chapter: chapters/01_seq2seq_rnn.ipynb     # the chapter it belongs to
    questions:
      - id: ch01-encoder-params               # unique over all quizzes, chNN-...
        ask: How many parameters ...?          # markdown, math allowed
        options:                               # two to six, ids a, b, c, ...
          a: {text: "22,016", why: "...", value: 22016}
          b: {text: "18,816", why: "...", value: 18816}
        answer: a                              # the key: exactly one option id
        uses_solution: false                   # compute may call the solution's functions (sol)
        compute: |                             # optional: Python that sets `answer`
          answer = sum(p.numel() for p in seq2seq.Seq2SeqEncoder(100, 32, 64, 1).parameters())
        tolerance: 0.001                       # optional relative tolerance for numbers

Every option explains why it is right or wrong (``why``). Where a question has
a computable answer, ``compute`` says how to compute it and every option carries
the ``value`` it stands for: the tests run the code (with ``d2lt`` and, with
``uses_solution: true``, the functions of ``solutions/<chapter>.md`` as ``sol``)
and check that the keyed option holds that value and no other option does.

A new chapter's quiz is one more file here; then run this script to refresh
the book's quiz page (a test fails while the page is stale).
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUIZ_DIR = ROOT / "quizzes"
PAGE = ROOT / "book" / "quizzes.md"
ID = re.compile(r"^ch(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*$")
OPTION_IDS = "abcdef"
QUESTION_KEYS = {"id", "ask", "options", "answer", "compute", "uses_solution", "tolerance"}
OPTION_KEYS = {"text", "why", "value"}
HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def quiz_files(folder: Path = QUIZ_DIR) -> list:
    return sorted(Path(folder).glob("ch[0-9][0-9].yml"))


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        quiz = yaml.safe_load(f)
    if not isinstance(quiz, dict):
        raise ValueError(f"{Path(path).name}: a quiz is a mapping with 'chapter' and 'questions', "
                         f"got {type(quiz).__name__}")
    return quiz


def chapter_title(notebook: Path) -> str:
    """The '# Chapter N: ...' heading of a chapter notebook (or its .md source)."""
    import jupytext
    src = notebook.with_suffix(".md") if notebook.with_suffix(".md").is_file() else notebook
    for cell in jupytext.read(src).cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^# (Chapter \d+:.*)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    raise ValueError(f"{notebook.name} has no '# Chapter N: ...' heading")


def problems(quiz: dict, name: str, root: Path = ROOT) -> list:
    """Everything that makes a quiz malformed, as sentences (empty when it is well formed)."""
    out = []
    nb = quiz.get("chapter")
    m = re.fullmatch(r"chapters/(\d\d)_[a-z0-9_]+\.ipynb", nb or "") if isinstance(nb, str) else None
    if not m:
        return [f"{name}: 'chapter' must name a notebook chapters/NN_name.ipynb, got {nb!r}"]
    number = m.group(1)
    if not (root / nb).is_file():
        out.append(f"{name}: chapter {nb} does not exist")
    if name != f"ch{number}.yml":
        out.append(f"{name}: the quiz of {nb} must be called ch{number}.yml")
    extra = set(quiz) - {"chapter", "questions"}
    if extra:
        out.append(f"{name}: unknown keys {sorted(extra)}")
    questions = quiz.get("questions")
    if not isinstance(questions, list) or not 5 <= len(questions) <= 8:
        n = len(questions) if isinstance(questions, list) else type(questions).__name__
        return out + [f"{name}: a quiz has 5 to 8 questions, got {n}"]
    seen, computed = set(), 0
    for i, q in enumerate(questions, 1):
        where = f"{name} question {i}"
        if not isinstance(q, dict):
            out.append(f"{where}: must be a mapping")
            continue
        qid = q.get("id")
        where = f"{name} {qid or f'question {i}'}"
        if not isinstance(qid, str) or not ID.match(qid) or ID.match(qid).group(1) != number:
            out.append(f"{where}: id must look like ch{number}-some-words, got {qid!r}")
        elif qid in seen:
            out.append(f"{where}: id used twice")
        seen.add(qid)
        unknown = set(q) - QUESTION_KEYS
        if unknown:
            out.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(q.get("ask"), str) or not q["ask"].strip():
            out.append(f"{where}: 'ask' (the question) is missing")
        options = q.get("options")
        if not isinstance(options, dict) or not 2 <= len(options) <= 6:
            out.append(f"{where}: 'options' must map 2 to 6 option ids to options")
            continue
        ids = list(options)
        if ids != list(OPTION_IDS[:len(ids)]):
            out.append(f"{where}: option ids must be {', '.join(OPTION_IDS[:len(ids)])} in order, "
                       f"got {ids}")
        texts = []
        for oid, opt in options.items():
            if not isinstance(opt, dict):
                out.append(f"{where} option {oid}: must be a mapping with text and why")
                continue
            if set(opt) - OPTION_KEYS:
                out.append(f"{where} option {oid}: unknown keys {sorted(set(opt) - OPTION_KEYS)}")
            for key in ("text", "why"):
                if not isinstance(opt.get(key), str) or len(opt[key].strip()) < (1 if key == "text"
                                                                                 else 20):
                    out.append(f"{where} option {oid}: '{key}' is missing or too short"
                               + (" (every option explains itself)" if key == "why" else ""))
            texts.append(str(opt.get("text", "")).strip())
        if len(set(texts)) != len(texts):
            out.append(f"{where}: two options read the same")
        answer = q.get("answer")
        if not isinstance(answer, str) or answer not in options:
            out.append(f"{where}: 'answer' must be exactly one option id of {ids}, got {answer!r}")
        if "compute" in q:
            computed += 1
            if not isinstance(q["compute"], str) or "answer" not in q["compute"]:
                out.append(f"{where}: 'compute' must be Python code that sets `answer`")
            missing = [oid for oid, opt in options.items()
                       if not isinstance(opt, dict) or "value" not in opt]
            if missing:
                out.append(f"{where}: a computed question needs a 'value' on every option, "
                           f"missing on {missing}")
        else:
            if any(isinstance(opt, dict) and "value" in opt for opt in options.values()):
                out.append(f"{where}: options carry values but there is no 'compute'")
            for key in ("uses_solution", "tolerance"):
                if key in q:
                    out.append(f"{where}: '{key}' without 'compute'")
        if "uses_solution" in q and not isinstance(q["uses_solution"], bool):
            out.append(f"{where}: 'uses_solution' must be true or false")
        if "tolerance" in q and not (isinstance(q["tolerance"], (int, float))
                                     and 0 < q["tolerance"] < 0.5):
            out.append(f"{where}: 'tolerance' must be a relative tolerance in (0, 0.5)")
    if computed < 2:
        out.append(f"{name}: at least two questions must have a computable answer, got {computed}")
    return out


def base_namespace() -> dict:
    """What ``compute`` code sees besides ``sol``: math, torch and the course's modules."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    import d2lt
    from d2lt import attention, bahdanau, complexity, metrics, seq2seq, transformer
    return {"math": math, "torch": torch, "nn": nn, "F": F, "d2lt": d2lt, "attention": attention,
            "bahdanau": bahdanau, "complexity": complexity, "metrics": metrics,
            "seq2seq": seq2seq, "transformer": transformer}


def evaluate(question: dict, namespace: dict):
    """Run a question's ``compute`` code in a copy of ``namespace``; return its ``answer``."""
    ns = dict(namespace)
    exec(question["compute"], ns)
    if "answer" not in ns:
        raise ValueError(f"{question['id']}: compute did not set `answer`")
    return ns["answer"]


def same(value, result, tolerance=None) -> bool:
    """Whether an option's value is the computed result (numbers within a relative tolerance)."""
    if isinstance(value, bool) or isinstance(result, bool):
        return isinstance(value, bool) and isinstance(result, bool) and value == result
    if isinstance(value, (int, float)) and isinstance(result, (int, float)):
        if isinstance(value, int) and isinstance(result, int):
            return value == result
        return math.isclose(value, result, rel_tol=tolerance or 1e-9, abs_tol=1e-9)
    if isinstance(value, (list, tuple)) and isinstance(result, (list, tuple)):
        return len(value) == len(result) and all(same(a, b, tolerance) for a, b in zip(value, result))
    return value == result


def book_chapters(root: Path = ROOT) -> list:
    """The chapter notebooks the book's ``_toc.yml`` lists (flat or in parts), as 'chapters/...'."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}
    entries = list(toc.get("chapters", []) or [])
    for part in toc.get("parts", []) or []:
        entries += part.get("chapters", []) or []
    out = []
    while entries:
        e = entries.pop(0)
        entries = list(e.get("sections", []) or []) + entries
        f = str(e.get("file", ""))
        if f.startswith("chapters/"):
            out.append(Path(f).with_suffix(".ipynb").as_posix())
    return out


def render(quizzes: list, root: Path = ROOT) -> str:
    """The book's quiz page (MyST markdown): the quizzes of the book's chapters, answers folded.

    Quizzes of chapters not yet in ``_toc.yml`` are left out (the page may only link pages
    of the book); the page says how many.
    """
    in_book = book_chapters(root)
    waiting = sorted(q["chapter"] for q in quizzes if q["chapter"] not in in_book)
    quizzes = sorted((q for q in quizzes if q["chapter"] in in_book),
                     key=lambda q: in_book.index(q["chapter"]))
    lines = [HEADER, "# Quizzes", "",
             "One quiz per chapter, five to eight multiple-choice questions each. Answer "
             "before opening the fold under a question: it names the right option and "
             "says, for every option, why it is right or wrong. Questions marked "
             "*(computed)* have an answer you can reproduce: the course's tests compute "
             "it with `d2lt` or the exercise solutions and check the key against it.", "",
             "The questions live in `quizzes/chNN.yml` (the answer key is the `answer` "
             "field); `python quizzes/quizlib.py` rewrites this page from them.", ""]
    if waiting:
        lines += [f"The quizzes of {len(waiting)} more chapter(s) "
                  f"({', '.join(Path(w).stem for w in waiting)}) are in `quizzes/` and join "
                  "this page when their chapters join the book.", ""]
    for quiz in quizzes:
        nb = root / quiz["chapter"]
        title = chapter_title(nb)
        lines += [f"## {title}", "",
                  f"Chapter: [{title.split(':', 1)[1].strip()}](../{quiz['chapter']}).", ""]
        for i, q in enumerate(quiz["questions"], 1):
            mark = " *(computed)*" if "compute" in q else ""
            lines += [f"({q['id']})=", f"**{i}.**{mark} {q['ask'].strip()}", ""]
            lines += [f"- **{oid}.** {opt['text'].strip()}" for oid, opt in q["options"].items()]
            key = q["answer"]
            lines += ["", "```{admonition} Answer", ":class: dropdown", "",
                      f"**{key}.** {q['options'][key]['text'].strip()}", ""]
            lines += [f"- **{oid}.** {opt['why'].strip()}" for oid, opt in q["options"].items()]
            lines += ["```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_page(page: Path = PAGE) -> Path:
    """Write the quiz page and its paired notebook."""
    quizzes = [load(p) for p in quiz_files()]
    page.write_text(render(quizzes), encoding="utf-8")
    import jupytext
    from jupytext.cli import jupytext as jupytext_cli
    jupytext_cli(["--to", "ipynb", "--update", "--quiet", str(page)])
    assert jupytext.read(page.with_suffix(".ipynb")).cells
    return page


def main() -> int:
    bad = []
    for path in quiz_files():
        bad += problems(load(path), path.name)
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    print(f"[quizzes] wrote {write_page().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
