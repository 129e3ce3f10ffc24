"""The HTML book builds offline and reads offline.

The module builds the book the way ``make book`` does, without executing the
notebooks (``scripts/execute_book.py --no-execute``; the stored notebooks have
no outputs), into a temporary folder, and checks every page of it:

- nothing is loaded from the network: no script, stylesheet, font, image or
  frame from ``http:``, ``https:`` or protocol-relative ``//`` addresses, in
  the HTML or in the CSS the build copies (``@import``, ``url()``);
- formulas are typeset by a MathJax served from the build, fonts included;
- every relative ``href``/``src`` (and CSS ``url()``) resolves to a file of the
  build, and a link to an anchor of a page finds that anchor;
- every figure a chapter references is in the build.

With ``D2LT_BOOK_HTML=path/to/html`` the checks run on an existing build
instead (``make book`` runs them on the executed book, whose outputs may load
things of their own).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import execute_book  # noqa: E402

# Attributes through which a page makes the browser fetch something.
LOADS = {
    "script": ("src",), "img": ("src", "srcset"), "source": ("src", "srcset"),
    "video": ("src", "poster"), "audio": ("src",), "track": ("src",), "iframe": ("src",),
    "embed": ("src",), "object": ("data",), "input": ("src",), "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"), "feimage": ("href", "xlink:href"),
}
# <link rel=...> values that fetch their href (others, like rel="next", are navigation).
LOADING_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "preload",
                "modulepreload", "prefetch", "manifest", "dns-prefetch", "preconnect"}
# Attributes holding a link the reader follows.
FOLLOWS = {"a": ("href",), "area": ("href",), "link": ("href",)}
HARMLESS_SCHEMES = {"data", "blob", "javascript", "mailto", "about", "tel"}
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CSS_REF = re.compile(r"""@import\s+(?:url\(\s*)?['"]?([^'")\s;]+)|url\(\s*(['"]?)(.*?)\2\s*\)""",
                     re.I | re.S)


def is_network(url: str) -> bool:
    """True for an address the browser would fetch from another machine."""
    url = url.strip()
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return bool(scheme) and len(scheme) > 1 and scheme not in HARMLESS_SCHEMES


def is_local_file_ref(url: str) -> bool:
    """True for a relative reference to a file of the build (not data:, not '#x')."""
    url = url.strip()
    if not url or url.startswith("#") or url.startswith("//"):
        return False
    return not urlsplit(url).scheme


def css_refs(text: str) -> list:
    """Every address a stylesheet's @import and url() name."""
    text = CSS_COMMENT.sub("", text)
    return [(m.group(1) or m.group(3)).strip() for m in CSS_REF.finditer(text)]


class Page(HTMLParser):
    """Collects what one HTML page loads, links to and names as anchors."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads, self.links, self.ids, self.styles = [], [], set(), []
        self.math, self.scripts = False, []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        tag = tag.lower()
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        if re.search(r"\bmath\b", a.get("class", "")):
            self.math = True
        if "style" in a:
            self.styles.append(a["style"])
        if tag == "style":
            self._in_style = True
        for attr in LOADS.get(tag, ()):
            if attr in a:
                values = ([s.strip().split()[0] for s in a[attr].split(",") if s.strip()]
                          if attr == "srcset" else [a[attr]])
                self.loads += [(tag, attr, v) for v in values]
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "link":
            rels = set(a.get("rel", "").lower().split())
            if rels & LOADING_RELS:
                self.loads.append(("link", "href", a.get("href", "")))
                return
        for attr in FOLLOWS.get(tag, ()):
            if attr in a:
                self.links.append((tag, attr, a[attr]))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag.lower() == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def build_book(out: Path) -> Path:
    """Build the book without executing it into ``out``; return its html folder."""
    src = out / "src"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, str(ROOT / "scripts" / "execute_book.py"), "--no-execute",
                    str(src)], check=True, capture_output=True, text=True, env=env)
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; "
           "sys.exit(main())", "build", str(src), "--path-output", str(out),
           "-W", "-n", "--keep-going", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, (
        f"jupyter-book build failed (exit {done.returncode}):\n"
        f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    given = os.environ.get("D2LT_BOOK_HTML")
    if given:
        path = Path(given).resolve()
        assert (path / "index.html").is_file(), f"D2LT_BOOK_HTML={given} holds no index.html"
        return path
    t0 = time.perf_counter()
    path = build_book(tmp_path_factory.mktemp("book"))
    print(f"[test_book] book built in {time.perf_counter() - t0:.1f} s")
    return path


@pytest.fixture(scope="module")
def pages(html) -> dict:
    parsed = {}
    for p in sorted(html.rglob("*.html")):
        if "_static" in p.relative_to(html).parts:
            continue  # theme templates, not pages
        page = Page()
        page.feed(p.read_text(encoding="utf-8"))
        parsed[p] = page
    assert parsed, f"no HTML pages under {html}"
    return parsed


def _target(base: Path, url: str) -> tuple:
    parts = urlsplit(url)
    return (base.parent / unquote(parts.path)).resolve() if parts.path else base, parts.fragment


def test_every_chapter_of_the_toc_is_a_page(html):
    for nb in execute_book.chapters(ROOT / "_toc.yml"):
        page = html / nb.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"{nb.relative_to(ROOT)} has no page {page.relative_to(html)}"
    assert (html / "index.html").is_file()


def test_every_page_uses_the_books_stylesheet_and_the_landing_page_says_how_it_was_made(
        html, pages):
    import yaml
    root = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    assert execute_book.LANDING == f"{root}.md", "scripts/execute_book.py names another root"
    css = html / "_static" / "d2lt-book.css"
    assert css.is_file(), "book/static/d2lt-book.css was not copied into the build"
    for path, page in pages.items():
        if path.name == "index.html":  # a redirect to the landing page
            continue
        assert any(_target(path, url)[0] == css for _, _, url in page.loads), \
            f"{path.relative_to(html).as_posix()} does not load d2lt-book.css"
    landing = (html / f"{root}.html").read_text(encoding="utf-8")
    assert "This copy" in landing and ("were executed on" in landing or "not executed" in landing)


def test_no_page_loads_anything_from_the_network(html, pages):
    bad = []
    for path, page in pages.items():
        name = path.relative_to(html).as_posix()
        bad += [f"{name}: <{tag} {attr}={url!r}>" for tag, attr, url in page.loads
                if is_network(url)]
        for style in page.styles:
            bad += [f"{name}: inline style loads {url!r}" for url in css_refs(style)
                    if is_network(url)]
    assert not bad, "pages load from the network (they break offline):\n" + "\n".join(bad[:40])


def test_no_copied_stylesheet_loads_anything_from_the_network(html):
    sheets = sorted(html.rglob("*.css"))
    assert sheets, "the build has no stylesheets"
    bad = [f"{css.relative_to(html).as_posix()}: {url!r}" for css in sheets
           for url in css_refs(css.read_text(encoding="utf-8", errors="replace"))
           if is_network(url)]
    assert not bad, "stylesheets load from the network:\n" + "\n".join(bad[:40])


def test_math_is_typeset_by_a_mathjax_in_the_build(html, pages):
    with_math = [p for p, page in pages.items() if page.math]
    assert with_math, "no page has math: the check would prove nothing"
    for path in with_math:
        name = path.relative_to(html).as_posix()
        mathjax = [s for s in pages[path].scripts if "mathjax" in s.lower()]
        assert mathjax, f"{name} has formulas but loads no MathJax: readers see raw TeX"
        for src in mathjax:
            assert not is_network(src), f"{name} loads MathJax from the network: {src}"
            target, _ = _target(path, src)
            assert target.is_file(), f"{name} loads MathJax from {src}, which is not in the build"
            fonts = target.parent / "output" / "chtml" / "fonts" / "woff-v2"
            assert len(list(fonts.glob("*.woff"))) >= 10, \
                f"MathJax's fonts are missing from {fonts.relative_to(html)}"


def test_every_relative_link_and_source_resolves(html, pages):
    broken = []
    for path, page in pages.items():
        name = path.relative_to(html).as_posix()
        for tag, attr, url in page.loads + page.links:
            if url.startswith("#"):
                if len(url) > 1 and unquote(url[1:]) not in page.ids:
                    broken.append(f"{name}: <{tag} {attr}={url!r}> names no anchor of the page")
                continue
            if not is_local_file_ref(url):
                continue
            target, fragment = _target(path, url)
            if not target.exists():
                broken.append(f"{name}: <{tag} {attr}={url!r}> -> missing file")
            elif fragment and target in pages and unquote(fragment) not in pages[target].ids:
                broken.append(f"{name}: <{tag} {attr}={url!r}> -> no such anchor")
    assert not broken, f"{len(broken)} broken internal references:\n" + "\n".join(broken[:40])


def test_every_stylesheet_reference_resolves(html):
    broken = []
    for css in sorted(html.rglob("*.css")):
        for url in css_refs(css.read_text(encoding="utf-8", errors="replace")):
            if is_local_file_ref(url):
                target = (css.parent / unquote(urlsplit(url).path)).resolve()
                if not target.exists():
                    broken.append(f"{css.relative_to(html).as_posix()}: {url!r}")
    assert not broken, "stylesheets name files the build lacks:\n" + "\n".join(broken[:40])


def test_every_figure_a_chapter_references_is_in_the_book(html, pages):
    """Images named in a chapter's markdown (``figures/x.svg``) are copied and shown."""
    import nbformat
    shown = {Path(unquote(urlsplit(url).path)).name
             for page in pages.values() for tag, _, url in page.loads
             if tag in ("img", "object", "embed", "source") and is_local_file_ref(url)}
    ref = re.compile(r"""(?:!\[[^\]]*\]\(\s*<?|src=["']|```\{(?:figure|image)\}\s*)"""
                     r"""([^)\s>"'`]+\.(?:svg|png|jpe?g|gif|webp))""", re.I)
    missing = []
    for nb_path in execute_book.chapters(ROOT / "_toc.yml"):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for target in ref.findall(cell.source):
                if is_network(target):
                    missing.append(f"{nb_path.name}: {target} is on the network")
                elif not (nb_path.parent / target).is_file():
                    missing.append(f"{nb_path.name}: {target} does not exist")
                elif Path(target).name not in shown:
                    missing.append(f"{nb_path.name}: {target} is not shown in the book")
    assert not missing, "\n".join(missing)


# The checks themselves: each must be able to fail.

def test_the_detectors_catch_what_they_should():
    for url in ("https://cdn.example.org/x.js", "http://x/y.css", "//cdn.example.org/f.woff",
                " HTTPS://X/Y.png"):
        assert is_network(url), url
    for url in ("_static/x.js", "../_images/a.svg", "data:image/png;base64,AAAA", "#top",
                "javascript:void(0)", "mailto:a@b.c"):
        assert not is_network(url), url
    sheet = ("@import url('https://f.example/x.css'); a{background:url(../i.png)}"
             "/* url(http://ignored) */ @import \"//h/y.css\";")
    assert css_refs(sheet) == ["https://f.example/x.css", "../i.png", "//h/y.css"]
    page = Page()
    page.feed('<link rel="stylesheet" href="//fonts.example/css"><img srcset="a.png 1x, '
              'https://x/b.png 2x"><div class="math notranslate">x</div><a id="s" href="#s">'
              '<span style="background:url(https://x/y.png)"></span>')
    assert [u for _, _, u in page.loads] == ["//fonts.example/css", "a.png", "https://x/b.png"]
    assert page.math and "s" in page.ids and page.links == [("a", "href", "#s")]
    assert css_refs(page.styles[0]) == ["https://x/y.png"]


def test_copy_sources_brings_figures_and_static_files(tmp_path):
    """scripts/execute_book.py copies each chapter folder's figures/ and book/static."""
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "chapters" / "figures").mkdir(parents=True)
    (src / "chapters" / "figures" / "flow.svg").write_text("<svg/>")
    (src / "chapters" / "figures" / ".ipynb_checkpoints").mkdir()
    (src / "book" / "static").mkdir(parents=True)
    (src / "book" / "static" / "book.css").write_text("p{}")
    for name in execute_book.BOOK_FILES:
        (src / name).write_text("chapters:\n  - file: chapters/a.ipynb\n"
                                if name == "_toc.yml" else "x\n")
    copied = execute_book.copy_sources(src, out)
    assert (out / "chapters" / "figures" / "flow.svg").read_text() == "<svg/>"
    assert not (out / "chapters" / "figures" / ".ipynb_checkpoints").exists()
    assert (out / "book" / "static" / "book.css").is_file()
    assert Path("chapters/figures") in copied and Path("book/static") in copied
    (src / "book_intro.md").unlink()
    with pytest.raises(FileNotFoundError, match="book_intro.md"):
        execute_book.copy_sources(src, out)


def test_clean_streams_keeps_what_a_terminal_would_show():
    """Progress bars redraw with carriage returns: the book keeps only what survives."""
    import nbformat
    v4 = nbformat.v4
    cell = v4.new_code_cell("fit()")
    cell.outputs = [
        v4.new_output("stream", name="stderr", text="warning: slow\n"),
        v4.new_output("stream", name="stderr", text="\rbar  0%"),
        v4.new_output("stream", name="stderr", text="\rbar 10%"),
        v4.new_output("display_data", data={"text/plain": "<Figure>"}),
        v4.new_output("stream", name="stderr", text="\rbar 60%\rbar 100%"),
        v4.new_output("stream", name="stderr", text="\r        \r"),
        v4.new_output("stream", name="stdout", text="done in 3 s\r\n"),
        v4.new_output("stream", name="stdout", text="loss 0.1\n"),
    ]
    other = v4.new_code_cell("print(1)")
    other.outputs = [v4.new_output("stream", name="stdout", text="1\n2\n")]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("text"), cell, other])
    execute_book.clean_streams(nb)
    kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
    assert kinds == [("stream", "stderr"), ("display_data", None), ("stream", "stdout")], kinds
    assert cell.outputs[0].text.strip() == "warning: slow", cell.outputs[0].text
    assert cell.outputs[2].text == "done in 3 s\nloss 0.1\n"
    assert other.outputs[0].text == "1\n2\n"
    assert "\r" not in "".join(o.get("text", "") for o in cell.outputs)


def test_build_note_says_whether_the_chapters_ran():
    assert "not executed" in execute_book.build_note(executed=False)
    import d2lt
    note = execute_book.build_note(executed=True)
    assert f"`{d2lt.profile().name}` profile" in note and "PyTorch" in note


def test_browser_check_reports_what_reads_badly():
    """book/browser_check.py (run by `make look`, needs Chromium) turns measurements into problems."""
    sys.path.insert(0, str(ROOT / "book"))
    import browser_check
    good = {"code_columns": 101, "clipped_code": [{"where": "output", "longest_line": 120,
                                                   "start": "x"}],
            "math": 3, "math_typeset": 3, "math_errors": [], "mathjax_fonts": ["MJXTEX:loaded"],
            "broken_images": [], "too_wide": []}
    assert browser_check.problems(good) == []
    bad = {**good, "code_columns": 80, "math_typeset": 1, "math_errors": ["Undefined \\foo"],
           "mathjax_fonts": ["MJXTEX:error"], "broken_images": ["../_images/a.svg"],
           "too_wide": ["img"], "clipped_code": [{"where": "code", "longest_line": 95,
                                                   "start": "model = fit("}]}
    found = "\n".join(browser_check.problems(bad))
    for part in ("80 columns", "2 of 3 formulas", "Undefined \\foo", "fonts did not load",
                 "a.svg", "wider than the text column", "clipped code (95 columns)"):
        assert part in found, (part, found)
    names = [p.relative_to(ROOT).as_posix() for p in browser_check.pages(ROOT)]
    assert names[0] == "book_intro.html" and "chapters/01_seq2seq_rnn.html" in names
