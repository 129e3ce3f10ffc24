"""Build reveal.js slides of every chapter, offline, for ``make slides``.

    python scripts/build_slides.py [--out _build/slides] [--stored] [NOTEBOOK ...]

Each chapter of ``_toc.yml`` (or each NOTEBOOK named) becomes
``OUT/<name>.slides.html``; ``OUT/index.html`` lists them. Where ``make book``
has executed the chapter (``_build/executed/chapters/<name>.ipynb``) the slides
show that run's outputs and figures; otherwise (or with ``--stored``) they show
the stored notebook, code without outputs.

The split into slides is made here, at build time, not by tagging cells: every
``#`` or ``##`` heading starts a slide, every ``###`` heading a sub-slide (one
step down in reveal.js), and everything else continues the slide above it; a
markdown cell holding several headings is cut at each of them. Long slides
scroll.

Nothing is loaded from the network: reveal.js (5.2.0, from the pinned
``sphinx-revealjs`` distribution) and MathJax (from ``sphinx-mathjax-offline``)
are copied next to the slides, and images are embedded in the pages. The
template below replaces nbconvert's default, which loads reveal.js, RequireJS,
jQuery, MathJax and Mermaid from CDNs.
"""
from __future__ import annotations

import argparse
import copy
import html
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "_build" / "executed"
HEADING = re.compile(r"^(#{1,6})\s+\S")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# Links to other pages of the book (the glossary, other chapters) mean nothing in a
# slide deck: the slides keep their text.
BOOK_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:|#)[^)]*\.(?:ipynb|md)(?:#[^)]*)?\)")

THEME = "white"  # its fonts are in the distribution, not on the network
TEMPLATE_NAME = "d2lt_slides.html.j2"
TEMPLATE = r"""{%- extends 'reveal/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], processEscapes: true},
  options: {enableMenu: false},
  svg: {fontCache: 'global'}
};
</script>
<script src="mathjax/tex-svg.js"></script>
<style>
/* after the theme's sheet in the cascade only with !important (it is linked later) */
:root { --jp-code-font-size: 15px !important; --jp-content-font-size1: 18px !important; }
.reveal section { text-align: left; }
.reveal h1, .reveal h2, .reveal h3 { text-transform: none !important; }
.reveal h1 { font-size: 1.8em !important; }
.reveal h2 { font-size: 1.4em !important; }
.reveal .jp-InputArea-prompt, .reveal .jp-OutputArea-prompt { display: none; }
.reveal img { max-height: 60vh; }
</style>
{%- endblock html_head_js_mathjax -%}
{% block footer_js %}
<script src="reveal.js/dist/reveal.js"></script>
<script src="reveal.js/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true, progress: true, history: true, hash: true,
  transition: "{{ reveal_transition }}", slideNumber: "c/t",
  width: {{ reveal_width }}, height: {{ reveal_height }},
  plugins: [RevealNotes]
});
// A slide taller than the screen scrolls instead of being cut off.
function scrollLongSlides() {
  var h = document.querySelector('.reveal').offsetHeight * 0.95;
  document.querySelectorAll('.reveal .slides section').forEach(function (s) {
    if (s.querySelector('section')) { return; }
    if (s.scrollHeight > h) { s.style.height = '95vh'; s.style.overflowY = 'auto'; }
  });
}
Reveal.on('ready', scrollLongSlides);
Reveal.on('slidechanged', scrollLongSlides);
</script>
{% endblock footer_js %}
"""


def package_dir(module: str, sub: str) -> Path:
    """A data folder shipped inside an installed distribution."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{module} is not installed: run `make setup` (it is in the course extra)")
    path = Path(list(spec.submodule_search_locations)[0]) / sub
    if not path.is_dir():
        raise RuntimeError(f"{path} is missing from the installed {module}")
    return path


def reveal_dir() -> Path:
    return package_dir("sphinx_revealjs", "_static/revealjs")


def mathjax_dir() -> Path:
    # The distribution's folder name has a dash, so find it next to sphinx_revealjs' parent.
    site = package_dir("sphinx_revealjs", ".").resolve().parent
    path = site / "sphinx-mathjax-offline" / "static" / "mathjax"
    if not (path / "tex-svg.js").is_file():
        raise RuntimeError(f"MathJax not found at {path}: install sphinx-mathjax-offline")
    return path


def toc_chapters(toc: Path = ROOT / "_toc.yml") -> list:
    """The chapter notebooks (under chapters/) that ``_toc.yml`` lists, in order.

    Reads a flat ``chapters:`` list and ``parts:`` alike, sections included.
    """
    data = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
    found = []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                path = toc.parent / e["file"]
                if path.suffix == "" and path.with_suffix(".ipynb").exists():
                    path = path.with_suffix(".ipynb")
                if path.suffix == ".ipynb" and path.parent.name == "chapters":
                    found.append(path)
            walk(e.get("sections"))

    for part in data.get("parts", []) or []:
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    return found


def split_markdown(source: str) -> list:
    """Cut a markdown cell before every heading (outside code fences)."""
    pieces, current, fence = [], [], None
    for line in source.splitlines():
        m = FENCE.match(line)
        if m:
            mark = m.group(1)[0]
            fence = None if fence == mark else (fence or mark)
        if fence is None and HEADING.match(line) and any(s.strip() for s in current):
            pieces.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    if any(s.strip() for s in current):
        pieces.append("\n".join(current).strip("\n"))
    return pieces


def slide_type(cell) -> str:
    """'slide' for a #/## heading, 'subslide' for ###, '-' (continue) otherwise."""
    if cell.cell_type == "markdown":
        m = HEADING.match(cell.source.lstrip("\n"))
        if m and len(m.group(1)) <= 2:
            return "slide"
        if m and len(m.group(1)) == 3:
            return "subslide"
    return "-"


def to_slides(nb):
    """A copy of ``nb`` with markdown cut at headings and slide types set."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = BOOK_LINK.sub(r"\1", cell.source)
            for piece in split_markdown(text):
                new = nbformat.v4.new_markdown_cell(piece)
                new.metadata = copy.deepcopy(cell.metadata)
                new.attachments = cell.get("attachments", {}) or {}
                if not new.attachments:
                    del new["attachments"]
                cells.append(new)
        elif cell.source.strip():
            cells.append(cell)
    for i, cell in enumerate(cells):
        kind = slide_type(cell)
        if i == 0:
            kind = "slide"
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb.cells = cells
    return nb


def exporter():
    import jinja2
    from nbconvert import SlidesExporter
    ex = SlidesExporter(extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
                        template_file=TEMPLATE_NAME, embed_images=True,
                        exclude_input_prompt=True, exclude_output_prompt=True)
    ex.reveal_url_prefix = "reveal.js"
    ex.reveal_theme = THEME
    ex.reveal_scroll = True
    return ex


def copy_assets(out: Path) -> None:
    """reveal.js (dist and the notes plugin) and MathJax's one-file SVG build."""
    src = reveal_dir()
    dst = out / "reveal.js"
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "dist" / "theme").mkdir(parents=True)
    for name in ("reveal.js", "reveal.css", "reset.css"):
        shutil.copy(src / "dist" / name, dst / "dist" / name)
    # Only the theme used: several others @import fonts from the network.
    shutil.copy(src / "dist" / "theme" / f"{THEME}.css", dst / "dist" / "theme")
    shutil.copytree(src / "dist" / "theme" / "fonts" / "source-sans-pro",
                    dst / "dist" / "theme" / "fonts" / "source-sans-pro")
    shutil.copytree(src / "plugin" / "notes", dst / "plugin" / "notes")
    shutil.copy(src / "LICENSE", dst / "LICENSE")
    (out / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy(mathjax_dir() / "tex-svg.js", out / "mathjax" / "tex-svg.js")


def source_for(path: Path, stored: bool) -> Path:
    """The executed copy of a chapter when ``make book`` made one, else the stored one."""
    path = Path(path).resolve()
    if not stored:
        try:
            executed = EXECUTED / path.relative_to(ROOT)
        except ValueError:
            executed = None
        if executed is not None and executed.is_file():
            return executed
    return path


def title_of(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def build(notebooks, out: Path, stored: bool = False) -> list:
    """Write one slide deck per notebook and an index into ``out``; return the decks."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    ex, decks = exporter(), []
    for nb_path in notebooks:
        nb_path = Path(nb_path)
        if not nb_path.is_file():
            raise FileNotFoundError(f"no notebook {nb_path}")
        src = source_for(nb_path, stored)
        nb = nbformat.read(src, as_version=4)
        slides = to_slides(nb)
        body, _ = ex.from_notebook_node(
            slides, resources={"metadata": {"name": nb_path.stem, "path": str(nb_path.parent)}})
        deck = out / f"{nb_path.stem}.slides.html"
        deck.write_text(body, encoding="utf-8")
        n = sum(c.metadata["slideshow"]["slide_type"] == "slide" for c in slides.cells)
        decks.append((deck, title_of(nb, nb_path.stem), n, src != nb_path.resolve()))
        print(f"[slides] {deck.relative_to(out.parent) if out.parent in deck.parents else deck}: "
              f"{n} slides ({'executed' if decks[-1][3] else 'stored, no outputs'})", flush=True)
    rows = "\n".join(f'<li><a href="{d.name}">{html.escape(t)}</a> ({n} slides'
                     f'{"" if ran else ", without outputs"})</li>' for d, t, n, ran in decks)
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Slides</title></head><body>\n<h1>Slides of the chapters</h1>\n"
        f"<ul>\n{rows}\n</ul>\n<p>Keys: arrows or space to move, Esc for the overview, "
        "S for speaker notes.</p>\n</body></html>\n", encoding="utf-8")
    return [d for d, *_ in decks]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to convert (default: the chapters of _toc.yml)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "slides",
                        help="output folder (default _build/slides)")
    parser.add_argument("--stored", action="store_true",
                        help="use the stored notebooks even where executed copies exist")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or toc_chapters()
    if not notebooks:
        print("[slides] _toc.yml lists no chapters", file=sys.stderr)
        return 1
    decks = build(notebooks, args.out, stored=args.stored)
    print(f"[slides] {len(decks)} decks in {args.out}; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
