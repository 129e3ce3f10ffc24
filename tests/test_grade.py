"""scripts/grade.py runs exercise notebooks and reports every check cell's status.

A made-up exercise covers each status (pass, fail, stub, error, modified,
missing, not run); then a real exercise is graded twice: as handed out (no check
passes) and as solved (the solution's code with the exercise's check cells:
every check passes).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import grade  # noqa: E402

v4 = nbformat.v4


def _check(src):
    return v4.new_code_cell(src, metadata={"tags": ["check"]})


def _exercise(*checks, setup="x = 1"):
    return v4.new_notebook(cells=[v4.new_markdown_cell("# Exercise"), v4.new_code_cell(setup),
                                  *[_check(s) for s in checks]],
                           metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                    "language": "python"}})


CHECKS = ["assert x == 1", 'raise NotImplementedError("the exercise\'s stub")',
          'assert x == 2, "x should be 2"', "undefined_function(x)"]


def test_each_status_is_reported(tmp_path):
    ref, sub = tmp_path / "exercises", tmp_path / "alice"
    ref.mkdir()
    sub.mkdir()
    nbformat.write(_exercise(*CHECKS, "assert True"), ref / "ex.ipynb")
    student = _exercise(*CHECKS[:3], "undefined_function(x)  # edited")
    nbformat.write(student, sub / "ex.ipynb")
    rows = grade.grade(sub / "ex.ipynb", timeout=120, reference_dir=ref)
    got = [(r["check"], r["status"]) for r in rows]
    assert got == [(1, "pass"), (2, "stub"), (3, "fail"), (4, "modified"), (5, "missing")], rows
    assert "x should be 2" in rows[2]["message"]
    assert rows[0]["name"] == "assert x == 1"
    assert grade.summary(rows) == {str(sub / "ex.ipynb"): (1, 5)}


def test_errors_and_timeouts(tmp_path):
    nb = _exercise("undefined_function(x)", "import time; time.sleep(120)", "assert x == 1")
    nbformat.write(nb, tmp_path / "slow.ipynb")
    rows = grade.grade(tmp_path / "slow.ipynb", timeout=15, reference_dir=None)
    assert [r["status"] for r in rows] == ["error", "not run", "not run"], rows
    assert rows[0]["message"].startswith("NameError")
    assert "longer than 15 s" in rows[2]["message"]


def test_the_command_line_grades_a_folder_and_writes_csv_and_json(tmp_path, capsys):
    for who, setup in (("a", "x = 1"), ("b", "x = 3")):
        (tmp_path / who).mkdir()
        nbformat.write(_exercise("assert x == 1", setup=setup), tmp_path / who / "ex.ipynb")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    nbformat.write(_exercise("assert False"), tmp_path / "a" / ".ipynb_checkpoints" / "ex.ipynb")
    out_json = tmp_path / "grades.json"
    code = grade.main([str(tmp_path), "--reference", "", "--json", str(out_json),
                       "--csv", str(tmp_path / "grades.csv"), "--timeout", "120"])
    assert code == 1  # b fails
    rows = json.loads(out_json.read_text())
    assert [(Path(r["notebook"]).parent.name, r["status"]) for r in rows] == [("a", "pass"),
                                                                              ("b", "fail")]
    assert (tmp_path / "grades.csv").read_text().splitlines()[0] == \
        "notebook,check,name,status,message"
    printed = capsys.readouterr().out
    assert "1/1 checks pass" in printed and "0/1 checks pass" in printed
    assert grade.main([str(tmp_path / "nothing.txt")]) == 2
    assert grade.main([str(tmp_path / "a"), "--reference", ""]) == 0


@pytest.mark.parametrize("solved", [False, True], ids=["handed-out", "solved"])
def test_a_real_exercise(tmp_path, solved):
    """exercises/03: no check passes as handed out; with the solution's code, all do."""
    name = "03_self_attention.ipynb"
    exercise = nbformat.read(ROOT / "exercises" / name, as_version=4)
    n_checks = len(grade.check_cells(exercise))
    assert n_checks >= 3
    if solved:
        solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
        nb = solution  # its check cells are the exercise's (tests/test_structure.py)
    else:
        nb = exercise
    folder = tmp_path / "student"
    folder.mkdir()
    nbformat.write(nb, folder / name)
    rows = grade.grade(folder / name, timeout=300)
    statuses = [r["status"] for r in rows]
    assert len(statuses) == n_checks, rows
    if solved:
        assert statuses == ["pass"] * n_checks, rows
    else:
        assert "pass" not in statuses and set(statuses) <= {"stub", "fail"}, rows
