"""Write README.md from nbs/index.ipynb (nbdev's own README builder needs quarto, which we do not use).
Markdown cells are copied; code cells become Python code blocks; a markdown cell that is exactly `<!-- results -->`
becomes the results section that the pipeline's report stage wrote (reports/readme_results.md).
`--check` fails when README.md is stale."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root / "nbs" / "index.ipynb").read_text(encoding="utf-8"))
results = root / "reports" / "readme_results.md"
parts = ["<!-- generated from nbs/index.ipynb by scripts/readme.py: edit the notebook, not this file -->"]
for cell in nb["cells"]:
    src = "".join(cell["source"]).strip()
    if not src or src.startswith("#|"): continue
    if src == "<!-- results -->":
        src = results.read_text(encoding="utf-8").strip() if results.exists() else \
            "## Results on the embedded benchmark\n\nNot generated yet: run `make reproduce`."
    parts.append(src if cell["cell_type"] == "markdown" else f"```python\n{src}\n```")
text = "\n\n".join(parts) + "\n"
readme = root / "README.md"
if "--check" in sys.argv:
    if not readme.exists() or readme.read_text(encoding="utf-8") != text:
        sys.exit("README.md is out of date with nbs/index.ipynb and reports/readme_results.md: run `python scripts/readme.py`")
else:
    readme.write_text(text, encoding="utf-8")
