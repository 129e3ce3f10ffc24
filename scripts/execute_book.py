"""Execute every chapter of the book with visible progress, for ``make book``.

    python scripts/execute_book.py [--no-execute] [OUT_DIR]

Reads the chapters from ``_toc.yml``, runs each notebook top to bottom in its
own kernel (from the chapter's folder, on the best device, in the profile the
environment selects), prints one progress line per cell and a duration table,
and writes the executed notebooks with the book's other sources to ``OUT_DIR``
(default ``_build/executed``), which jupyter-book then renders without
executing again. Exits non-zero if any chapter fails, after trying them all.

Besides the notebooks, the tree gets the book configuration, the landing page,
the book's static files (``book/static``) and each chapter folder's ``figures/``
(images the chapters reference as ``figures/...``), so that they render.
``--no-execute`` copies the notebooks as stored (without outputs): a fast build
that checks the book's structure, links and assets.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
LANDING = "book_intro.md"  # the root of _toc.yml
BOOK_FILES = ("_config.yml", "_toc.yml", LANDING)
BOOK_DIRS = ("book/static",)
ASSET_DIR = "figures"
# Text a carriage return sends the cursor back over (progress bars redraw this way).
OVERWRITTEN = re.compile(r"[^\n]*\r(?=[^\n])")
# Never copied with an asset folder: editor and notebook droppings.
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".*")


def toc_files(toc: dict) -> list:
    """The ``file`` entries of a parsed ``_toc.yml``, in order: a flat ``chapters:``
    list or ``parts:`` with captions, sections included (the root is left out)."""
    found = []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                found.append(e["file"])
            walk(e.get("sections"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return found


def chapters(toc: Path) -> list:
    """The notebooks the table of contents lists, in order, as absolute paths."""
    return [toc.parent / f for f in toc_files(yaml.safe_load(toc.read_text(encoding="utf-8")))]


def copy_sources(root: Path, out_root: Path) -> list:
    """Copy the book's configuration, landing page, static files and figures.

    Returns the paths copied, relative to ``out_root``. A missing book file is a
    ``FileNotFoundError`` naming it; a missing ``book/`` or ``figures/`` folder is
    simply not copied.
    """
    root, out_root = Path(root), Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in BOOK_FILES:
        src = root / name
        if not src.is_file():
            raise FileNotFoundError(f"the book needs {src}, which does not exist")
        shutil.copy(src, out_root / name)
        copied.append(Path(name))
    folders = {Path(d) for d in BOOK_DIRS}
    folders |= {p.relative_to(root).parent / ASSET_DIR for p in chapters(root / "_toc.yml")}
    for rel in sorted(folders):
        src = root / rel
        if src.is_dir():
            dst = out_root / rel
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=IGNORED)
            copied.append(rel)
    return copied


def build_note(executed: bool) -> str:
    """A closing section for the landing page: how this copy of the book was made."""
    if not executed:
        return ("\n## This copy\n\nThe chapters of this copy were not executed: it shows "
                "their code without outputs.\n")
    import platform

    import torch

    import d2lt
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    return (f"\n## This copy\n\nThe chapters of this copy were executed on {stamp} in the "
            f"`{d2lt.profile().name}` profile, on `{d2lt.device()}` (PyTorch {torch.__version__}, "
            f"Python {platform.python_version()}): every number they print comes from that "
            f"run.\n")


def clean_streams(nb) -> None:
    """Show stream outputs as a terminal would, in place.

    Consecutive outputs of one stream are merged; text that a carriage return
    overwrites (every intermediate state of a progress bar) is dropped, also
    when a figure was displayed in between; a stream left blank (a progress bar
    that clears itself) is removed.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged, latest = [], {}
        for out in cell.get("outputs", []):
            if out.output_type != "stream":
                merged.append(out)
                continue
            out.text = out.text.replace("\r\n", "\n")
            before = latest.get(out.name)
            if before is not None and out.text.startswith("\r"):
                before.text = before.text[:before.text.rfind("\n") + 1]  # line overwritten
            last = merged[-1] if merged else None
            if last is not None and last.output_type == "stream" and last.name == out.name:
                last.text += out.text
            else:
                merged.append(out)
                latest[out.name] = out
        for out in merged:
            if out.output_type == "stream":
                text = OVERWRITTEN.sub("", out.text)
                out.text = "\n".join(line.rstrip("\r").rstrip() for line in text.split("\n"))
        cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]


def execute(path: Path, out: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    t0 = time.perf_counter()
    done = {"n": 0}

    def progress(cell, cell_index, **_):
        if cell.cell_type != "code":
            return
        done["n"] += 1
        print(f"[book] {path.stem}: cell {done['n']}/{len(code)} done, "
              f"{time.perf_counter() - t0:6.1f} s", flush=True)

    from nbclient import NotebookClient
    client = NotebookClient(nb, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=progress)
    client.execute()
    clean_streams(nb)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="_build/executed",
                        help="where the book's sources go (default _build/executed)")
    parser.add_argument("--no-execute", action="store_true",
                        help="copy the notebooks without running them")
    parser.add_argument("--only", nargs="+", metavar="PREFIX", default=None,
                        help="execute only the chapters whose file name starts with one of these "
                             "prefixes (e.g. 07 08); copy the others without running them")
    args = parser.parse_args(argv)
    out_root = Path(args.out_dir)
    if not out_root.is_absolute():
        out_root = ROOT / out_root
    for rel in copy_sources(ROOT, out_root):
        print(f"[book] copied {rel.as_posix()}", flush=True)
    with open(out_root / LANDING, "a", encoding="utf-8") as landing:
        landing.write(build_note(executed=not args.no_execute))
        if args.only and not args.no_execute:
            landing.write(f"Only the chapters {', '.join(args.only)} were executed; the others "
                          "show their code without outputs.\n")
    durations, failed = {}, []
    todo = chapters(ROOT / "_toc.yml")
    for i, path in enumerate(todo, 1):
        target = out_root / path.relative_to(ROOT)
        skip = args.only is not None and not any(path.name.startswith(p) for p in args.only)
        if args.no_execute or skip:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            continue
        from nbclient.exceptions import CellExecutionError
        print(f"[book] ({i}/{len(todo)}) executing {path.relative_to(ROOT)}", flush=True)
        try:
            durations[path.name] = execute(path, target)
        except CellExecutionError as e:
            failed.append(path.name)
            print(f"[book] FAILED {path.relative_to(ROOT)}:\n{str(e)[-3000:]}",
                  file=sys.stderr, flush=True)
    if args.no_execute:
        print(f"[book] {len(todo)} notebooks copied without execution to {out_root}")
        return 0
    print("[book] chapter durations:")
    for name, secs in durations.items():
        print(f"[book] {secs:8.1f} s  {name}")
    if failed:
        print(f"[book] {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
