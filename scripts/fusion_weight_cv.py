"""Which validation score should choose the fusion weights? A cross-validation on the validation split alone.

For each seed of the default run, the streams' validation logits (the `train` stage's runs, or with `--cmpl-dir` and
`--round` those of a CMPL round, to compare CMPL settings on validation) are split by
subject: temperatures and weights are fitted on two validation subjects and the fusion is scored (macro-F1) on the
other two, over every pair. Criteria: the fused NLL, the fused macro-F1 (`mgnb.fusion.choose_weights`), equal
weights, the first stream of `cmpl.streams` alone, and plain averaging without temperatures. No test clip is read. Writes a markdown table (default
reports/fusion_weight_cv.md).

    python scripts/fusion_weight_cv.py [--params params.yaml] [--out reports/fusion_weight_cv.md]
    python scripts/fusion_weight_cv.py --cmpl-dir build/cmpl --round 1 --out /tmp/cmpl_round1.md
"""
import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from mgnb.core import load_params
from mgnb.data.ingest import load_prepared
from mgnb.fusion import align_logits, choose_weights, fit_temperature, fuse, labels_of
from mgnb.metrics import macro_f1
from mgnb.paths import cmpl_stream_dir, logits_file, train_run_dir


def held_out_scores(logits: dict, y: np.ndarray, subjects: np.ndarray, step: float) -> list[dict]:
    "Macro-F1 on the held-out subjects of every criterion, one row per pair of fitting subjects."
    rows, subs = [], sorted(set(subjects))
    first = next(iter(logits))   # the main stream (first in cmpl.streams), for comparison
    for fold in itertools.combinations(subs, len(subs) // 2):
        fit, held = np.isin(subjects, fold), ~np.isin(subjects, fold)
        zf = {s: z[fit] for s, z in logits.items()}
        zh = {s: z[held] for s, z in logits.items()}
        temps = {s: fit_temperature(z, y[fit]) for s, z in zf.items()}
        weights = {"nll": choose_weights(zf, y[fit], temps, step, criterion="nll").weights,
                   "macro_f1": choose_weights(zf, y[fit], temps, step, criterion="macro_f1").weights,
                   "equal": {s: 1.0 for s in logits}, f"{first} alone": {first: 1.0}}
        for name, w in weights.items():
            rows.append(dict(fold="+".join(fold), criterion=name,
                             macro_f1=macro_f1(y[held], fuse(zh, w, temps).argmax(1), zh[first].shape[1])))
        # plain averaging of the softmaxes, no temperatures: the fusion table's `average, none`
        rows.append(dict(fold="+".join(fold), criterion="equal, no temperatures",
                         macro_f1=macro_f1(y[held], fuse(zh).argmax(1), zh[first].shape[1])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--prepared", default="build/prepared")
    ap.add_argument("--train-root", default="build/train")
    ap.add_argument("--cmpl-dir", default=None, help="score the runs of a CMPL round under this folder instead")
    ap.add_argument("--round", type=int, default=1, help="the CMPL round (with --cmpl-dir)")
    ap.add_argument("--out", default="reports/fusion_weight_cv.md")
    a = ap.parse_args()
    params = load_params(a.params)
    streams, seeds = list(params["cmpl"]["streams"]), [int(s) for s in params["seeds"]]
    index = load_prepared(a.prepared).index.set_index("clip_id")
    val_labels = index.loc[index.split == "val", "label"].dropna().astype(int)
    rows = []
    for seed in seeds:
        runs = {s: (train_run_dir(a.train_root, s, seed) if a.cmpl_dir is None else cmpl_stream_dir(a.cmpl_dir, seed, a.round, s))
                for s in streams}
        al = align_logits({s: logits_file(d) for s, d in runs.items()})["val"]
        y = labels_of(al.clip_ids, val_labels)
        for r in held_out_scores(al.logits, y, index.loc[al.clip_ids, "subject"].to_numpy(), float(params["fuse"]["weight_step"])):
            rows.append(dict(seed=seed, **r))
    df = pd.DataFrame(rows)
    table = df.groupby("criterion", sort=False).macro_f1.agg(["mean", "std", "count"]).rename(
        columns={"mean": "held-out macro-F1", "std": "sd", "count": "fits"})
    what = "train stage" if a.cmpl_dir is None else f"CMPL round {a.round} in {a.cmpl_dir}"
    text = (f"# Fusion weights: which validation score chooses them\n\nStreams {', '.join(streams)} ({what}, seeds "
            f"{seeds}); weights and temperatures fitted on half of the validation subjects and scored on the other half, "
            f"every split (`python scripts/fusion_weight_cv.py`). No test clip is read.\n\n{table.round(4).to_markdown()}\n")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
