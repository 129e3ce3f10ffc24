"""Execute every chapter of the book with visible progress, for ``make book``.

    python scripts/execute_book.py [OUT_DIR]

Reads the chapters from ``_toc.yml``, runs each notebook top to bottom in its
own kernel (from the chapter's folder, on the best device, in the profile the
environment selects), prints one progress line per cell and a duration table,
and writes the executed notebooks with the book's other sources to ``OUT_DIR``
(default ``_build/executed``), which jupyter-book then renders without
executing again. Exits non-zero if any chapter fails, after trying them all.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
BOOK_FILES = ("_config.yml", "_toc.yml", "book_intro.md")


def chapters(toc: Path) -> list:
    entries = yaml.safe_load(toc.read_text()).get("chapters", [])
    return [ROOT / e["file"] for e in entries]


def execute(path: Path, out: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    t0 = time.perf_counter()
    done = {"n": 0}

    def progress(cell, cell_index, **_):
        if cell.cell_type != "code":
            return
        done["n"] += 1
        print(f"[book] {path.stem}: cell {done['n']}/{len(code)} done, {time.perf_counter() - t0:6.1f} s",
              flush=True)

    client = NotebookClient(nb, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}, on_cell_executed=progress)
    client.execute()
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return time.perf_counter() - t0


def main(out_dir: str = "_build/executed") -> int:
    out_root = ROOT / out_dir
    out_root.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        shutil.copy(ROOT / name, out_root / name)
    durations, failed = {}, []
    todo = chapters(ROOT / "_toc.yml")
    for i, path in enumerate(todo, 1):
        print(f"[book] ({i}/{len(todo)}) executing {path.relative_to(ROOT)}", flush=True)
        try:
            durations[path.name] = execute(path, out_root / path.relative_to(ROOT))
        except CellExecutionError as e:
            failed.append(path.name)
            print(f"[book] FAILED {path.relative_to(ROOT)}:\n{str(e)[-3000:]}", file=sys.stderr, flush=True)
    print("[book] chapter durations:")
    for name, secs in durations.items():
        print(f"[book] {secs:8.1f} s  {name}")
    if failed:
        print(f"[book] {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
