"""Benchmarks of the data path and the pipelines; writes reports/benchmarks.md (run: `make bench`).

Measures, in one run on this machine: synthetic generation speed (smoke and default presets), ingestion speed of
the generated data, and the wall time of the smoke and default pipelines (data generation + `dvc repro` in scratch copies of
the working tree). Speed goals live here, never as timed assertions in tests."""
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path

# as under `make`: torch threads that spin-wait for each other cost 3-10x on a loaded 2-core machine
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd

from mgnb.data.ingest import ingest_miga2025
from mgnb.data.synthetic import synthetic_spec, write_benchmark

ROOT = Path(__file__).resolve().parent.parent


def data_path(preset: str, work: Path) -> dict:
    raw, prepared = work / f"raw_{preset}", work / f"prepared_{preset}"
    t = time.perf_counter(); gen = write_benchmark(raw, synthetic_spec(preset), progress=False, n_jobs=2).raise_on_failure()
    gen_s = time.perf_counter() - t
    t = time.perf_counter(); rep = ingest_miga2025(raw, prepared, progress=False); ing_s = time.perf_counter() - t
    n_clips, n_video_frames = int(gen.table.clips.sum()), int(gen.table.frames.sum())  # the generator's report counts them
    return dict(preset=preset, clips=n_clips, videos=len(gen.table), video_frames=n_video_frames,
                generate_s=gen_s, generate_clips_per_s=n_clips / gen_s, generate_frames_per_s=n_video_frames / gen_s,
                ingest_s=ing_s, ingest_clips_per_s=rep.n_clips / ing_s, ingest_frames_per_s=n_video_frames / ing_s)


def pipeline(params_file: str, work: Path) -> float:
    "Wall time of generating data + `dvc repro` in a scratch copy with the given parameter file."
    scratch = work / ("pipe_" + Path(params_file).stem)
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (scratch / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT / f, scratch / f)
    shutil.copy(ROOT / params_file, scratch / "params.yaml")
    for p in ("data", "reports"): shutil.rmtree(scratch / p, ignore_errors=True)
    for p in ("data.dvc", "dvc.lock"): (scratch / p).unlink(missing_ok=True)
    env = {**os.environ, "MGNB_PROGRESS": "0"}
    run = lambda *cmd: subprocess.run(cmd, cwd=scratch, env=env, check=True, stdout=subprocess.DEVNULL)
    run("dvc", "config", "--local", "core.no_scm", "true")
    t = time.perf_counter()
    run("mgnb", "--quiet", "synth", "data", "--params", "params.yaml"); run("dvc", "add", "-q", "data"); run("dvc", "repro")
    return time.perf_counter() - t


def heatmaps() -> pd.DataFrame:
    """Batched torch renderer against the per-frame/joint/person numpy loop of the same rule (PoseC3D's
    GeneratePoseTarget), same input, interleaved in one run (48 frames x 68 joints + 70 limbs x 56²), one thread each:
    the reference is single-threaded numpy, and two torch threads beside other work on 2 cores were slower than one."""
    import torch
    from mgnb.heatmaps import benchmark_heatmaps
    torch.set_num_threads(1)
    return benchmark_heatmaps(n_clips=4, T=48, V=68, size=56, repeats=9)   # medians: the shared machine is noisy


def pose() -> pd.DataFrame | None:
    "End-to-end pose extraction frames/s, 2 worker processes against one sequential process, on the shared real clip."
    from mgnb.pose import benchmark_pose
    video = ROOT.parent / "shared" / "real" / "person_1080p.mp4"
    if not video.exists():
        print(f"pose benchmark skipped: {video.name} not found beside the repository")
        return None
    return benchmark_pose(str(video), copies=16, workers=2, repeats=2)   # 1,152 frames: workers start once per run, as on a real folder


def _stage_runs():
    "(stage notebook, papermill's metadata) of each executed stage notebook of the last `dvc repro` here."
    for nb in sorted((ROOT / "reports" / "stages").glob("*.ipynb")):
        yield nb.stem, json.loads(nb.read_text()).get("metadata", {}).get("papermill", {})


def stage_peaks(memory_log: Path) -> dict:
    """Peak memory in use above idle (the log's first sample) while each stage ran, from the CSV of
    `scripts/timed_run.py` (time, mib) and the start and end times papermill recorded (UTC); stages rerun after the
    logged run have no samples and are left out."""
    log = pd.read_csv(memory_log)
    idle, peaks = float(log["mib"].iloc[0]), {}
    for stage, meta in _stage_runs():
        if not (meta.get("start_time") and meta.get("end_time")): continue
        t0, t1 = (pd.Timestamp(meta[k][:26]).timestamp() for k in ("start_time", "end_time"))   # naive = UTC
        inside = log[(log["time"] >= t0 - 1) & (log["time"] <= t1 + 1)]
        if len(inside): peaks[stage] = round(float(inside["mib"].max()) - idle)
    return peaks


def stage_times(peaks: dict | None = None) -> pd.DataFrame:
    """Wall time of each stage of the last `dvc repro` here, as papermill recorded it in the executed notebooks, and
    its peak memory in use above idle where `peaks` (`stage_peaks` of that run) has it."""
    peaks, rows = peaks or {}, []
    for stage, meta in _stage_runs():
        if meta.get("duration") is not None:
            rows.append({"stage notebook": stage, "wall time (s)": meta["duration"],
                         "peak memory in use above idle (MiB)": peaks.get(stage, "not sampled"),
                         "finished": meta.get("end_time", "")[:19]})
    df = pd.DataFrame(rows)
    if len(df):
        df.loc[len(df)] = {"stage notebook": "total", "wall time (s)": df["wall time (s)"].sum(),
                           "peak memory in use above idle (MiB)": max(peaks.values(), default="not sampled"), "finished": ""}
    return df


def crops() -> pd.DataFrame | None:
    "Crop-cache pipeline speed (decode + saliency box + crop + resize + write) on the default prepared dataset."
    try:
        from mgnb.crops import benchmark_cache
    except ImportError:
        return None
    prepared = ROOT / "build" / "prepared"
    if not prepared.exists():
        print("crop benchmark skipped: build/prepared missing (run `dvc repro ingest`)"); return None
    return benchmark_cache(prepared, n_videos=4)



def _training_setup(ds, p: dict):
    """A stream's `train.<stream>` group of params.yaml → its TrainConfig, its training clips as the `train` stage reads
    them (build/prepared, build/crops) and a function building a fresh model of the stream; None without a crop cache."""
    from functools import partial
    from mgnb.crops import VideoClips
    from mgnb.data.clips import SkeletonClips
    from mgnb.streams import build_stream_model
    from mgnb.train import TrainConfig
    p = dict(p)
    model, options, crops = p.pop("model"), p.pop("model_options", None) or {}, p.pop("crops", None)
    if crops and not (ROOT / crops / "cache.json").exists(): return None
    cfg = TrainConfig.from_dict(p)
    clips = partial(VideoClips, cache_dir=ROOT / crops) if crops else SkeletonClips
    data = clips(ds, "train", cfg.clip_len, train=True, flip_prob=cfg.flip_prob, scale_jitter=cfg.scale_jitter)
    return cfg, data, lambda: build_stream_model(model, ds.layout, len(ds.class_names), cfg.preset, **options)

def _train_step(net, cfg, x, y, bf16: bool = False):
    """One optimisation step of `net` with its stream's loss and optimiser on the batch (x, y), as a function (run
    once); with `bf16` the forward pass runs under bf16 autocast, as `train_one_epoch` does."""
    import torch
    from mgnb.losses import ModelWithLoss, TailAwareLoss
    from mgnb.train import make_optimizer
    net = ModelWithLoss(net, TailAwareLoss(net.num_features, cfg.ose, cfg.ose_lambda))
    opt = make_optimizer(net, cfg)
    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16): _, loss = net(x, y)
        opt.zero_grad(); loss.backward(); opt.step()
    step()   # the first step pays one-off allocations: never timed
    return step

def loader_vs_step(batches: int = 6) -> pd.DataFrame | None:
    """Per stream of params.yaml: milliseconds per training batch spent in the data loader (build/prepared and
    build/crops, as the `train` stages read them) against one optimisation step on that batch (1 thread, at the
    stream's `precision`)."""
    import torch
    from torch.utils.data import DataLoader
    from mgnb.core import load_params
    from mgnb.data.ingest import load_prepared
    from mgnb.train import use_bf16
    if not (ROOT / "build" / "prepared").exists(): return None
    torch.set_num_threads(1)
    ds, rows = load_prepared(ROOT / "build" / "prepared"), []
    for stream, p in load_params(ROOT / "params.yaml")["train"].items():
        if p["model"] == "logreg" or (setup := _training_setup(ds, p)) is None: continue
        cfg, data, build = setup
        for _ in DataLoader(data, batch_size=cfg.batch_size): pass   # one epoch first: the steady state (crops in memory)
        it = iter(DataLoader(data, batch_size=cfg.batch_size, shuffle=True))
        batch = next(it)
        t0 = time.perf_counter()
        for _ in range(batches): batch = next(it)
        load_ms = 1000 * (time.perf_counter() - t0) / batches
        x, y = batch
        step = _train_step(build(), cfg, x, y, use_bf16(cfg.precision, torch.device("cpu")))   # as the run trains
        t0 = time.perf_counter()
        for _ in range(batches): step()
        step_ms = 1000 * (time.perf_counter() - t0) / batches
        rows.append(dict(stream=stream, batch=cfg.batch_size, input=str(tuple(x.shape[1:])), loader_ms_per_batch=round(load_ms, 1),
                         step_ms_per_batch=round(step_ms, 1), loader_share=round(load_ms / (load_ms + step_ms), 3)))
    return pd.DataFrame(rows)

def memory_layout(repeats: int = 7, batches: int = 3) -> pd.DataFrame | None:
    """HM and R21 training steps (1 thread, a batch of build/prepared / build/crops) with their 3-D convs in
    channels-last memory (the default: heatmaps drawn so, R21's input converted) against the same models in the
    plain [N, C, T, H, W] layout (heatmaps drawn contiguous, weights contiguous), calls interleaved, medians."""
    import copy
    import torch
    from torch.utils.data import DataLoader
    from mgnb.core import load_params
    from mgnb.data.ingest import load_prepared
    if not (ROOT / "build" / "prepared").exists(): return None
    torch.set_num_threads(1)
    ds, rows = load_prepared(ROOT / "build" / "prepared"), []
    for stream in ("HM", "R21"):
        if (setup := _training_setup(ds, load_params(ROOT / "params.yaml")["train"][stream])) is None: continue
        cfg, data, build = setup
        x, y = next(iter(DataLoader(data, batch_size=cfg.batch_size, shuffle=True)))
        fast = build()
        # the same weights in the plain layout; channels_last=False also makes HeatmapStream draw contiguous heatmaps
        plain = copy.deepcopy(fast).to(memory_format=torch.contiguous_format)
        plain.channels_last = False
        ms = _interleaved({"channels-last (default)": _train_step(fast, cfg, x, y), "contiguous": _train_step(plain, cfg, x, y)},
                          repeats, batches)
        for k, v in ms.items():
            rows.append(dict(stream=stream, batch=cfg.batch_size, layout=k, step_ms_per_batch=round(v, 1),
                             speedup=round(ms["contiguous"] / v, 2)))
    return pd.DataFrame(rows)

def _interleaved(steps: dict, repeats: int, batches: int) -> dict:
    "Median milliseconds per call of each function in `steps`, the functions called in turn `repeats` times."
    times = {k: [] for k in steps}
    for _ in range(repeats):
        for k, f in steps.items():
            t0 = time.perf_counter()
            for _ in range(batches): f()
            times[k].append(1000 * (time.perf_counter() - t0) / batches)
    return {k: float(np.median(v)) for k, v in times.items()}

def precision(repeats: int = 7, batches: int = 3) -> pd.DataFrame | None:
    """Per neural stream of params.yaml: a training step (1 thread, a real batch) in float32 against the same step
    under bf16 autocast (`precision: bf16`), calls interleaved, medians; the same initial weights for both."""
    import copy
    import torch
    from torch.utils.data import DataLoader
    from mgnb.core import load_params
    from mgnb.data.ingest import load_prepared
    from mgnb.train import cpu_has_native_bf16
    if not (ROOT / "build" / "prepared").exists(): return None
    torch.set_num_threads(1)
    params, rows = load_params(ROOT / "params.yaml"), []
    ds, native = load_prepared(ROOT / "build" / "prepared"), cpu_has_native_bf16()
    for stream in [*params["streams"], *params.get("rgb_streams", [])]:
        p = params["train"][stream]
        if p["model"] == "logreg" or (setup := _training_setup(ds, p)) is None: continue
        cfg, data, build = setup
        x, y = next(iter(DataLoader(data, batch_size=cfg.batch_size, shuffle=True)))
        torch.manual_seed(0)
        net = build()
        ms = _interleaved({"float32": _train_step(net, cfg, x, y), "bf16": _train_step(copy.deepcopy(net), cfg, x, y, True)},
                          repeats, batches)
        rows.append(dict(stream=stream, batch=cfg.batch_size, precision_in_params=p.get("precision", "auto"),
                         fp32_ms_per_step=round(ms["float32"], 1), bf16_ms_per_step=round(ms["bf16"], 1),
                         speedup=round(ms["float32"] / ms["bf16"], 2), native_bf16=native))
    return pd.DataFrame(rows)

def render(results: dict) -> str:
    hm, ps = pd.DataFrame(results.get("heatmaps", [])), results.get("pose")
    lines = ["# Benchmarks", "",
             f"Written by `scripts/bench.py` (`make bench`) on {results['machine']}. " + results.get("conditions", ""), "",
             "## Data path", "", pd.DataFrame(results["data_path"]).to_markdown(index=False, floatfmt=".1f"), "",
             "Generation includes rendering and H.264 encoding of every video frame and writing the 411-column skeleton CSV "
             "(videos rendered by 2 processes); ingestion reads the skeleton and label files, probes each video's header and "
             "writes the prepared dataset.", "",
             "## Heatmap rendering (PoseC3D's GeneratePoseTarget rule, 48 frames x 68 joints + 70 limbs x 56x56, CPU)", "",
             hm.to_markdown(index=False, floatfmt=".3g"), "",
             "Both renderers draw PoseC3D's rule (±3σ windows truncated like its int(), limbs under a pixel as their "
             "start joint, scores below 1e-3 skipped); `reference` is mgnb's numpy loop over clips, frames, persons and "
             "joints/limbs written the way GeneratePoseTarget computes it, `batched` the torch renderer "
             "(`render_heatmaps`), both writing into an output allocated once, calls interleaved; `speedup` is the ratio "
             "of median wall times, `max_abs_diff` the largest difference between the two outputs. `batched, new output`: "
             "the torch renderer allocating its output each call, as the HM stream does for every batch (the kernel's "
             "page faults for 83 MB, fewer with transparent huge pages). `load1_before`: other work on the machine (the "
             "machine's speed moves between workloads and hours: the same reference loop took 104 to 307 ms per clip in "
             "different sessions).", "",
             "## Pose extraction (mediapipe Holistic, decode + pose + mapping + write)", "",
             (pd.DataFrame(ps).to_markdown(index=False, floatfmt=".3g") if ps is not None else "skipped: the real clip was not found"), "",
             "Copies of `person_1080p.mp4` (1920x1080, two people), sequential in this process against 2 spawned workers. "
             "`decode_ms`, `holistic_ms`, `track_ms` (gate, crops, mapping; also opening the video, building graphs and, in a new worker, importing MediaPipe) and `write_ms`: "
             "where a frame's time goes, wall time inside the process that ran the video; `cpu_ms_per_frame`: CPU time "
             "of all processes; `frames_per_s_cpu_bound`: the rate that CPU work (less the workers' start-up) allows on "
             "2 free cores, which is the ceiling for 2 workers.", "",
             *(["## Training loader against the training step (1 thread, params.yaml streams, ms per batch)", "",
                "The loader never the bottleneck: its share of a batch's time (num_workers 0: it runs between the steps).", "",
                pd.DataFrame(results["loader"]).to_markdown(index=False), ""] if results.get("loader") else []),
             *(["## 3-D convolutions in channels-last memory (1 thread, ms per training step, median of interleaved calls)", "",
                pd.DataFrame(results["layout"]).to_markdown(index=False), "",
                "`contiguous` is the same model in the plain [N, C, T, H, W] layout, its heatmaps drawn contiguous (the code "
                "before channels-last): the HM stream's 1x1x1 stem conv over 138 heatmap channels and R(2+1)D's convs run "
                "faster channels-last on CPU, and the renderer draws straight into that layout (converting would cost about "
                "as much as rendering).", ""] if results.get("layout") else []),
             *(["## bf16 autocast against float32 (1 thread, ms per training step, median of interleaved calls)", "",
                pd.DataFrame(results["precision"]).to_markdown(index=False), "",
                "`precision: bf16` (params.yaml) trains under bf16 autocast on a CPU that computes bf16 natively "
                "(`native_bf16`: AVX512-BF16 or AMX; elsewhere the run trains in float32); weights, optimiser state and "
                "evaluation stay float32.", ""] if results.get("precision") else []),
             "## Crop cache (RGB streams: decode + saliency box + crop + resize + write)", "",
             (pd.DataFrame(results["crops"]).to_markdown(index=False, floatfmt=".3g") if results.get("crops") else "not measured in this run"), "",
             "## Pipelines (wall time)", "",
             pd.DataFrame([{"parameter set": k, "wall time (s)": f"{v:.0f}",
                            "peak memory in use above idle (MiB)": f"{results.get('peak_memory_mib', {})[k]:.0f}" if k in results.get("peak_memory_mib", {}) else "not measured"}
                           for k, v in results["pipelines"].items()]).to_markdown(index=False, colalign=("left", "right", "right")), "",
             "## Stages of the last default `dvc repro` (from the executed notebooks in reports/stages/)", "",
             (pd.DataFrame(results["stages"]).to_markdown(index=False, floatfmt=".0f") if results.get("stages") else "no executed stage notebooks"), ""]
    predict = ROOT / "reports" / "predict" / "benchmarks.md"
    if predict.exists():   # written by scripts/bench_predict.py; shown here so that every speed goal is in one file
        body = predict.read_text(encoding="utf-8").split("\n", 1)[1].strip()
        lines += ["## `mgnb predict` end to end (copied from reports/predict/benchmarks.md, `python scripts/bench_predict.py`)", "", body, ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-default-pipeline", action="store_true",
                    help="do not rerun the default pipeline (about 30 minutes); give --default-seconds instead")
    ap.add_argument("--default-seconds", type=float,
                    help="wall time of a default `dvc repro` measured elsewhere (e.g. `time dvc repro` after `make data`)")
    ap.add_argument("--default-peak-mib", type=float,
                    help="peak memory in use (MemTotal - MemAvailable, minus the idle level) during that run, in MiB")
    ap.add_argument("--reproduce-seconds", type=float,
                    help="wall time of `make reproduce` in a fresh clone (install + data + `dvc repro`), timed by the caller")
    ap.add_argument("--reproduce-peak-mib", type=float, help="peak memory in use above idle during that run, in MiB")
    ap.add_argument("--smoke-seconds", type=float,
                    help="wall time of the smoke pipeline measured elsewhere (the 'smoke pipeline: N s' line of `make test`)")
    ap.add_argument("--memory-log", type=Path,
                    help="the CSV that `scripts/timed_run.py --log` wrote during the last default run: each stage's peak memory")
    ap.add_argument("--render-only", action="store_true", help="rewrite benchmarks.md from benchmarks.json (with --default-seconds / --smoke-seconds)")
    ap.add_argument("--conditions", default="", help="a sentence on the conditions of the run (e.g. other load)")
    ap.add_argument("--parts", default="heatmaps,pose,loader,layout,precision,crops,data,smoke,default",
                    help="what to measure now (comma-separated); the rest is kept from reports/benchmarks.json")
    args = ap.parse_args()
    raw = ROOT / "reports" / "benchmarks.json"
    results = json.loads(raw.read_text()) if raw.exists() else {"pipelines": {}}
    parts = set() if args.render_only else set(args.parts.split(","))
    if args.skip_default_pipeline: parts.discard("default")
    results["machine"] = f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}"
    work = Path(tempfile.mkdtemp(prefix="mgnb_bench_"))
    try:
        if "heatmaps" in parts: results["heatmaps"] = heatmaps().to_dict("records")
        if "pose" in parts:
            ps = pose(); results["pose"] = None if ps is None else ps.to_dict("records")
        if "loader" in parts:
            lv = loader_vs_step(); results["loader"] = None if lv is None else lv.to_dict("records")
        if "layout" in parts:
            ml = memory_layout(); results["layout"] = None if ml is None else ml.to_dict("records")
        if "precision" in parts:
            pr = precision(); results["precision"] = None if pr is None else pr.to_dict("records")
        if "crops" in parts:
            cr = crops(); results["crops"] = None if cr is None else cr.to_dict("records")
        if "data" in parts: results["data_path"] = [data_path(p, work) for p in ("smoke", "default")]
        if "smoke" in parts:
            results["pipelines"]["smoke (configs/smoke.yaml): generate data + `dvc repro`"] = pipeline("configs/smoke.yaml", work)
        if "default" in parts:
            results["pipelines"]["default (params.yaml): generate data + `dvc repro`"] = pipeline("params.yaml", work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.memory_log: results["stage_peak_mib"] = stage_peaks(args.memory_log)
    results["stages"] = stage_times(results.get("stage_peak_mib")).to_dict("records")
    timed = "default (params.yaml): `dvc repro` after `make data`, timed by the caller"
    if args.default_seconds: results["pipelines"][timed] = args.default_seconds
    fresh = "default (params.yaml): `make reproduce` in a fresh clone (install, data, `dvc repro`), timed by the caller"
    if args.reproduce_seconds: results["pipelines"][fresh] = args.reproduce_seconds
    if args.reproduce_peak_mib: results.setdefault("peak_memory_mib", {})[fresh] = args.reproduce_peak_mib
    if args.smoke_seconds: results["pipelines"]["smoke (configs/smoke.yaml): generate data + `dvc repro`"] = args.smoke_seconds
    if args.default_peak_mib: results.setdefault("peak_memory_mib", {})[timed] = args.default_peak_mib
    if args.conditions: results["conditions"] = args.conditions
    raw.write_text(json.dumps(results, indent=1, default=float))
    text = render(results)
    (ROOT / "reports" / "benchmarks.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
