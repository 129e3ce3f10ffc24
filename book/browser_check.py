"""Look at the built book in a real browser: screenshots and layout measurements.

    python book/browser_check.py [HTML_DIR] [--out DIR] [--width 1280] [--tile 2000]

Needs Chromium (Debian: ``apt-get install chromium``); ``make test`` does not.
For the landing page and every chapter (from ``_toc.yml``) of a built book
(default ``_build/html``, from ``make book``) it

- opens the page headless and measures what the reader gets: how many code
  columns fit in a code cell, code blocks that scroll sideways (clipped text),
  formulas MathJax did not typeset or reported as TeX errors, images that did
  not load, elements wider than the text column, and whether MathJax's fonts
  loaded (from the build: the browser runs without network access here);
- takes a full-length screenshot and cuts it into tiles of ``--tile`` pixels
  (``OUT/<page>-NN.png``) to look at.

Writes ``OUT/report.json`` (default ``_build/browser``), prints one line per
page and exits 1 if a page has a problem, 2 if no browser is found.
"""
from __future__ import annotations

import argparse
import html as htmllib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_COLUMNS = 88  # tests/test_structure.py keeps code lines within this
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

MEASURE_JS = r"""
<script>
window.addEventListener("load", async () => {
  const r = {};
  try {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
    }
    await document.fonts.ready;
    const article = document.querySelector(".bd-article") || document.body;
    const right = article.getBoundingClientRect().right;
    const pre = document.querySelector(".cell_input pre") || article.querySelector("pre");
    if (pre) {
      const probe = document.createElement("span");
      probe.textContent = "x".repeat(100);
      pre.appendChild(probe);
      const per = probe.getBoundingClientRect().width / 100;
      probe.remove();
      const style = getComputedStyle(pre);
      const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
      r.code_columns = Math.floor((pre.clientWidth - pad) / per);
      r.code_font_px = parseFloat(style.fontSize);
      r.code_width_px = pre.clientWidth;
    }
    r.layout_px = {};
    for (const [k, sel] of [["left", ".bd-sidebar-primary"], ["article", ".bd-article"],
                            ["right", ".bd-sidebar-secondary"]]) {
      const e = document.querySelector(sel);
      if (e) r.layout_px[k] = Math.round(e.getBoundingClientRect().width);
    }
    r.clipped_code = [];
    for (const pre of article.querySelectorAll("pre")) {
      if (pre.scrollWidth > pre.clientWidth + 1) {
        const lines = pre.textContent.split("\n");
        r.clipped_code.push({
          where: pre.closest(".cell_output") ? "output" : "code",
          longest_line: Math.max(...lines.map(l => l.length)),
          start: lines.find(l => l.trim()).trim().slice(0, 60),
        });
      }
    }
    r.math = article.querySelectorAll(".math").length;
    r.math_typeset = article.querySelectorAll("mjx-container").length;
    r.math_errors = [...article.querySelectorAll("mjx-merror")].map(
      e => e.getAttribute("data-mjx-error") || e.textContent);
    r.mathjax_fonts = [...document.fonts].filter(f => /MJX/.test(f.family)).map(
      f => f.family + ":" + f.status);
    r.images = document.images.length;
    r.broken_images = [...document.images].filter(
      i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src"));
    r.too_wide = [...article.querySelectorAll("img, svg, table, figure, .cell_output")]
      .filter(e => e.getBoundingClientRect().right > right + 2
                   && !e.closest(".pst-scrollable-table-container, pre, .output.text_html"))
      .map(e => e.tagName.toLowerCase() + "." + [...e.classList].join("."));
    r.height = document.documentElement.scrollHeight;
  } catch (e) {
    r.error = String(e);
  }
  const out = document.createElement("pre");
  out.id = "d2lt-measure";
  out.textContent = JSON.stringify(r);
  document.body.appendChild(out);
});
</script>
"""


def find_browser(given: str | None) -> str | None:
    for name in ([given] if given else []) + [os.environ.get("CHROMIUM", "")] + list(BROWSERS):
        if name and (shutil.which(name) or Path(name).is_file()):
            return shutil.which(name) or name
    return None


def chromium(browser: str, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def pages(html_dir: Path) -> list:
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    sys.path.insert(0, str(ROOT / "scripts"))
    from execute_book import toc_files
    names = [toc["root"]] + toc_files(toc)
    return [html_dir / Path(n).with_suffix(".html") for n in names]


def measure(browser: str, page: Path, width: int) -> dict:
    """Load a copy of ``page`` with the measuring script and read the result back."""
    probe = page.with_name(f"_measure_{page.name}")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", MEASURE_JS + "</body>", 1), encoding="utf-8")
    try:
        done = chromium(browser, f"--window-size={width},1200", "--virtual-time-budget=30000",
                        "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    m = re.search(r'<pre id="d2lt-measure"[^>]*>(.*?)</pre>', done.stdout, re.S)
    if not m:
        return {"error": f"no measurement (browser exit {done.returncode}): {done.stderr[-500:]}"}
    return json.loads(htmllib.unescape(m.group(1)))


def screenshot(browser: str, page: Path, width: int, height: int, out: Path, tile: int) -> list:
    from PIL import Image
    full = out / f"{page.stem}-full.png"
    chromium(browser, f"--window-size={width},{height}", "--virtual-time-budget=30000",
             f"--screenshot={full}", page.as_uri())
    if not full.is_file():
        return []
    tiles = []
    with Image.open(full) as img:
        for k, top in enumerate(range(0, img.height, tile)):
            name = out / f"{page.stem}-{k:02d}.png"
            img.crop((0, top, img.width, min(top + tile, img.height))).save(name)
            tiles.append(name)
    full.unlink()
    return tiles


def problems(r: dict) -> list:
    found = []
    if r.get("error"):
        found.append(r["error"])
    if r.get("code_columns") is not None and r["code_columns"] < MIN_COLUMNS:
        found.append(f"a code cell shows {r['code_columns']} columns, fewer than {MIN_COLUMNS}")
    found += [f"clipped {c['where']} ({c['longest_line']} columns): {c['start']}"
              for c in r.get("clipped_code", []) if c["where"] == "code"]
    if r.get("math", 0) and r.get("math_typeset", 0) < r["math"]:
        found.append(f"{r['math'] - r.get('math_typeset', 0)} of {r['math']} formulas not typeset")
    found += [f"TeX error: {e}" for e in r.get("math_errors", [])]
    if r.get("math_typeset") and not any(f.endswith(":loaded") for f in r.get("mathjax_fonts", [])):
        found.append("MathJax fonts did not load")
    found += [f"image not shown: {s}" for s in r.get("broken_images", [])]
    found += [f"wider than the text column: {e}" for e in r.get("too_wide", [])]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(ROOT / "_build" / "browser"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--tile", type=int, default=2000)
    parser.add_argument("--max-height", type=int, default=30000)
    parser.add_argument("--no-screenshots", action="store_true")
    parser.add_argument("--browser", help="path or name of a Chromium-based browser")
    args = parser.parse_args(argv)
    browser = find_browser(args.browser)
    if not browser:
        print("no Chromium found: install it (Debian: apt-get install chromium) or pass "
              "--browser", file=sys.stderr)
        return 2
    src = Path(args.html_dir).resolve()
    if not (src / "index.html").is_file():
        print(f"{src} holds no built book (index.html): run `make book` first", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report, bad = {}, 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "html"
        shutil.copytree(src, copy)  # the measuring copies never touch the build
        for page in pages(copy):
            rel = page.relative_to(copy).as_posix()
            if not page.is_file():
                report[rel] = {"problems": ["page missing"]}
                bad += 1
                print(f"[browser] {rel}: MISSING")
                continue
            r = measure(browser, page, args.width)
            r["problems"] = problems(r)
            if not args.no_screenshots:
                height = min(max(int(r.get("height") or 2000), 800), args.max_height)
                r["screenshots"] = [p.name for p in screenshot(
                    browser, src / rel, args.width, height, out, args.tile)]
            report[rel] = r
            bad += bool(r["problems"])
            print(f"[browser] {rel}: {r.get('code_columns')} code columns, "
                  f"{r.get('math_typeset')}/{r.get('math')} formulas, "
                  f"{r.get('images', 0) - len(r.get('broken_images', []))}/{r.get('images')} "
                  f"images, {len(r.get('clipped_code', []))} sideways-scrolling blocks"
                  + "".join(f"\n[browser]   - {p}" for p in r["problems"]), flush=True)
    (out / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"[browser] report and screenshots in {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
