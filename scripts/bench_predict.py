"""Speed and memory of `mgnb predict` end to end, written to reports/predict/benchmarks.md (+ .json).

Runs `mgnb.predict.predict_paths` with `--workers` processes (one torch thread each) over the first `--videos` test
videos of a MiGA 2025 raw folder (default: data/), in these settings:
  1. skeleton-only bundle, pose by MediaPipe Holistic (decode + pose + streams: what a user's own video costs);
  2. skeleton-only bundle, skeleton files shipped with the videos (no pose extraction);
  3. the full bundle (RGB streams too: decode + saliency crops + every stream), skeleton files for the pose.
The skeleton-only bundle is the exported one without its RGB streams (fusion weights renormalised). The full bundle is
`--full-bundle` when given; else, with `--train-root`, one built from the `train` stage's seed-0 run of every stream of
params.yaml (equal weights: for speed only); else the exported bundle when it has RGB streams.
Frames/s = video frames / wall-clock seconds including the worker processes' start; also given without the start
(sum of per-video seconds). Peak memory: the largest resident set of the main process and of one worker."""
import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mgnb.core import load_json, load_params, save_json
from mgnb.fusion import SoftVote
from mgnb.bundle import load_bundle, save_bundle
from mgnb.detection import bundle_from_pipeline
from mgnb.predict import miga_videos, predict_paths

root = Path(__file__).resolve().parent.parent


def skeleton_only(bundle_dir: Path, out: Path) -> Path:
    b = load_bundle(bundle_dir)
    keep = [n for n, s in b.streams.items() if not s.rgb]
    if not keep: raise SystemExit(f"{bundle_dir} has no skeleton stream")
    w = {n: b.vote.weights[n] for n in keep}
    tot = sum(w.values()) or 1.0
    b.vote = SoftVote({n: b.vote.temperatures[n] for n in keep}, {n: (v / tot if tot else 1 / len(keep)) for n, v in w.items()},
                      b.vote.fused_temperature)
    b.streams, b.models = {n: b.streams[n] for n in keep}, {n: b.models[n] for n in keep}
    return save_bundle(b, out)


def all_streams_bundle(params: dict, prepared: Path, train_root: Path, tmp: Path) -> Path | None:
    streams = [s for s in ("J", "HM", "SW", "R21") if (train_root / s / "seed0" / "checkpoint.pt").exists()]
    if not streams: return None
    (tmp / "cmpl").mkdir(parents=True, exist_ok=True); (tmp / "fuse" / "seed0").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(dict(seed=0, stream=streams, logits=[str(train_root / s / "seed0" / "logits.npz") for s in streams])) \
        .to_csv(tmp / "cmpl" / "final.csv", index=False)
    save_json([dict(variant=params["fuse"]["submit"][0], scaling=params["fuse"]["submit"][1],
                    temperatures={s: 1.0 for s in streams}, weights={s: 1 / len(streams) for s in streams},
                    fused_temperature=1.0)], tmp / "fuse" / "seed0" / "variants.json")
    return save_bundle(bundle_from_pipeline(params, prepared, tmp / "cmpl", tmp / "fuse"), tmp / "full_bundle")


def run(name: str, bundle: Path, videos: list, workers: int, skeleton: str, max_frames, tmp: Path) -> dict:
    out = tmp / name
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    rep = predict_paths(videos, bundle, out, workers=workers, threads=1, overwrite=True, progress=False,
                        skeleton=skeleton, max_frames=max_frames)
    wall = time.perf_counter() - t0
    bad = rep[rep.status != "done"]
    if len(bad): raise SystemExit(f"{name}: {len(bad)} video(s) failed:\n{bad.to_string()}")
    frames = int(rep.frames.sum())
    b = load_bundle(bundle)
    return dict(setting=name, bundle=b.describe().split(", layout")[0], pose=skeleton, videos=len(rep), frames=frames,
                workers=workers, wall_s=round(wall, 1), frames_per_s=round(frames / wall, 1),
                frames_per_s_without_start=round(frames / (rep.seconds.sum() / workers), 1),
                peak_rss_worker_mb=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
                peak_rss_main_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="build/export/bundle")
    p.add_argument("--raw", default="data")
    p.add_argument("--prepared", default="build/prepared")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--train-root", default="build/train", help="build the full bundle from these runs (when no --full-bundle)")
    p.add_argument("--full-bundle", help="a bundle with RGB streams")
    p.add_argument("--videos", type=int, default=4, help="test videos per setting")
    p.add_argument("--max-frames", type=int, help="frames per video (default: all)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--skip-mediapipe", action="store_true")
    p.add_argument("--out", default="reports/predict/benchmarks.md")
    p.add_argument("--note", default="", help="a sentence for the report (e.g. the machine's load)")
    a = p.parse_args(argv)
    videos = [str(v) for v in miga_videos(a.raw, "test").video[: a.videos]]
    tmp = Path(tempfile.mkdtemp(prefix="mgnb_bench_predict_"))
    rows = []
    try:
        skel = skeleton_only(Path(a.bundle), tmp / "skeleton_bundle")
        if not a.skip_mediapipe:
            rows.append(run("skeleton-only, MediaPipe pose", skel, videos, a.workers, "mediapipe", a.max_frames, tmp))
        rows.append(run("skeleton-only, skeleton files", skel, videos, a.workers, "auto", a.max_frames, tmp))
        full = Path(a.full_bundle) if a.full_bundle else None
        if full is None and Path(a.train_root).exists():
            full = all_streams_bundle(load_params(a.params), Path(a.prepared), Path(a.train_root), tmp)
        if full is None and load_bundle(a.bundle).needs_rgb: full = Path(a.bundle)
        if full is not None:
            rows.append(run("full bundle, skeleton files", full, videos, a.workers, "auto", a.max_frames, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = pd.DataFrame(rows)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    import os, platform
    args, shown = list(argv or sys.argv[1:]), []
    while args:   # the command as run, without the note and the output path (which may be absolute)
        x = args.pop(0)
        if x in ("--note", "--out"): args = args[1:]
        elif not x.startswith(("--note=", "--out=")): shown.append(x)
    head = (f"# `mgnb predict` speed\n\n`python scripts/bench_predict.py {' '.join(shown)}` on "
            f"{platform.machine()} with {os.cpu_count()} CPU(s), {a.workers} worker process(es) × 1 torch thread, "
            f"{len(videos)} test video(s) of `{a.raw}`. Frames/s: video frames over wall-clock seconds, worker start "
            f"included (and without it: the sum of per-video seconds shared by the workers). Peak RSS: the largest "
            f"resident set of one worker and of the main process. Target: ≥ 25 frames/s for the skeleton-only bundle "
            f"with MediaPipe pose on 2 cores, 2 workers. Load average (1, 5, 15 min) at the end of the run: "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}. {a.note}\n\n")
    out.write_text(head + table.to_markdown(index=False) + "\n")
    save_json(rows, out.with_suffix(".json"))
    print(out.read_text())


if __name__ == "__main__":
    main()
