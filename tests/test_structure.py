"""Structural tests of the course: paired sources, clean notebooks, exercises that check."""
import os
import re
import unicodedata
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("chapters", "exercises", "solutions")
NOTEBOOKS = sorted(p for f in FOLDERS for p in (ROOT / f).glob("*.ipynb"))
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _cells(nb):
    return [(c.cell_type, c.source.strip(), tuple(sorted(c.metadata.get("tags", []))))
            for c in nb.cells if c.source.strip()]


def test_there_are_notebooks():
    assert CHAPTERS, "no chapter notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_pair_in_sync_and_output_free(path):
    md = path.with_suffix(".md")
    assert md.exists(), f"{path.name} has no paired text source {md.name}"
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, f"{path.name} is stored with outputs"
    text_nb = jupytext.read(md)
    assert _cells(text_nb) == _cells(nb), (
        f"{md.name} and {path.name} differ: run `make sync` (jupytext --to ipynb --update {md.name})")
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_shape(path):
    nb = jupytext.read(path.with_suffix(".md"))
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "d2lt.setup(" in first_code.source, "the first code cell must call d2lt.setup()"
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^# Chapter \d+", md, re.M), "a chapter starts with '# Chapter N: ...'"
    assert "Learning objectives" in md and "## Summary" in md
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "assert" in code, "a chapter asserts its key claims"
    assert "plt." in code or "plot." in code, "a chapter has at least one figure"
    for kind in ("exercises", "solutions"):
        assert (ROOT / kind / path.name).exists(), f"chapter {path.name} has no {kind}/{path.name}"


MAX_COLUMNS = 88  # the book's code column shows about 90 before it clips


def columns(line: str) -> int:
    """Width of a line on screen: wide (East Asian) characters take two, combining marks none."""
    line = line.expandtabs(4)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def long_code_lines(nb, limit=MAX_COLUMNS):
    """(cell number, code cell number, line number, width) of every code line over ``limit``."""
    found, n_code = [], 0
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        n_code += 1
        for j, line in enumerate(cell.source.splitlines(), 1):
            if columns(line) > limit:
                found.append((i, n_code, j, columns(line)))
    return found


def test_columns_count_what_the_reader_sees():
    assert columns("x" * 88) == 88 and columns("\tx") == 5
    assert columns("é" * 10) == 10 and columns("e\u0301") == 1 and columns("注意") == 4
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("y" * 200),
                                         nbformat.v4.new_code_cell("ok\n" + "z" * 89)])
    assert long_code_lines(nb) == [(2, 1, 2, 89)]


def md_code_starts(md_text: str) -> list:
    """0-based index, in a MyST source, of the first code line of each code cell."""
    lines, starts, i = md_text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith("```{code-cell}"):
            i += 1
            if i < len(lines) and lines[i].strip() == "---":  # a YAML options block
                i += 1
                while i < len(lines) and lines[i].strip() != "---":
                    i += 1
                i += 1
            while i < len(lines) and lines[i].startswith(":") and ":" in lines[i][1:]:
                i += 1  # short options (:tags: [...])
            starts.append(i)
        i += 1
    return starts


def _md_line(md_lines, starts, code_cell, line, text):
    """1-based line in the .md source of a code line, if the source agrees."""
    if code_cell <= len(starts):
        n = starts[code_cell - 1] + line - 1
        if n < len(md_lines) and md_lines[n] == text:
            return n + 1
    return None


def test_md_code_starts_finds_each_cells_first_line():
    md = ("# t\n```{code-cell} ipython3\nx = 1\n```\n\n```{code-cell} ipython3\n"
          ":tags: [check]\n\ny = 2\n```\n```{code-cell} ipython3\n---\ntags: [a]\n---\nz\n```\n")
    lines = md.splitlines()
    assert [lines[i] for i in md_code_starts(md)] == ["x = 1", "", "z"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_code_lines_fit_the_page(path):
    """Every code line is at most 88 columns: longer ones are clipped in the HTML book."""
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(ROOT).as_posix()
    md = path.with_suffix(".md")
    md_text = md.read_text(encoding="utf-8") if md.exists() else ""
    md_lines, starts = md_text.splitlines(), md_code_starts(md_text)
    bad = []
    for i, k, j, w in long_code_lines(nb):
        code = [c for c in nb.cells if c.cell_type == "code"][k - 1].source.splitlines()[j - 1]
        where = _md_line(md_lines, starts, k, j, code)
        bad.append(f"{rel}: cell {i} (code cell {k}), line {j}: {w} columns"
                   + (f" ({md.name} line {where})" if where else ""))
    assert not bad, (f"{len(bad)} code line(s) over {MAX_COLUMNS} columns; wrap them in "
                     f"{path.with_suffix('.md').name}:\n" + "\n".join(bad))


def _check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "check" in c.metadata.get("tags", [])]


EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("path", EXERCISES, ids=_ids(EXERCISES))
def test_exercise_and_solution_share_their_checks(path):
    ex = nbformat.read(path, as_version=4)
    sol = nbformat.read(ROOT / "solutions" / path.name, as_version=4)
    ex_checks, sol_checks = _check_cells(ex), _check_cells(sol)
    assert ex_checks, f"{path.name} has no cell tagged 'check'"
    assert [c.source for c in ex_checks] == [c.source for c in sol_checks], \
        "exercise and solution must run the same check cells"
    for c in ex_checks:
        assert "raises-exception" in c.metadata["tags"], "exercise check cells are tagged raises-exception"
    for c in sol_checks:
        assert "raises-exception" not in c.metadata.get("tags", []), "solution checks must pass, not raise"


@pytest.mark.parametrize("path", EXERCISES, ids=_ids(EXERCISES))
def test_every_check_rejects_the_unmodified_stub(path):
    """Run the exercise notebook as shipped: every check cell must fail on the stubs."""
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "D2LT_PROFILE": "ci"}
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    old = dict(os.environ)
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    for i, c in enumerate(_check_cells(nb)):
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert errors, f"check {i + 1} of {path.name} accepted the unmodified stub:\n{c.source}"
        assert errors[0].ename in ("AssertionError", "NotImplementedError"), \
            f"check {i + 1} of {path.name} failed with {errors[0].ename}: {errors[0].evalue}"
    others = [c for c in nb.cells if c.cell_type == "code" and c not in _check_cells(nb)]
    for c in others:
        bad = [o for o in c.outputs if o.output_type == "error"]
        assert not bad, f"a non-check cell of {path.name} failed: {bad[0].ename}: {bad[0].evalue}"


def test_readme_lists_every_chapter_and_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    for p in CHAPTERS:
        for kind in FOLDERS:
            assert f"{kind}/{p.name}" in readme, f"README's chapter table lacks {kind}/{p.name}"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
