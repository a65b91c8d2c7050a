"""Morphs of photographed textures (benchmarks/texture_photos.py, endpoints from different crops): the middle
frames of the starts, judged without a shared layout, and contact sheets.

* turns and zooms (SIMILARITY_SCENES; a truth exists: the photo at the middle angle and scale, cut from a third
  place): spectral ghost from the MEASURED spectra of the endpoints and the truth
  (`geometry.paths.quality.spectral_ghost`: the middle frame's power in the endpoints' bands over its power
  there and in the truth's), contrast over the truth's, E-LPIPS to the truth (16 shared draws); the middle
  frame (t = 1/2). The ghost twice: from the single crops a, b and the truth (bands of one crop each: crop
  noise on photos), and POOLED, its bands from the spectra of the photo at the endpoints' and the middle's
  parameters averaged over `texture_photos.POOLED_VIEWS` crops from random places (`PhotoScene.pooled`), with
  contrast over the pooled truth's; "n/a" where those bands hold too little power (`SpectralGhost.applies`).
  The FEATURE ghost (`geometry.paths.sliced.feature_ghost`; issue 27's "one texture, not two overlaid" where
  the spectral one cannot apply): the middle frame's VGG feature statistics nearer the pooled truth's views
  (0) or the dissolves of pooled endpoint views from other places (1); "n/a" where the two pools lie under
  MIN_SEPARATION times their own noise apart; per scene its floor, HELD_OUT truth views from other random
  places scored as the frames are.
  Rows: ``truth elsewhere`` (the true middle cut from a fourth place: what a perfect morph can score, the
  single-crop measures' floor); ``dissolve``; ``tile`` (the `texture` start, `texture_frames`: one
  endpoint turned and zoomed to the middle; a blend of both before 2026-12-06) and ``synth``
  (benchmarks/texture_turn_variant.py: one texture synthesised at the
  interpolated statistics of the endpoints turned and scaled within their own pixels, from the `tile` start),
  each under the TRUE turn and zoom and under the one `detect_similarity` finds, so that detection and start
  are judged apart;
* changes (one photo becoming another; no truth): the superposition score (`geometry.paths.sliced`: 1 for the
  dissolve, 0 for a texture with the interpolated statistics), the middle frame's layout correlation with each
  endpoint (`geometry.paths.quality.layout_correlation`: about 0.7 for the dissolve, 0 for a layout of its own;
  the mortar lines the score does not see), contrast over the endpoints' mean, and the 5-frame path's evenness
  (max/min consecutive E-LPIPS distance). Methods: ``dissolve``, ``change`` (the texture-change start as a run
  makes it: `geometry.geodesic(..., motion="change")`, each frame synthesised at its evenly spaced time),
  ``change (dissolve start)`` (the same, its syntheses started from the dissolve as before issue 27's mortar
  fix; `--change-variants`), ``change+refine`` (`geometry.geodesic(...,
  motion="change", refine="pixels")`) and ``change run`` (the default run, motion="auto"), with CPU seconds.

Contact sheets (only the CC0 photos, or images made from them): STEM_<size>px.png, one row per scene and method:
a, the three in-between frames, b (and for turns and zooms the truth).
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from texture_photos import POOL_SEED, photo_scenes
from texture_turn_variant import synthesise_turned

from geometry import geodesic
from geometry.paths.detection import detect_similarity
from geometry.paths.motion import BoundPath, TexturePath
from geometry.paths.quality import highpass_contrast, layout_correlation, spectral_ghost
from geometry.paths.sliced import feature_ghost, superposition_score
from geometry.paths.textures import Similarity

#: The turns and zooms judged by default (`--scenes` names others: every turn and zoom of texture_photos).
SIMILARITY_SCENES = ("brick turn 60", "brick turn 90", "grass turn 60", "gravel zoom x2", "brick zoom x3")
MIDDLE = torch.tensor([0.5], dtype=torch.float64)
#: A change's middle frame has a layout of its own where its correlation with either endpoint's is at most this
#: (the dissolve's: 0.66-0.79; a synthesis from noise: |0.06| or less).
LAYOUT_AT_MOST = 0.2
#: E-LPIPS to the truth: the mean over this many draws, the same draws for every method.
ELPIPS_SAMPLES, ELPIPS_SEED = 16, 20261205
#: The feature ghost's b views (seed: other places than a's) and its floor's held-out truth views (count, seed).
FEATURE_B_SEED, HELD_OUT, HELD_OUT_SEED = POOL_SEED + 1, 8, POOL_SEED + 2


def _evenness(frames: torch.Tensor) -> float:
    from geometry import estimate_energy

    est = estimate_energy(images=frames, kind="geodesic", inputs=torch.cat([frames[:1], frames[-1:]]), samples=32,
                          seed=20261205)
    return max(est.distances) / min(est.distances)


def similarity_rows(size: int, metric, sheet: list, scenes: list[str] | None = None,
                    starts: tuple[str, ...] = ("tile", "synth"), samples: int = ELPIPS_SAMPLES) -> list[dict]:
    rows = []
    chosen = [s for s in photo_scenes(size) if s.spectral and (s.name in (scenes or SIMILARITY_SCENES))]
    for scene in chosen:
        a, b = scene.render(0.0), scene.render(1.0)
        middles = scene.middles()
        started = time.process_time()
        found = detect_similarity(a, b)
        detection_cpu = time.process_time() - started
        candidates = {"truth elsewhere": (scene.elsewhere(), 0.0), "dissolve": (scene.dissolve(3)[1:2], 0.0)}
        for source, (angle, scale) in (("true", (scene.angle, scene.scale)), ("found", (found.angle, found.scale))):
            texture = TexturePath(Similarity(angle, scale))
            started = time.process_time()
            candidates[f"tile ({source})"] = (BoundPath(texture, a, b)(MIDDLE).float(), time.process_time() - started)
            if "synth" not in starts:
                continue
            started = time.process_time()
            made = synthesise_turned(a, b, MIDDLE, candidates[f"tile ({source})"][0], angle, scale,
                                     generator=torch.Generator().manual_seed(0))
            candidates[f"synth ({source})"] = (made, time.process_time() - started)
        print(f"{size:4d} px {scene.name:20s} found {math.degrees(found.angle):6.1f} deg x{found.scale:4.2f} "
              f"(true {math.degrees(scene.angle):4.0f} deg x{scene.scale:4.2f}; {detection_cpu:4.1f} CPU s)",
              flush=True)
        pooled_ends = scene.pooled(0.0, 1.0), scene.pooled(scene.angle, scene.scale)
        pooled_middles = [scene.pooled(*parameters) for parameters in scene.middle_parameters]
        pooled_contrast = highpass_contrast(pooled_middles[0])
        features = feature_ghosts(scene, torch.cat([middle for middle, _ in candidates.values()]), pooled_middles,
                                  pooled_ends[0])
        for (method, (middle, cpu)), feature in zip(candidates.items(), features):
            ghost = min(spectral_ghost(middle, m, a, b).fraction for m in middles)
            pooled = min((spectral_ghost(middle, m, *pooled_ends) for m in pooled_middles), key=lambda g: g.fraction)
            contrast = highpass_contrast(middle) / highpass_contrast(middles[0])
            with torch.no_grad():
                to_truth = min(float(metric(middle, m, samples=samples,
                                            generator=torch.Generator().manual_seed(ELPIPS_SEED))) for m in middles)
            rows.append(dict(size=size, scene=scene.name, method=method, ghost=ghost, contrast=contrast,
                             pooled=pooled.fraction if pooled.applies else None, band_share=pooled.band_share,
                             pooled_contrast=highpass_contrast(middle) / pooled_contrast, elpips=to_truth, cpu=cpu,
                             feature=feature))
            sheet.append((f"{scene.name} {method}", torch.cat([a, middle, b, middles[0]])))
            shown = f"{pooled.fraction:6.3f}" if pooled.applies else "   n/a"
            print(f"{size:4d} px {scene.name:20s} {method:16s} ghost {ghost:6.3f} contrast {contrast:5.2f} "
                  f"E-LPIPS to truth {to_truth:.4f} CPU {cpu:5.1f} s | pooled ghost {shown} (bands hold "
                  f"{pooled.band_share:.3f}) contrast {rows[-1]['pooled_contrast']:5.2f} | feature ghost "
                  + (f"{feature:5.3f}" if feature is not None else "  n/a"), flush=True)
    return rows


def feature_ghosts(scene, frames: torch.Tensor, pooled_middles: list[torch.Tensor],
                   pooled_a: torch.Tensor) -> list[float | None]:
    """Each frame's feature ghost (the least over the scene's middles; None where the measure does not separate),
    printing the separation and the floor: HELD_OUT truth views from other places, scored alike."""
    held_out = scene.pooled(*scene.middle_parameters[0], seed=HELD_OUT_SEED)[:HELD_OUT]
    pooled_b = scene.pooled(scene.angle, scene.scale, seed=FEATURE_B_SEED)
    ghosts = [feature_ghost(torch.cat([frames, held_out]), middle, pooled_a, pooled_b) for middle in pooled_middles]
    best = [min(column, key=lambda g: g.fraction) for column in zip(*ghosts)]
    floor = [g.fraction for g in best[len(frames):]]
    print(f"{scene.size:4d} px {scene.name:20s} feature ghost: pools {best[0].separation:4.1f}x their noise apart"
          f"{'' if best[0].applies else ' (n/a)'}; floor, {HELD_OUT} held-out truth views: mean "
          f"{sum(floor) / len(floor):5.3f} max {max(floor):5.3f}", flush=True)
    return [g.fraction if g.applies else None for g in best[:len(frames)]]


@contextmanager
def dissolve_started():
    """The change start as it was before the fresh layout: syntheses started from the dissolve's frames."""
    from geometry.paths import motion

    kept = motion.FreshLayoutPath
    motion.FreshLayoutPath = lambda a, b: motion.DissolvePath()
    try:
        yield
    finally:
        motion.FreshLayoutPath = kept


def change_rows(size: int, sheet: list, run_sizes: list[int], variants: bool = False) -> list[dict]:
    rows = []
    for index, scene in enumerate([s for s in photo_scenes(size) if not s.spectral]):
        a, b = scene.render(0.0), scene.render(1.0)
        reference = (highpass_contrast(a) + highpass_contrast(b)) / 2

        def report(method: str, inner: torch.Tensor, cpu: float, taken: str = "") -> None:
            score = superposition_score(inner[1:2], a, b)
            layout = (layout_correlation(inner[1:2], a), layout_correlation(inner[1:2], b))
            contrast = highpass_contrast(inner[1:2]) / reference
            evenness = _evenness(torch.cat([a, inner, b]))
            rows.append(dict(size=size, scene=scene.name, method=method, superposition=score.fraction,
                             layout=max(layout), contrast=contrast, evenness=evenness, cpu=cpu, taken=taken))
            sheet.append((f"{scene.name} {method}", torch.cat([a, inner, b])))
            print(f"{size:4d} px {scene.name:20s} {method:23s} superposition {score.fraction:5.3f} layout a/b "
                  f"{layout[0]:+5.2f}/{layout[1]:+5.2f} contrast {contrast:5.2f} max/min {evenness:5.2f} CPU "
                  f"{cpu:6.1f} s {taken}", flush=True)

        report("dissolve", scene.dissolve(5)[1:4], 0.0)
        started = time.process_time()
        start = geodesic(a, b, frames=5, seed=0, motion="change", snapshot_steps=[])  # the start, kept as it is
        report("change", start.images[1:4], time.process_time() - started)
        if variants:
            started = time.process_time()
            with dissolve_started():
                old = geodesic(a, b, frames=5, seed=0, motion="change", snapshot_steps=[])
            report("change (dissolve start)", old.images[1:4], time.process_time() - started)
        if size not in run_sizes or index > 0:   # whole runs: the first change only (minutes each)
            continue
        for label, settings in (("change run", dict()), ("change+refine", dict(motion="change", refine="pixels"))):
            started = time.process_time()
            result = geodesic(a, b, frames=5, seed=0, snapshot_steps=[], **settings)
            taken = result.record.settings.get("start", {}).get("taken", "")
            report(label, result.images[1:4], time.process_time() - started, taken)
    return rows


def write_sheet(path: Path, sheet: list) -> None:
    from geometry.service.video import write_contact_sheet

    width = max(len(frames) for _, frames in sheet)
    frames, labels = [], []
    for label, row in sheet:
        padded = torch.cat([row, torch.ones(width - len(row), *row.shape[1:])]) if len(row) < width else row
        frames.append(padded)
        labels += [label[:28]] + [""] * (width - 1)
    write_contact_sheet(path, torch.cat(frames), columns=width, labels=labels)


def part_morphs(sizes: list[int], run_sizes: list[int], stem: Path, kinds: tuple[str, ...] = ("changes", "similar"),
                scenes: list[str] | None = None, starts: tuple[str, ...] = ("tile", "synth"),
                change_variants: bool = False, samples: int = ELPIPS_SAMPLES) -> None:
    import elpips

    metric = elpips.load_metric("elpips_vgg", device="cpu")
    print("\n== photographed textures, unaligned crops: middle frames of the starts (targets: turns and zooms "
          "ghost <= 0.3, contrast >= 0.9; changes superposition <= half the dissolve's, contrast >= 0.9, "
          "max/min <= 1.3)")
    for size in sizes:
        sheet: list = []
        rows = change_rows(size, sheet, run_sizes, change_variants) if "changes" in kinds else []
        rows += similarity_rows(size, metric, sheet, scenes, starts, samples) if "similar" in kinds else []
        write_sheet(Path(f"{stem}_{'_'.join(kinds)}_{size}px.png"), sheet)
        for kind, method in dict.fromkeys(("ghost" in r, r["method"]) for r in rows):
            members = [r for r in rows if r["method"] == method and ("ghost" in r) == kind]
            if kind:
                met = sum(r["ghost"] <= 0.3 and r["contrast"] >= 0.9 for r in members)
                judged = [r for r in members if r["pooled"] is not None]
                pooled = sum(r["pooled"] <= 0.3 and r["pooled_contrast"] >= 0.9 for r in judged)
                seen = [r for r in members if r["feature"] is not None]
                feature = sum(r["feature"] <= 0.3 and r["pooled_contrast"] >= 0.9 for r in seen)
            else:
                met = sum(r["superposition"] <= 0.5 and r["contrast"] >= 0.9 and r["evenness"] <= 1.3
                          for r in members)
                fresh = sum(r["layout"] <= LAYOUT_AT_MOST for r in members)
            label = "turns/zooms" if kind else "changes"
            print(f"{size:4d} px {label:11s} {method:23s} targets met on {met}/{len(members)}"
                  + (f"; pooled ghost and contrast on {pooled}/{len(judged)} where the pooled ghost applies "
                     f"({len(members) - len(judged)} n/a: the change moves no power apart); feature ghost and "
                     f"contrast on {feature}/{len(seen)} ({len(members) - len(seen)} n/a)" if kind else
                     f", middle's layout correlation <= {LAYOUT_AT_MOST} on {fresh}/{len(members)}"))
