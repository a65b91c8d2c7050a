"""The refinement budget of a texture start (issue 27: keep the texture, a 5-frame 64 px morph in at most 60 CPU s).

For each turn and zoom, the texture start as a run makes it (`geometry.geodesic(..., motion="texture",
refine="none")`: the tile blend at the detected turn and scale, spaced evenly under E-LPIPS), then the engine's
pixel refinement from those frames (`start_images=`, the same draws as the default run) with

* ``steps N``: a run of N steps (its own cosine schedule);
* ``preset@K``: the preset's run (60 steps of 4 draws at 64 px) seen at its step K (snapshots of one run), and
  ``early@K``: the step K at which the preset's energy stops falling (`stop_step`: the mean one-step energy over
  the last WINDOW steps no longer RELATIVE below the mean over the WINDOW before), seen in the same run.

The middle frame (frame 2 of 5) is judged against the truth (the texture at the middle angle and scale): spectral
ghost from the measured spectra of the endpoints and the truth, contrast over the truth's, E-LPIPS to the truth
(16 fixed draws; for a 90 degree turn the nearer of both ways' middles), and the path energy (16 fixed draws).
CPU seconds are process time of the start plus the refinement (one thread by default: on a shared machine two
threads' spinning inflates process time; `bench_texture_run_cost.py` times the default run on two).

    python benchmarks/bench_texture_budget.py                          # every scene, steps 5 and 10, no trace
    python benchmarks/bench_texture_budget.py --trace "orient 0-90"    # also the preset's run on that scene
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(Path.home() / ".cache" / "elpips"))
import torch  # noqa: E402
from texture_photos import similarity_scene  # noqa: E402
from texture_scenes import orientation, scale  # noqa: E402

from geometry import estimate_energy, geodesic  # noqa: E402
from geometry.paths.quality import highpass_contrast, spectral_ghost  # noqa: E402

SIZE, FRAMES, SEED = 64, 5, 0
SAMPLES, SAMPLE_SEED = 16, 20261205
#: Early stopping, judged on the preset run's one-step energies.
WINDOW, RELATIVE = 5, 0.01
TRACE_STEPS = (5, 10, 20, 30, 60)


def scenes() -> dict:
    made = [similarity_scene("brick", SIZE, degrees=60), similarity_scene("brick", SIZE, degrees=90),
            similarity_scene("brick", SIZE, zoom=3.0), orientation(SIZE, 60), orientation(SIZE, 90),
            scale(SIZE, 4, 12)]
    return {scene.name: scene for scene in made}


def stop_step(energies: list[float]) -> int:
    """The first step at which the mean of the last WINDOW one-step energies is not RELATIVE below the mean of the
    WINDOW before (the energy has stopped falling); the last step if it never stops."""
    for step in range(2 * WINDOW, len(energies) + 1):
        recent = sum(energies[step - WINDOW:step]) / WINDOW
        before = sum(energies[step - 2 * WINDOW:step - WINDOW]) / WINDOW
        if recent > (1 - RELATIVE) * before:
            return step
    return len(energies)


def judge(scene, frames: torch.Tensor, metric) -> dict:
    a, b, middle = frames[:1], frames[-1:], frames[FRAMES // 2:FRAMES // 2 + 1]
    middles = scene.middles()
    with torch.no_grad():
        to_truth = min(float(metric(middle, m, samples=SAMPLES, generator=torch.Generator().manual_seed(SAMPLE_SEED)))
                       for m in middles)
    energy = estimate_energy(images=frames, kind="geodesic", inputs=torch.cat([a, b]), samples=SAMPLES,
                             seed=SAMPLE_SEED)
    distances = energy.distances
    return dict(ghost=min(spectral_ghost(middle, m, a, b).fraction for m in middles),
                contrast=highpass_contrast(middle) / highpass_contrast(middles[0]), elpips=to_truth,
                energy=energy.value, evenness=max(distances) / min(distances))


def report(name: str, method: str, figures: dict, cpu: float, evaluations: float) -> None:
    print(f"{name:16s} {method:12s} ghost {figures['ghost']:6.3f} contrast {figures['contrast']:5.2f} "
          f"E-LPIPS to truth {figures['elpips']:.4f} energy {figures['energy']:.6f} max/min "
          f"{figures['evenness']:4.2f} evaluations {evaluations:5.0f} CPU {cpu:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", default=None, help="scene names (default: all)")
    parser.add_argument("--steps", nargs="*", type=int, default=[5, 10], help="short refinements' step counts")
    parser.add_argument("--trace", nargs="*", default=[], help="scenes also refined by the preset's run, traced")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import elpips

    metric = elpips.load_metric("elpips_vgg", device="cpu")
    print(f"{SIZE} px, {FRAMES} frames, seed {SEED}, {args.threads} thread(s); early stop: window {WINDOW}, "
          f"relative {RELATIVE}", flush=True)
    for name, scene in scenes().items():
        if args.scenes and name not in args.scenes:
            continue
        a, b = scene.render(0.0), scene.render(1.0)
        began = time.process_time()
        start = geodesic(a, b, frames=FRAMES, seed=SEED, snapshot_steps=[], motion="texture", refine="none")
        start_cpu, start_evaluations = time.process_time() - began, start.record.evaluations
        taken = start.record.settings["start"]
        print(f"{name:16s} start taken {taken.get('taken')}, load average {os.getloadavg()[0]:.1f}", flush=True)
        report(name, "start", judge(scene, start.images, metric), start_cpu, start_evaluations)
        inner = start.images[1:-1]
        for steps in args.steps:
            began = time.process_time()
            run = geodesic(a, b, frames=FRAMES, seed=SEED, snapshot_steps=[], start_images=inner, steps=steps)
            report(name, f"steps {steps}", judge(scene, run.images, metric),
                   start_cpu + time.process_time() - began, start_evaluations + run.record.evaluations)
        if name not in args.trace:
            continue
        snapshots: dict[int, tuple[torch.Tensor, float]] = {}
        began = time.process_time()

        def keep(progress) -> None:
            if progress.snapshot is not None:
                snapshots[progress.step] = (progress.snapshot.clone(), time.process_time() - began)

        run = geodesic(a, b, frames=FRAMES, seed=SEED, snapshot_steps=list(range(61)), start_images=inner,
                       callback=keep)
        energies = [energy for _, energy in run.record.energies]
        per_step = run.record.evaluations / len(energies)
        stop = stop_step(energies)
        print(f"{name:16s} preset one-step energies (every 5th): "
              f"{' '.join(f'{e:.5f}' for e in energies[::5])}; stops falling at step {stop}", flush=True)
        for step in sorted({*TRACE_STEPS, stop}):
            if step not in snapshots:
                continue
            frames, cpu = snapshots[step]
            label = f"early@{step}" if step == stop else f"preset@{step}"
            report(name, label, judge(scene, frames, metric), start_cpu + cpu, start_evaluations + per_step * step)


if __name__ == "__main__":
    main()
