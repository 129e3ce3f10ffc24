"""Grade exercise notebooks: run each one and report pass/fail per check cell.

    python scripts/grade.py SUBMISSION [SUBMISSION ...] [--csv FILE] [--json FILE]
                            [--timeout 600] [--reference exercises]

A SUBMISSION is a notebook or a folder; a folder is searched for notebooks
(``*.ipynb``, checkpoints skipped), for instance one sub-folder per student.
Each notebook runs top to bottom in a fresh kernel from its own folder, as the
student would run it, with every cell run even after an error; then each cell
tagged ``check`` gets a status:

- ``pass``: it ran without an error;
- ``stub``: it raised NotImplementedError (the exercise was not attempted);
- ``fail``: it raised AssertionError (the check's message says what is wrong);
- ``error``: it raised something else (a NameError when the task's function is
  missing, a TypeError for a wrong signature, ...);
- ``not run``: the kernel died or a cell ran past ``--timeout`` seconds before it;
- ``modified``: the cell's code differs from the check cell of the same place in
  the reference notebook (``--reference`` folder, default ``exercises/``, matched
  by file name), and ``missing`` for a reference check cell the submission lacks.
  Both count as not passed: a student cannot grade their own edit of a check.

The environment defaults to the quick ``ci`` profile, offline data and one
thread per kernel (``D2LT_PROFILE=ci D2LT_OFFLINE=1 OMP_NUM_THREADS=1``);
variables already set are kept. The table goes to stdout; ``--csv``/``--json``
write the same rows to files. The exit status is 0 when every check of every
notebook passed, 1 otherwise, 2 when there was nothing to grade.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHECK_TAG = "check"
DEFAULT_ENV = {"D2LT_PROFILE": "ci", "D2LT_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
STATUSES = ("pass", "fail", "stub", "error", "not run", "modified", "missing")


def find_notebooks(paths) -> list:
    """The notebooks named or found under the folders named, sorted, without duplicates."""
    found = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found += [q for q in sorted(p.rglob("*.ipynb"))
                      if ".ipynb_checkpoints" not in q.parts]
        elif p.suffix == ".ipynb" and p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p} is neither a notebook (.ipynb) nor a folder")
    seen, out = set(), []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def check_cells(nb) -> list:
    """(index, cell) of every code cell tagged ``check``."""
    return [(i, c) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and CHECK_TAG in c.metadata.get("tags", [])]


def _name(cell) -> str:
    """A short name for a check cell: its first line of code."""
    lines = [ln.strip() for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")]
    return (lines[0] if lines else "(empty)")[:60]


def _status(cell) -> tuple:
    """(status, message) from a check cell's outputs after execution."""
    if cell.get("execution_count") is None and not cell.get("outputs"):
        return "not run", ""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", ""), str(out.get("evalue", ""))
            message = f"{ename}: {evalue}".strip(": ")[:300]
            if ename == "AssertionError":
                return "fail", message
            if ename == "NotImplementedError":
                return "stub", message
            if ename == "KeyboardInterrupt":  # interrupted by the timeout
                return "not run", ""
            return "error", message
    return "pass", ""


def compare_checks(nb, reference) -> dict:
    """Check-cell position -> 'modified' for edited cells; plus missing reference cells."""
    mine = [c.source.strip() for _, c in check_cells(nb)]
    theirs = [c.source.strip() for _, c in check_cells(reference)]
    verdict = {}
    for k, src in enumerate(mine):
        if k < len(theirs) and src != theirs[k]:
            verdict[k] = "modified"
    missing = theirs[len(mine):]
    return {"cells": verdict, "missing": missing}


def run_notebook(path: Path, timeout: int = 600):
    """Execute ``path`` (every cell, errors recorded); return (executed notebook, problem)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # grade what runs now, not what was saved
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    env_before = {k: os.environ.get(k) for k in DEFAULT_ENV}
    for k, v in DEFAULT_ENV.items():
        os.environ.setdefault(k, v)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(Path(path).parent.resolve())}})
    problem = ""
    try:
        client.execute()
    except CellTimeoutError:
        problem = f"a cell ran longer than {timeout} s"
    except DeadKernelError as e:
        problem = f"the kernel died: {e}"
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, problem


def grade(path: Path, timeout: int = 600, reference_dir: Path | None = ROOT / "exercises") -> list:
    """One row per check cell of ``path``: notebook, check number, name, status, message."""
    path = Path(path)
    nb, problem = run_notebook(path, timeout)
    reference = None
    if reference_dir is not None and (Path(reference_dir) / path.name).is_file() \
            and (Path(reference_dir) / path.name).resolve() != path.resolve():
        reference = nbformat.read(Path(reference_dir) / path.name, as_version=4)
    edits = compare_checks(nb, reference) if reference is not None else {"cells": {}, "missing": []}
    rows = []
    for k, (_, cell) in enumerate(check_cells(nb)):
        status, message = _status(cell)
        if status == "not run" and problem:
            message = problem
        if k in edits["cells"]:
            status, message = "modified", "the check cell differs from the exercise's"
        rows.append({"notebook": str(path), "check": k + 1, "name": _name(cell),
                     "status": status, "message": message})
    for j, src in enumerate(edits["missing"], len(rows) + 1):
        rows.append({"notebook": str(path), "check": j, "name": src.splitlines()[0][:60],
                     "status": "missing", "message": "this check cell of the exercise is missing"})
    if not rows:
        rows.append({"notebook": str(path), "check": 0, "name": "(no check cells)",
                     "status": "error", "message": problem or "the notebook has no cell tagged check"})
    return rows


def summary(rows) -> dict:
    """Notebook -> (checks passed, checks in all)."""
    out = {}
    for r in rows:
        done, total = out.get(r["notebook"], (0, 0))
        out[r["notebook"]] = (done + (r["status"] == "pass"), total + (r["check"] > 0))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="+", help="notebooks or folders of notebooks")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--reference", default=str(ROOT / "exercises"),
                        help="folder of the original exercise notebooks ('' to skip the comparison)")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    try:
        notebooks = find_notebooks(args.submissions)
    except FileNotFoundError as e:
        print(f"[grade] {e}", file=sys.stderr)
        return 2
    if not notebooks:
        print("[grade] no notebooks found", file=sys.stderr)
        return 2
    rows = []
    for nb_path in notebooks:
        print(f"[grade] running {nb_path}", file=sys.stderr, flush=True)
        rows += grade(nb_path, args.timeout, Path(args.reference) if args.reference else None)
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['notebook']}\t{r['check']:>2}  {r['name']:<{width}}  {r['status']:<8}"
              f"  {r['message']}".rstrip())
    for nb_path, (done, total) in summary(rows).items():
        print(f"[grade] {nb_path}: {done}/{total} checks pass")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0 if all(r["status"] == "pass" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
