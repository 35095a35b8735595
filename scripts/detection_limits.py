"""What limits detection? A validation-only analysis of the exported bundle's segment F1 (no test video is read).

On the validation videos (predicted by the `export` stage into build/export/val_<window>/), one row per way of cutting
and naming segments:
- `decoder`: the bundle's own rule (background threshold, smoothing, minimum length), re-chosen on these videos;
- `true boundaries`: every true segment classified as one clip by the bundle (the score of a perfect segmenter);
- `window W` / `windows W1+W2`: other window lengths, and averages of their frame probabilities (`--windows`;
  predicted here into `--work`), with their best decision rule;
- `actionness`: a temporal CNN on the skeleton, trained on the gesture and idle frames of the training videos; its runs
  above a threshold are classified as whole clips; the threshold, minimum length and the least clip probability kept
  are chosen on validation;
- `actionness gate`: the decoder's frames kept only where the (smoothed) actionness passes a threshold, besides the
  decoder's own confidence threshold; `decoder segments as clips`: the decoder's segments (at a lower confidence
  threshold) classified again as whole clips, kept above a least clip probability. Both grids are chosen on validation.
Columns: segments predicted, those overlapping a true segment at tIoU >= 0.5 (`localised`), those also of the right
class (`correct`), and segment precision / recall / F1. Classifying a span as a clip uses the bundle's skeleton
streams (an RGB stream must have fusion weight 0).

    python scripts/detection_limits.py [--windows 12,24,32] [--work /tmp/detection_limits] [--out limits.md]
"""
import argparse
import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from mgnb.bundle import Decision, load_bundle
from mgnb.detection import choose_decision, choose_window, frame_truth, match_segments, true_segments
from mgnb.layouts import normalize_skeleton
from mgnb.predict import (WindowScores, _label_runs, _StreamRunner, decide, frame_probabilities, load_skeleton,
                          miga_videos, moving_average, skeleton_inputs)


def classify_spans(b, kp: np.ndarray, spans) -> np.ndarray:
    "Fused probabilities `[S, C]` of each span `(start, end)` (inclusive) of `kp` classified as one clip."
    voting = {n: w for n, w in b.vote.weights.items() if w > 0}
    if any(b.streams[n].rgb for n in voting): raise SystemExit("the bundle votes with an RGB stream: spans need crops")
    logits = {}
    for n in voting:
        r = _StreamRunner(b.models[n], b.streams[n].test_views)
        for a, e in spans: r.add(skeleton_inputs(kp[a:e + 1], b.layout, b.streams[n].clip_len, b.streams[n].test_views))
        logits[n] = r.logits()
    return b.vote.probs(logits)


def segment_row(name: str, videos) -> dict:
    """Counts and scores of predicted segments `(start, end, class)` against the truth, over `(pred, truth)` videos:
    `correct` is `match_segments` at tIoU 0.5 (class must match), `localised` the same with classes ignored."""
    n_pred = n_truth = localised = correct = 0
    for pred, truth in videos:
        n_pred, n_truth = n_pred + len(pred), n_truth + len(truth)
        correct += len(match_segments([(a, e, c, 1.0) for a, e, c in pred], truth, 0.5))
        localised += len(match_segments([(a, e, 0, 1.0) for a, e, _ in pred], [(a, e, 0) for a, e, _ in truth], 0.5))
    p, r = correct / max(n_pred, 1), correct / max(n_truth, 1)
    return dict(method=name, predicted=n_pred, true=n_truth, localised=localised, correct=correct,
                precision=round(p, 3), recall=round(r, 3), f1=round(2 * p * r / (p + r) if p + r else 0.0, 3))


def decoder_row(name: str, frame_probs) -> dict:
    "The best decision rule on `(P, covered, truth)` videos, scored as a `segment_row`."
    d, _ = choose_decision(frame_probs)
    return segment_row(name, [([tuple(r) for r in decide(P, cov, d)[1]], tr) for P, cov, tr in frame_probs])


def frame_features(kp: np.ndarray, layout) -> np.ndarray:
    "Per-frame features `[T, F]`: normalised joints relative to the video's median pose, their velocity, scores."
    x = normalize_skeleton(kp[None], layout)[0]
    xy = x[..., :2]
    dev, vel = xy - np.median(xy, 0, keepdims=True), np.diff(xy, axis=0, prepend=xy[:1])
    return np.concatenate([dev.reshape(len(x), -1), 5 * vel.reshape(len(x), -1), x[..., 2]], 1).astype(np.float32)


def train_actionness(train, epochs: int = 20, seed: int = 0) -> nn.Module:
    "A dilated temporal CNN giving each frame's gesture logit, trained on `(features, is_gesture)` of whole videos."
    torch.manual_seed(seed); rng = np.random.default_rng(seed)
    c = train[0][0].shape[1]
    net = nn.Sequential(nn.Conv1d(c, 64, 1), nn.ReLU(), nn.Conv1d(64, 64, 5, padding=2), nn.ReLU(),
                        nn.Conv1d(64, 64, 5, padding=4, dilation=2), nn.ReLU(),
                        nn.Conv1d(64, 64, 5, padding=8, dilation=4), nn.ReLU(), nn.Conv1d(64, 1, 1))
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-2)
    for _ in range(epochs):
        for i in rng.permutation(len(train)):
            f, y = train[i]
            a = int(rng.integers(0, max(1, len(f) - 256)))
            f = f[a:a + 256] + rng.normal(0, 0.02, f[a:a + 256].shape).astype(np.float32)
            loss = nn.functional.binary_cross_entropy_with_logits(net(torch.from_numpy(f.T[None]))[0, 0], torch.from_numpy(y[a:a + 256]))
            opt.zero_grad(); loss.backward(); opt.step()
    return net.eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default="data")
    ap.add_argument("--export-dir", default="build/export")
    ap.add_argument("--windows", default="", help="other window lengths to predict and compare, e.g. 12,24,32")
    ap.add_argument("--work", default="/tmp/detection_limits", help="where those predictions go")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", help="also write the table here (markdown)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    exp = Path(a.export_dir)
    b = load_bundle(exp / "bundle")
    val = miga_videos(a.raw, "val")
    truth = {r.video_id: true_segments(r.labels) for r in val.itertuples()}
    kps = {r.video_id: load_skeleton(r.skeleton, b.layout) for r in val.itertuples()}
    dirs = {b.window: exp / f"val_{b.window}"}
    others = [(int(w), max(1, int(w) // 4)) for w in a.windows.split(",") if w and int(w) != b.window]
    if others:   # predicted as the export stage does; on a copy, since choose_window sets the window it prefers
        choose_window(dataclasses.replace(b), others, val, a.work, workers=a.workers)
        dirs.update({w: Path(a.work) / f"val_{w}" for w, _ in others})
    fp = {(v, w): frame_probabilities(WindowScores.load(d / v / "windows.npz")) for w, d in dirs.items() for v in truth}

    rows = [decoder_row(f"decoder, window {w}", [(*fp[(v, w)], truth[v]) for v in truth]) for w in dirs]
    for combo in (c for k in (2, 3) for c in itertools.combinations(sorted(dirs), k)):
        mixed = [(np.mean([fp[(v, w)][0] for w in combo], 0), np.logical_and.reduce([fp[(v, w)][1] for w in combo]), truth[v])
                 for v in truth]
        rows.append(decoder_row("decoder, windows " + "+".join(map(str, combo)), mixed))
    rows.append(segment_row("true boundaries, each classified as a clip",
                            [([(s, e, int(k)) for (s, e, _), k in zip(truth[v], classify_spans(b, kps[v], [(s, e) for s, e, _ in truth[v]]).argmax(1))], truth[v])
                             for v in truth]))

    train = []
    for r in miga_videos(a.raw, "train").itertuples():
        kp = load_skeleton(r.skeleton, b.layout)
        train.append((frame_features(kp, b.layout), (frame_truth(true_segments(r.labels), len(kp)) >= 0).astype(np.float32)))
    net = train_actionness(train)
    with torch.no_grad():
        act = {v: torch.sigmoid(net(torch.from_numpy(frame_features(kps[v], b.layout).T[None])))[0, 0].numpy() for v in truth}
    best = None
    for th, min_len in itertools.product((0.3, 0.4, 0.5, 0.6), (8, 12, 16)):
        spans = {}
        for v in truth:
            runs = [(s, e) for s, e, _ in _label_runs(np.where(act[v] >= th, 0, -1)) if e - s + 1 >= min_len]
            spans[v] = list(zip(runs, classify_spans(b, kps[v], runs))) if runs else []
        for p_min in (0.0, 0.3, 0.4, 0.5):   # segments whose clip probability is below p_min are dropped
            videos = [([(s, e, int(p.argmax())) for (s, e), p in spans[v] if p.max() >= p_min], truth[v]) for v in truth]
            row = segment_row(f"actionness > {th}, runs >= {min_len} frames, classified as clips, p >= {p_min}", videos)
            if best is None or row["f1"] > best["f1"]: best = row
    rows.append(best)

    fp0 = {v: fp[(v, b.window)] for v in truth}
    act_smooth = {v: moving_average(act[v][:, None], 9)[:, 0] for v in truth}
    gated = []
    for th_a, th, min_len, smooth in itertools.product((0.2, 0.3, 0.4, 0.5), (0.3, 0.35, 0.4, 0.45, 0.5), (12, 16, 20), (1, 9)):
        videos = [([tuple(r) for r in decide(fp0[v][0], fp0[v][1] & (act_smooth[v] >= th_a), Decision(th, min_len, 0, smooth))[1]],
                   truth[v]) for v in truth]
        gated.append(segment_row(f"actionness gate > {th_a} on the decoder (threshold {th}, runs >= {min_len}, smoothing {smooth})", videos))
    rows.append(max(gated, key=lambda r: r["f1"]))   # the first of equal F1, as before
    reclassified, clip_probs = [], {}
    for th, min_len in itertools.product((0.3, 0.35, 0.4, 0.45), (12, 16, 20)):
        runs = {v: [(a, e) for a, e, _ in decide(*fp0[v], Decision(th, min_len, 0, 9))[1]] for v in truth}
        for v in truth:
            new_spans = [r for r in runs[v] if (v, r) not in clip_probs]
            if new_spans: clip_probs.update({(v, r): p for r, p in zip(new_spans, classify_spans(b, kps[v], new_spans))})
        for p_min in (0.0, 0.4, 0.5, 0.6):
            videos = [([(a, e, int(clip_probs[(v, (a, e))].argmax())) for a, e in runs[v] if clip_probs[(v, (a, e))].max() >= p_min],
                       truth[v]) for v in truth]
            reclassified.append(segment_row(f"decoder segments (threshold {th}, runs >= {min_len}) as clips, p >= {p_min}", videos))
    rows.append(max(reclassified, key=lambda r: r["f1"]))
    table = pd.DataFrame(rows).to_markdown(index=False)
    print(table)
    if a.out: Path(a.out).write_text(f"# What limits detection (validation, {len(truth)} videos)\n\n{table}\n")


if __name__ == "__main__":
    main()
