"""Check that every dvc.yaml stage depends on every mgnb module its notebook runs, so that `dvc repro` cannot call a
stage up to date after a change to code it executes. A stage's modules are found statically with `ast`: the imports
of the stage notebook's code cells, then, transitively, the imports of each mgnb module reached (imports inside
functions included: they run when the function is called). A dependency covers a module when it is the module's file
or a folder above it (`mgnb/models`). Package `__init__.py` files that hold nothing but a docstring and `__version__`
are not required (a version bump changes no result). A stage whose code reads `mgnb/assets` must depend on it too.

    python scripts/check_dvc_deps.py          # exit 1 and list what is missing
    python scripts/check_dvc_deps.py --fix    # add the missing entries to the stages' deps lists in dvc.yaml
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PKG = "mgnb"


def notebook_source(path: Path) -> str:
    "The code cells of a notebook as one Python source (IPython magics and shell lines blanked)."
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        for line in "".join(c["source"]).splitlines():
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
        lines.append("")
    return "\n".join(lines)


def module_file(name: str) -> Path | None:
    "The file of dotted module `name` inside the package (a module or a package's `__init__.py`), or None."
    parts = name.split(".")
    if parts[0] != PKG: return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file(): return base.with_suffix(".py")
    if (base / "__init__.py").is_file(): return base / "__init__.py"
    return None


def imported_modules(source: str, current: str | None = None, filename: str = "<stage>") -> set[str]:
    """Dotted names of the package modules that `source` imports. `current` is the dotted name of the module the
    source belongs to (for relative imports)."""
    out = set()
    tree = ast.parse(source, filename=filename)
    is_pkg = current is not None and filename.endswith("__init__.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == PKG: out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if current is None: continue
                base = current.split(".")
                base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != PKG: continue
            out.add(mod)
            for a in node.names:   # `from mgnb.data import ingest` imports a module
                if module_file(f"{mod}.{a.name}") is not None: out.add(f"{mod}.{a.name}")
    # a module imports its parent packages first
    for m in list(out):
        parts = m.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return {m for m in out if module_file(m) is not None}


def closure(source: str, filename: str) -> set[Path]:
    "Files of every package module that `source` reaches, transitively."
    todo, seen = list(imported_modules(source, filename=filename)), set()
    while todo:
        m = todo.pop()
        if m in seen: continue
        seen.add(m)
        f = module_file(m)
        todo.extend(imported_modules(f.read_text(encoding="utf-8"), m, str(f)) - seen)
    return {module_file(m) for m in seen}


def trivial_init(f: Path) -> bool:
    "An `__init__.py` holding only a docstring and `__version__`: changing it changes no result."
    if f.name != "__init__.py": return False
    for node in ast.parse(f.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant): continue
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets): continue
        return False
    return True


def required_deps(source: str, filename: str) -> set[str]:
    "Repository-relative paths a stage running `source` must depend on."
    files = {f for f in closure(source, filename) if not trivial_init(f)}
    req = {f.relative_to(ROOT).as_posix() for f in files}
    if any("asset_path(" in f.read_text(encoding="utf-8") for f in files) or "asset_path(" in source:
        req.add(f"{PKG}/assets")
    return req


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d.rstrip("/") or path.startswith(d.rstrip("/") + "/") for d in deps)


def stage_notebooks(cmd: str) -> list[str]:
    "Notebooks a stage command executes with papermill (the first .ipynb after each `papermill`)."
    return re.findall(r"papermill\s+(?:--?\S+\s+)*(\S+\.ipynb)", cmd)


def missing_deps(dvc: dict) -> dict[str, list[str]]:
    "Per stage name: the required dependencies its deps list lacks."
    out = {}
    for name, st in dvc["stages"].items():
        st = st.get("do", st)   # foreach stages: the template (their deps do not vary by item here)
        deps = [str(d) for d in st.get("deps", [])]
        need = set()
        for nb in stage_notebooks(st["cmd"]):
            nb_path = ROOT / nb
            if not nb_path.is_file(): raise SystemExit(f"dvc.yaml, stage {name}: runs {nb}, which does not exist")
            need |= required_deps(notebook_source(nb_path), nb)
            if nb not in deps: need.add(nb)
        lack = sorted(p for p in need if not covered(p, deps))
        if lack: out[name] = lack
    return out


def fix(text: str, missing: dict[str, list[str]]) -> str:
    "Insert the missing entries at the end of each stage's deps list, keeping the file's comments and layout."
    lines = text.splitlines(keepends=True)
    for name, lack in missing.items():
        i = next(k for k, l in enumerate(lines) if re.match(rf"^  {re.escape(name)}:\s*$", l))
        j = next(k for k in range(i + 1, len(lines)) if lines[k].strip() == "deps:")
        indent = None
        k = j + 1
        last = j
        while k < len(lines):
            s = lines[k]
            if s.strip().startswith("- "):
                indent = indent or s[:len(s) - len(s.lstrip())]
                last = k
            elif s.strip() and not s.strip().startswith("#"):
                break
            k += 1
        lines[last + 1:last + 1] = [f"{indent}- {p}\n" for p in lack]
    return "".join(lines)


def self_test(dvc: dict):
    "The check can fail: every stage imports mgnb.core, so dropping mgnb/core.py from a stage must be reported."
    import copy
    for name in dvc["stages"]:
        broken = copy.deepcopy(dvc)
        st = broken["stages"][name].get("do", broken["stages"][name])
        st["deps"] = [d for d in st.get("deps", []) if d not in (PKG, f"{PKG}/core.py")]
        assert f"{PKG}/core.py" in missing_deps(broken).get(name, []), f"check_dvc_deps missed {PKG}/core.py dropped from {name}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = ROOT / "dvc.yaml"
    self_test(yaml.safe_load(path.read_text(encoding="utf-8")))
    missing = missing_deps(yaml.safe_load(path.read_text(encoding="utf-8")))
    if "--fix" in argv and missing:
        path.write_text(fix(path.read_text(encoding="utf-8"), missing), encoding="utf-8")
        for name, lack in missing.items(): print(f"dvc.yaml: added to {name}: {', '.join(lack)}")
        missing = missing_deps(yaml.safe_load(path.read_text(encoding="utf-8")))
    n = sum(map(len, missing.values()))
    for name, lack in missing.items():
        print(f"dvc.yaml, stage {name}: deps lack {', '.join(lack)} (its notebook runs them)")
    if n: print(f"{n} missing stage dependencies; `python scripts/check_dvc_deps.py --fix` adds them")
    else: print(f"dvc.yaml: every stage depends on each {PKG} module its notebook runs")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
