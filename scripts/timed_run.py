"""Run a command, timing it and sampling the machine's memory in use; for the pipeline rows of reports/benchmarks.md.

    python scripts/timed_run.py --log build/reproduce_memory.csv -- make reproduce

Memory in use is MemTotal - MemAvailable from /proc/meminfo (Linux), sampled every `--every` seconds into a CSV
(`time`: Unix seconds, `mib`), the level before the command started being `idle`. At the end it prints the wall time,
the idle level and the peak above it; `scripts/bench.py --memory-log` reads the CSV to give each stage of the
`dvc repro` its own peak (the samples inside the stage's start and end, as papermill recorded them)."""
import argparse, subprocess, sys, threading, time
from pathlib import Path


def memory_in_use_mib() -> float:
    "MemTotal - MemAvailable in MiB: what the machine's processes hold, page cache not counted."
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", required=True, type=Path, help="CSV of the samples (time, mib)")
    ap.add_argument("--every", type=float, default=2.0, help="seconds between samples")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command: ap.error("give the command to run after --")
    if not Path("/proc/meminfo").exists(): sys.exit("timed_run.py reads /proc/meminfo: Linux only")
    args.log.parent.mkdir(parents=True, exist_ok=True)
    idle, stop = memory_in_use_mib(), threading.Event()
    peak = [idle]

    def sample():
        with args.log.open("w") as f:
            f.write("time,mib\n")
            while True:
                mib = memory_in_use_mib()
                peak[0] = max(peak[0], mib)
                f.write(f"{time.time():.1f},{mib:.0f}\n"); f.flush()
                if stop.wait(args.every): return

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter(); sampler.start()
    rc = subprocess.call(command)
    wall = time.perf_counter() - t0
    stop.set(); sampler.join()
    print(f"timed_run: rc={rc} wall_s={wall:.0f} idle_mib={idle:.0f} peak_above_idle_mib={peak[0] - idle:.0f} "
          f"(samples: {args.log})")
    sys.exit(rc)


if __name__ == "__main__":
    main()
