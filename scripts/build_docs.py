"""Build the library notebooks (`nbs/*.ipynb`, not `nbs/stages/`) WITH outputs into a small static HTML site (`make docs`).

The committed notebooks carry no outputs (nbdev_clean) and nbdev's own docs need quarto, so this script:
- executes each notebook in its folder (as nbdev_test does), skipping cells flagged `#| slow` or `#| gpu`
  (settings.ini `tst_flags`), `--jobs` notebooks at a time; a cell that raises fails the build, naming the notebook;
- hides `#| hide` cells, strips the `#| ...` directive lines, drops cells left empty;
- writes one self-contained HTML page per notebook (figures embedded as data URIs) into `_site/`;
- writes `_site/index.html`: the "Where the method lives" table of `nbs/index.ipynb` (parsed from its markdown, so
  renumbering notebooks needs no edit here), each `nbs/<name>.ipynb` in it linked to its page, then every page.
  A notebook the table names that has no page (or no notebook) fails the build.
`nbs/index.ipynb` itself becomes `_site/overview.html`.

Usage: python scripts/build_docs.py [--out _site] [--jobs 2] [--only NAME ...] | --check (a self-test on tiny notebooks)
"""
from __future__ import annotations
import argparse, html, os, re, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SKIP_FLAGS = ("slow", "gpu")
TABLE_HEADING = "## Where the method lives"
_DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+:?)(.*)$")
_NB_REF = re.compile(r"nbs/([\w.\-]+)\.ipynb")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")   # colours in tracebacks


def directives(source: str) -> dict[str, str]:
    "The `#| name value` directive lines of a cell (name → rest of the line)."
    out = {}
    for line in source.splitlines():
        m = _DIRECTIVE.match(line)
        if m: out[m.group(1).rstrip(":")] = m.group(2).strip()
    return out


def strip_directives(source: str) -> str:
    return "\n".join(l for l in source.splitlines() if not _DIRECTIVE.match(l)).strip("\n")


def prepare(nb, skip_flags=SKIP_FLAGS):
    "Tag the cells to skip (`skip-execution`, which nbclient honours) and mark each cell's display directives."
    for cell in nb.cells:
        if cell.cell_type != "code": continue
        d = directives(cell.source)
        if set(d) & set(skip_flags):
            cell.metadata.setdefault("tags", []).append("skip-execution")
        cell.metadata["docs_directives"] = d
    return nb


def finish(nb):
    "Hide `#| hide` cells, strip directive lines, drop empty cells, note the skipped ones (after execution)."
    cells = []
    for cell in nb.cells:
        d = cell.metadata.pop("docs_directives", None) or directives(cell.source)
        if "hide" in d: continue
        cell.source = strip_directives(cell.source) if cell.cell_type == "code" else cell.source
        if cell.cell_type == "code":
            if "skip-execution" in cell.metadata.get("tags", []):
                flag = next(f for f in SKIP_FLAGS if f in d)
                cell.source = f"# not run for the docs (#| {flag})\n" + cell.source
            if d.get("echo") == "false": cell.metadata["jupyter"] = {"source_hidden": True}; cell.metadata["transient"] = {"remove_source": True}
            if d.get("output") == "false": cell.outputs = []
            if not cell.source.strip() and not cell.outputs: continue
        elif cell.cell_type == "markdown":
            # links between notebooks point at their pages
            cell.source = re.sub(r"\(([\w.\-]+)\.ipynb\)", r"(\1.html)", cell.source)
        cells.append(cell)
    nb.cells = cells
    return nb


def page_name(nb_path: Path) -> str:
    return "overview.html" if nb_path.stem == "index" else f"{nb_path.stem}.html"


def render(nb_path: str, out_dir: str, timeout: int = 1200) -> tuple[str, float, str]:
    "Execute one notebook and write its page. Returns (page, seconds, error or '')."
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter
    nb_path, t0 = Path(nb_path), time.perf_counter()
    nb = prepare(nbformat.read(nb_path, as_version=4))
    # the kernel inherits this environment: inline figures even where MPLBACKEND=Agg (the Makefile sets it)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ.setdefault("MGNB_PROGRESS", "0")
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    except CellExecutionError as e:
        return page_name(nb_path), time.perf_counter() - t0, f"{nb_path}: a cell failed:\n{_ANSI.sub('', str(e))[-3000:]}"
    except Exception as e:   # a dead kernel, a timeout
        return page_name(nb_path), time.perf_counter() - t0, f"{nb_path}: {type(e).__name__}: {str(e)[-3000:]}"
    finish(nb)
    title = next((l[2:].strip() for c in nb.cells if c.cell_type == "markdown" for l in c.source.splitlines() if l.startswith("# ")), nb_path.stem)
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    (Path(out_dir) / page_name(nb_path)).write_text(body, encoding="utf-8")
    return page_name(nb_path), time.perf_counter() - t0, ""


def method_table(index_nb: Path) -> tuple[list[str], list[list[str]]]:
    "The header and rows of the markdown table under `## Where the method lives` in the index notebook."
    nb = nbformat.read(index_nb, as_version=4)
    cell = next((c.source for c in nb.cells if c.cell_type == "markdown" and TABLE_HEADING in c.source), None)
    if cell is None: raise SystemExit(f"{index_nb} has no '{TABLE_HEADING}' markdown cell")
    lines = [l.strip() for l in cell.split(TABLE_HEADING, 1)[1].splitlines()]
    start = next((i for i, l in enumerate(lines) if l.startswith("|")), None)
    if start is None: raise SystemExit(f"{index_nb}: no table under '{TABLE_HEADING}'")
    rows = []
    for l in lines[start:]:
        if not l.startswith("|"): break
        rows.append([c.strip() for c in l.strip("|").split("|")])
    if len(rows) < 3 or not set(rows[1][0]) <= set("-: "): raise SystemExit(f"{index_nb}: the table under '{TABLE_HEADING}' is malformed")
    return rows[0], rows[2:]


def _md_inline(text: str, nb_links: bool) -> str:
    "Minimal inline markdown of a table cell (code, bold) to HTML; `nbs/X.ipynb` → a link to X.html."
    s = html.escape(text)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
    if nb_links:
        s = re.sub(r"`?nbs/([\w.\-]+)\.ipynb`?", lambda m: f'<a href="{m.group(1)}.html"><code>{m.group(1)}</code></a>', s)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", s)


def write_index(out_dir: Path, index_nb: Path, pages: list[str]) -> list[str]:
    "Write index.html (the method table with links, then every page). Returns the links that point at no page."
    header, rows = method_table(index_nb)
    nb_col = next((i for i, h in enumerate(header) if "notebook" in h.lower()), None)
    if nb_col is None: raise SystemExit(f"{index_nb}: the '{TABLE_HEADING}' table has no 'notebook' column")
    missing = [f"nbs/{m}.ipynb" for r in rows for m in _NB_REF.findall(r[nb_col]) if not (out_dir / f"{m}.html").exists()]
    th = "".join(f"<th>{_md_inline(h, False)}</th>" for h in header)
    trs = "\n".join("<tr>" + "".join(f"<td>{_md_inline(c, j == nb_col)}</td>" for j, c in enumerate(r)) + "</tr>" for r in rows)
    lis = "\n".join(f'<li><a href="{p}">{html.escape(p[:-5])}</a></li>' for p in sorted(pages))
    (out_dir / "index.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mgnb notebooks</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}}
th{{background:#f3f3f3}}code{{font-size:0.92em}}</style></head><body>
<h1>mgnb: the notebooks, executed</h1>
<p>The library notebooks of <code>nbs/</code> with their outputs (cells flagged slow or gpu are not run).
The project's overview: <a href="overview.html">overview</a> (<code>nbs/index.ipynb</code>).</p>
<h2>Where the method lives</h2>
<table><thead><tr>{th}</tr></thead><tbody>
{trs}
</tbody></table>
<h2>All notebooks</h2><ul>
{lis}
</ul></body></html>
""", encoding="utf-8")
    return missing


def build(nbs_dir: Path, out_dir: Path, jobs: int = 2, only: list[str] | None = None) -> int:
    "Execute and render the notebooks of `nbs_dir` into `out_dir`, then the index. Returns the number of failures."
    notebooks = sorted(nbs_dir.glob("*.ipynb"))
    if only: notebooks = [p for p in notebooks if p.stem in only or p.name in only]
    out_dir.mkdir(parents=True, exist_ok=True)
    if not only:   # a full build: no page of a renamed or removed notebook stays behind
        for old in out_dir.glob("*.html"): old.unlink()
    t0, errors, pages = time.perf_counter(), [], []
    # the longest notebooks first, so the two workers finish together (size of the source as the proxy)
    order = sorted(notebooks, key=lambda p: -p.stat().st_size)
    with ProcessPoolExecutor(max(1, jobs)) as pool:
        for page, secs, err in pool.map(render, map(str, order), [str(out_dir)] * len(order)):
            print(f"{'FAIL' if err else 'ok  '} {page} ({secs:.0f}s)", flush=True)
            if err: errors.append(err)
            else: pages.append(page)
    # every page in out_dir (with --only, those of an earlier build count too)
    missing = write_index(out_dir, nbs_dir / "index.ipynb",
                          [p.name for p in out_dir.glob("*.html") if p.name not in ("index.html", "overview.html")])
    for e in errors: print(e, file=sys.stderr)
    for m in missing: print(f"index.html links {m}, which has no page in {out_dir}", file=sys.stderr)
    # with --only, a page not built yet is expected; a notebook that does not exist never is
    if only: missing = [m for m in missing if not (nbs_dir / Path(m).name).exists()]
    print(f"{len(pages)} pages, {len(errors)} failed, {len(missing)} missing links: {out_dir}/index.html "
          f"({time.perf_counter() - t0:.0f}s)")
    return len(errors) + len(missing)


def _cell(kind: str, src: str):
    return nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)


def self_check() -> None:
    "Build a site from tiny notebooks and check what it must do, and that it fails when it must."
    with tempfile.TemporaryDirectory() as tmp:
        nbs, out = Path(tmp) / "nbs", Path(tmp) / "_site"
        nbs.mkdir()
        nb = nbformat.v4.new_notebook(cells=[
            _cell("markdown", "# Tiny\n\nSee [the other](other.ipynb)."),
            _cell("code", "#| hide\nHIDDEN_MARKER = 1"),
            _cell("code", "#| export\ndef f(): return 'VISIBLE_' + 'RESULT'\nf()"),
            _cell("code", "#| slow\nopen('slow_ran', 'w').write('x')"),
            _cell("code", "import matplotlib.pyplot as plt\nplt.plot([0, 1]); plt.show()"),
            _cell("code", "#| default_exp tiny"),
        ])
        nbformat.write(nb, nbs / "tiny.ipynb")
        nbformat.write(nbformat.v4.new_notebook(cells=[_cell("code", "1 + 1")]), nbs / "other.ipynb")
        table = f"{TABLE_HEADING}\n\n| component | notebook | module |\n|---|---|---|\n| **tiny** thing | `nbs/tiny.ipynb` | `x.tiny` |\n"
        nbformat.write(nbformat.v4.new_notebook(cells=[_cell("markdown", "# Overview\n\n" + table)]), nbs / "index.ipynb")
        out.mkdir(); (out / "renamed.html").write_text("a page of an earlier build")
        assert build(nbs, out, jobs=2) == 0, "the tiny site did not build"
        assert not (out / "renamed.html").exists(), "a stale page stayed"
        page = (out / "tiny.html").read_text()
        assert "HIDDEN_MARKER" not in page, "a #| hide cell is shown"
        assert "VISIBLE_RESULT" in page, "an output is missing"
        assert not re.search(r"#\|\s*(export|hide|default_exp)", html.unescape(page)), "directive lines are left"
        assert "default_exp" not in page, "an empty directive-only cell is shown"
        assert "not run for the docs (#| slow)" in html.unescape(page) and not (nbs / "slow_ran").exists(), "a slow cell ran"
        assert "data:image/png;base64" in page, "the figure is not embedded"
        assert 'href="other.html"' in page, "links between notebooks still point at .ipynb"
        index = (out / "index.html").read_text()
        assert '<a href="tiny.html"><code>tiny</code></a>' in index and "<b>tiny</b>" in index, index
        assert (out / "overview.html").exists()
        # a failing cell fails the build; so does a table row naming a notebook that does not exist
        nbformat.write(nbformat.v4.new_notebook(cells=[_cell("code", "raise ValueError('boom')")]), nbs / "broken.ipynb")
        assert build(nbs, out, jobs=1, only=["broken"]) == 1, "a failing notebook did not fail the build"
        (nbs / "broken.ipynb").unlink()
        nbformat.write(nbformat.v4.new_notebook(cells=[_cell("markdown", table + "| gone | `nbs/gone.ipynb` | x |\n")]), nbs / "index.ipynb")
        assert build(nbs, out, jobs=1, only=["other"]) == 1, "a link to a missing page did not fail the build"
    print("build_docs self-check: ok")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="_site", help="output folder (default: _site)")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed at a time (default: 2)")
    ap.add_argument("--only", nargs="*", help="only these notebooks (stems), e.g. for a quick look")
    ap.add_argument("--check", action="store_true", help="run the self-test on tiny notebooks instead")
    a = ap.parse_args()
    if a.check: self_check(); sys.exit(0)
    os.chdir(ROOT)
    sys.exit(1 if build(ROOT / "nbs", ROOT / a.out, a.jobs, a.only) else 0)
