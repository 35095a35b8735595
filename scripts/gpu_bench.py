"""GPU benchmarks of the RGB and heatmap streams; writes a Markdown section (default reports/gpu_benchmarks.md) and
the same figures as JSON beside it (reports/gpu_benchmarks.json).

Measures, in one run on one CUDA device:
  1. SW `paper` preset (exactly torchvision's swin3d_t) training throughput at 32×224×224: one training step is
     forward, cross-entropy, backward and AdamW. Three configurations, each on a fresh model: fp32 eager (TF32
     off), bf16 autocast eager, and bf16 autocast + channels_last_3d + torch.compile. Clips/s over `--steps` timed
     steps (CUDA events) after `--warmup` untimed ones (which include compilation), peak memory.
  2. HM heatmap rendering on the device (mgnb.heatmaps): the batched renderer against the numpy reference on
     4 clips, and the throughput of one training batch (`--batch-heatmaps` clips × 48 frames × 138 channels × 56²).
Without a GPU it prints why, writes a section saying it was skipped, and exits 0. A configuration that fails (out
of memory, a compile error) is reported in its row; the others still run. Sized to finish in about 3–5 minutes on
an H200 (most of it compilation); `--budget-s` stops starting new configurations after that many seconds.

`--device cpu --preset cpu-tiny --frames 8 --size 64` runs the same code on CPU at a toy size (a smoke test of the
script, not a benchmark); `--no-swin` measures the heatmaps alone (e.g. `--device cpu --no-swin --batch-heatmaps 2`)."""
import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sync(device):
    import torch
    if device.type == "cuda": torch.cuda.synchronize(device)


def train_throughput(preset: str, batch: int, frames: int, size: int, steps: int, warmup: int, bf16: bool,
                     channels_last: bool, compile: bool, device) -> dict:
    "Training clips/s of the SW stream in one configuration (a fresh model, same seed)."
    import torch
    from torch import nn
    from mgnb.models.video import build_swin
    torch.manual_seed(0)
    model = build_swin(None, 32, preset).to(device)   # (layout, num_classes, preset): the stream-builder signature
    x = torch.randn(batch, 3, frames, size, size, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    y = torch.randint(0, 32, (batch,), device=device)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    net = torch.compile(model) if compile else model

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss

    if device.type == "cuda": torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(warmup): step()                          # untimed: allocator, cuDNN autotuning, compilation
    _sync(device)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps): loss = step()
        end.record(); _sync(device)
        seconds = start.elapsed_time(end) / 1e3
    else:
        for _ in range(steps): loss = step()
        seconds = time.perf_counter() - t0
    return dict(clips_per_s=batch * steps / seconds, ms_per_step=1e3 * seconds / steps, warmup_s=warm_s,
                peak_mem_gib=torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
                final_loss=float(loss), finite=bool(torch.isfinite(loss)))


def swin_rows(args, device, deadline: float) -> list[dict]:
    import torch
    configs = [("fp32 eager (TF32 off)", False, False, False),
               ("bf16 autocast eager", True, False, False),
               ("bf16 autocast + channels_last_3d + torch.compile", True, True, True)]
    rows, cudnn_tf32 = [], torch.backends.cudnn.allow_tf32
    for name, bf16, cl, comp in configs:
        row = dict(configuration=name, preset=args.preset, batch=args.batch, input=f"3x{args.frames}x{args.size}x{args.size}",
                   steps=args.steps, warmup=args.warmup)
        if time.perf_counter() > deadline:
            rows.append({**row, "error": f"not run: the {args.budget_s:.0f} s budget was spent"}); continue
        # fp32 means fp32: no TF32 in matmuls or convolutions; the bf16 rows run with torch's defaults
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = cudnn_tf32 if bf16 else False
        print(f"swin {args.preset}: {name} ...", flush=True)
        try:
            row.update(train_throughput(args.preset, args.batch, args.frames, args.size, args.steps, args.warmup,
                                        bf16, cl, comp, device))
        except Exception as e:  # out of memory, a compile failure: report it, go on with the next configuration
            row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        finally:
            if comp: torch._dynamo.reset()                     # the next configuration compiles afresh
            if device.type == "cuda": torch.cuda.empty_cache()
        rows.append(row)
        print(f"  {row.get('clips_per_s', float('nan')):.2f} clips/s {row.get('error', '')}", flush=True)
    base = rows[0].get("clips_per_s")
    for r in rows:
        if base and r.get("clips_per_s"): r["speedup"] = r["clips_per_s"] / base
    return rows


def heatmap_rows(args, device) -> list[dict]:
    "The renderer against the numpy reference (4 clips), and one training batch rendered on the device."
    import numpy as np
    import torch
    from mgnb.heatmaps import _demo_skeleton, benchmark_heatmaps, fit_to_grid, render_heatmaps
    from mgnb.layouts import MGNB68
    print("heatmaps ...", flush=True)
    rows = benchmark_heatmaps(n_clips=4, T=48, V=68, size=56, repeats=3, device=str(device)).to_dict("records")
    rng = np.random.default_rng(0)
    kp = torch.as_tensor(fit_to_grid(np.stack([_demo_skeleton(48, rng) for _ in range(args.batch_heatmaps)]), 56), device=device)
    out = torch.zeros(args.batch_heatmaps, 138, 48, 56, 56, device=device)
    render_heatmaps(kp, MGNB68, 56, out=out); _sync(device)            # warm-up
    times = []
    for _ in range(5):
        _sync(device); t0 = time.perf_counter()
        render_heatmaps(kp, MGNB68, 56, out=out); _sync(device)
        times.append(time.perf_counter() - t0)
    s = float(np.median(times))
    rows.append(dict(renderer=f"batched, one training batch of {args.batch_heatmaps}", device=str(device),
                     clips=args.batch_heatmaps, frames=48, joints=68, channels=138, size="56x56",
                     ms_per_clip=1e3 * s / args.batch_heatmaps, clips_per_s=args.batch_heatmaps / s))
    return rows


def _table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    "Markdown table of `rows` with (key, header, format) columns; errors shown in their own column."
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for k, _, f in cols:
            v = r.get(k)
            cells.append("" if v is None or (isinstance(v, float) and v != v) else (format(v, f) if f else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(res: dict) -> str:
    head = "## GPU benchmarks\n\n"
    if res.get("skipped"):
        return head + f"Skipped: {res['reason']} ({res['when']}, host `{res['host']}`, torch {res['torch']}). " \
                      f"Run `python scripts/gpu_bench.py` on a machine with a CUDA GPU to fill this section.\n"
    a = res["args"]
    out = head + (f"{res['when']}, {res['device_name']}, torch {res['torch']} (CUDA {res['cuda']}); "
                  f"`python scripts/gpu_bench.py`, {res['seconds']:.0f} s in all.\n\n")
    same = " = torchvision `swin3d_t`" if a["preset"] == "paper" else ""
    if res["swin"]:
        out += (f"### SW training throughput (`{a['preset']}` preset{same}), "
                f"{a['frames']}×{a['size']}×{a['size']}, batch {a['batch']}\n\n"
                f"One step: forward, cross-entropy, backward, AdamW; {a['steps']} timed steps after {a['warmup']} untimed "
                "(the warm-up includes compilation).\n\n")
    out += "" if not res["swin"] else _table(res["swin"], [("configuration", "configuration", ""), ("clips_per_s", "clips/s", ".2f"),
                                ("ms_per_step", "ms/step", ".1f"), ("speedup", "speed-up", ".2f"),
                                ("peak_mem_gib", "peak GiB", ".1f"), ("warmup_s", "warm-up s", ".1f"),
                                ("error", "error", "")]) + "\n"
    if res.get("heatmaps"):
        out += ("\n### HM heatmap rendering on the device (mgnb68: 68 joint + 70 limb channels, 48 frames, 56×56)\n\n"
                + _table(res["heatmaps"], [("renderer", "renderer", ""), ("device", "device", ""), ("clips", "clips", "d"),
                                           ("ms_per_clip", "ms/clip", ".3f"), ("clips_per_s", "clips/s", ".1f"),
                                           ("speedup", "speed-up vs reference", ".0f"), ("max_abs_diff", "max |diff|", ".1e")]) + "\n")
    return out


def write(res: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(res), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "gpu_benchmarks.md", help="Markdown file (JSON beside it)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cuda:N; cpu for a smoke test of the script")
    p.add_argument("--preset", default="paper", help="SW preset (paper = swin3d_t)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=10, help="timed training steps per configuration")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation happens here)")
    p.add_argument("--no-heatmaps", dest="heatmaps", action="store_false", help="skip the heatmap rendering benchmark")
    p.add_argument("--no-swin", dest="swin", action="store_false", help="skip the SW training benchmark (heatmaps only: ~1 min)")
    p.add_argument("--batch-heatmaps", type=int, default=32, help="clips rendered in the training-batch measurement")
    p.add_argument("--budget-s", type=float, default=360, help="start no new configuration after this many seconds")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch
    t0 = time.perf_counter()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        reason = "no CUDA device (torch.cuda.is_available() is False)"
        print(f"gpu_bench: skipped — {reason}")
        write(dict(skipped=True, reason=reason, when=when, host=platform.node(), torch=torch.__version__), args.out)
        return 0
    res = dict(skipped=False, when=when, host=platform.node(), torch=torch.__version__, cuda=torch.version.cuda,
               device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
               args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()})
    res["swin"] = swin_rows(args, device, t0 + args.budget_s) if args.swin else []
    if args.heatmaps:
        try: res["heatmaps"] = heatmap_rows(args, device)
        except Exception as e: res["heatmaps"] = [dict(renderer="failed", error=f"{type(e).__name__}: {e}")]
    res["seconds"] = time.perf_counter() - t0
    write(res, args.out)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
