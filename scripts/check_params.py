"""Check that every parameter set (params.yaml, configs/*.yaml) has the keys of params.yaml and that each stream's
training knobs make a valid TrainConfig and a buildable model (on the meta device: no memory, no arithmetic)."""
import inspect
import sys
from pathlib import Path

import torch
import yaml

from mgnb.core import load_params, merge_params
from mgnb.layouts import MGNB68
from mgnb.models.linear import fit_linear_baseline
from mgnb.streams import build_stream_model
from mgnb.train import TrainConfig, check_config

root = Path(__file__).resolve().parent.parent
reference = load_params(root / "params.yaml")

def keys(d, prefix=""):
    return {prefix + k for k in d} | {x for k, v in d.items() if isinstance(v, dict) and k not in ("train", "overrides")
                                      for x in keys(v, prefix + k + ".")}

cmpl_deps = {d.split("/")[-1] for d in yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["cmpl"]["deps"]
             if d.startswith("build/train/")}

problems = []
for path in [root / "params.yaml", *sorted((root / "configs").glob("*.yaml"))]:
    p = load_params(path)
    missing = keys(reference) - keys(p)
    if missing: problems.append(f"{path.name}: missing {sorted(missing)}")
    trained = set(p["streams"]) | set(p.get("rgb_streams", []))
    for s in p["cmpl"]["streams"]:
        if s not in trained: problems.append(f"{path.name}: cmpl.streams names {s}, which neither streams nor rgb_streams trains")
        if s not in cmpl_deps: problems.append(f"{path.name}: cmpl.streams names {s}, but dvc.yaml's cmpl stage does not depend on build/train/{s}")
    if p["ablate_loss"].get("design", "grid") not in ("grid", "one_at_a_time"):
        problems.append(f"{path.name}: ablate_loss.design must be grid or one_at_a_time")
    runs = {s: p["train"][s] for s in p["streams"]}
    for s in p.get("ablate_loss", {}).get("streams", []):
        runs[f"ablate_loss.{s}"] = merge_params(p["train"][s], p["ablate_loss"]["overrides"].get(s, {}))
    for name, knobs in runs.items():
        knobs = dict(knobs)
        model, options = knobs.pop("model"), knobs.pop("model_options", None) or {}
        knobs.pop("train_per_class", None)
        if model == "logreg":   # the linear baseline takes fit_linear_baseline's arguments, not a TrainConfig
            unknown = set(knobs) - set(inspect.signature(fit_linear_baseline).parameters) - {"seed"}
            if unknown: problems.append(f"{path.name}: train.{name}: unknown linear-baseline parameters {sorted(unknown)}")
            continue
        try:
            cfg = TrainConfig.from_dict(knobs)
            check_config(cfg)   # types and ranges, as `mgnb train` and train_stream check them
            with torch.device("meta"): build_stream_model(model, MGNB68, 32, cfg.preset, **options)
        except Exception as e:
            problems.append(f"{path.name}: train.{name}: {type(e).__name__}: {e}")
print("\n".join(problems) or "every parameter set is valid")
sys.exit(1 if problems else 0)
