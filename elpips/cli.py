"""The `elpips` command: image distances and comparisons from the shell, and weight management.

    elpips distance A B [--distance elpips_vgg] [-n N | --max-error ABS --max-rel-error REL] [--json]
                        [--map diff.png] [--map-raw diff.npy]
    elpips compare REF A B [C ...] [--distance elpips_vgg] [-n N] [--json] [--map-dir DIR]
    elpips attack REF IMAGE --out ADV.png [--distance lpips_vgg] [--epsilon 8/255] [--judge elpips_vgg,l2] [--anchor A]
    elpips weights fetch|verify|path|list

A thin layer over the library: every number comes from `elpips.estimate`, `estimate_adaptive` or
`compare`, or, when difference maps are asked for, from `elpips.difference_map`, which draws the same
samples and so prints the same numbers. Errors a user can fix (unreadable images, bad options, missing weights)
are reported as one line on stderr with a non-zero exit status: 2 for usage and input errors, 1 for weights
(the conventions and common options of every tool, `elpips.cli_common`). ``--metric`` is an alias of ``--distance``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

from .cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OneLineParser,
    add_device_option,
    add_distance_option,
    add_max_memory_option,
    add_no_progress_option,
    add_seed_option,
    import_native_modules,
    positive_float,
    positive_int,
    print_error,
    print_json,
)
from .configs import METRIC_NAMES
from .errors import InputError
from .sampling import (
    DEFAULT_COMPARE_MAX_SAMPLES,
    DEFAULT_MAX_ERROR,
    DEFAULT_MAX_REL_ERROR,
    DEFAULT_MAX_SAMPLES,
    Z_95,
    confidence,
)

EXIT_WEIGHTS = EXIT_FAILED


class UsageError(InputError):
    """A bad combination of options or inputs, reported as one line with exit status 2."""


def main(argv: list[str] | None = None) -> int:
    try:
        import_native_modules()  # first: building the parser imports torch (elpips.adversarial's tables)
    except KeyboardInterrupt:
        print("elpips: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its one-line complaint (or --help)
        return int(exit_.code or 0)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from .weights import WeightsError

    try:
        return args.handler(args)
    except WeightsError as error:
        return _fail(error, EXIT_WEIGHTS, args.verbose)
    except InputError as error:  # the user's (usage, images, files); any other exception keeps its traceback
        return _fail(error, EXIT_USAGE, args.verbose)
    except KeyboardInterrupt:
        print("elpips: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(error: Exception, status: int, verbose: bool) -> int:
    lines = str(error).strip().splitlines() or [type(error).__name__]
    if verbose or len(lines) == 1:
        print_error("elpips", lines[0])
        for line in lines[1:]:
            print(line, file=sys.stderr)
    else:
        print_error("elpips", f"{lines[0]} (--verbose shows the details)")
    return status


# ------------------------------------------------------------------------------------------ arguments


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="elpips", description="E-LPIPS perceptual image distances.")
    parser.add_argument("-v", "--verbose", action="store_true", help="print full error messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    distance = commands.add_parser("distance", help="distance between two images",
                                   description="Prints the distance between images A and B (and, for E-LPIPS, "
                                               "its standard error).")
    distance.add_argument("a", metavar="A", type=Path)
    distance.add_argument("b", metavar="B", type=Path)
    _metric_options(distance)
    distance.add_argument("-n", "--samples", type=positive_int,
                          help="E-LPIPS: average exactly N random transformations (default: adaptive)")
    distance.add_argument("--max-error", type=positive_float, metavar="ABS",
                          help=f"E-LPIPS adaptive sampling: absolute error bound (default {DEFAULT_MAX_ERROR})")
    distance.add_argument("--max-rel-error", type=positive_float, metavar="REL",
                          help=f"E-LPIPS adaptive sampling: relative error bound (default {DEFAULT_MAX_REL_ERROR})")
    distance.add_argument("--max-samples", type=positive_int, default=DEFAULT_MAX_SAMPLES, metavar="M",
                          help=f"E-LPIPS adaptive sampling: stop after M samples (default {DEFAULT_MAX_SAMPLES})")
    distance.add_argument("--map", type=Path, metavar="PNG",
                          help="write where A and B differ as a heat map with a colour bar")
    distance.add_argument("--map-raw", type=Path, metavar="NPY",
                          help="write the heat map's values: .npy (H x W float32), or .npz with them (density), "
                               "the map whose mean is the distance (map), its per-pixel stderr and E-LPIPS' "
                               "per-pixel weight (coverage)")
    distance.set_defaults(handler=_distance)

    compare = commands.add_parser("compare", help="which of several images is closest to a reference",
                                  description="Compares candidates A, B, ... with REF using the same random "
                                              "transformations for all, and says which is closest and how surely.")
    compare.add_argument("reference", metavar="REF", type=Path)
    compare.add_argument("candidates", metavar="CANDIDATE", type=Path, nargs="+", help="two or more images")
    _metric_options(compare)
    compare.add_argument("-n", "--samples", type=positive_int,
                         help="E-LPIPS: exactly N random transformations, shared by all candidates (default: "
                              "sample until the closest candidate leads by 1.96 standard errors)")
    compare.add_argument("--max-samples", type=positive_int, default=DEFAULT_COMPARE_MAX_SAMPLES, metavar="M",
                         help=f"E-LPIPS: stop sampling after M samples (default {DEFAULT_COMPARE_MAX_SAMPLES})")
    compare.add_argument("--map-dir", type=Path, metavar="DIR",
                         help="write each candidate's difference map from REF as DIR/NAME.png (one colour scale for "
                              "all) and DIR/NAME.npz (the arrays of --map-raw)")
    compare.set_defaults(handler=_compare)

    _attack_parser(commands)

    weights = commands.add_parser("weights", help="fetch, verify and list weight files",
                                  description="Weight files are searched in --weights-dir, $ELPIPS_WEIGHTS_DIR, "
                                              "then the cache (`elpips weights path`).")
    weight_commands = weights.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    fetch = weight_commands.add_parser("fetch", help="download (and convert) weight files into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="weight names or file names (default: all)")
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    fetch.set_defaults(handler=_weights_fetch)
    verify = weight_commands.add_parser("verify", help="check the sha256 of every weight file found; exit 0 only "
                                                       "when every file the metrics need is present and intact")
    verify.set_defaults(handler=_weights_verify)
    path = weight_commands.add_parser("path", help="print the cache folder")
    path.set_defaults(handler=_weights_path)
    listing = weight_commands.add_parser("list", help="list the weight files, their sha256 and where they are")
    listing.set_defaults(handler=_weights_list)
    for sub in (fetch, verify, listing):
        sub.add_argument("--weights-dir", type=Path, help="a folder of weight files searched first")
    return parser


def _metric_options(parser: argparse.ArgumentParser) -> None:
    add_distance_option(parser, METRIC_NAMES, "the metric")
    parser.add_argument("--scales", type=positive_int, metavar="S",
                        help="E-LPIPS: number of scale levels (default 8; small images need fewer)")
    add_seed_option(parser, "seed of the random transformations")
    add_device_option(parser)
    parser.add_argument("--weights-dir", type=Path, help="a folder of weight files searched first")
    add_max_memory_option(parser, "an evaluation estimated to need more (larger images)")
    add_no_progress_option(parser, "shown after 2 s on stderr")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


# ------------------------------------------------------------------------------------------ distances


def _distance(args: argparse.Namespace) -> int:
    import torch

    import elpips

    adaptive_options = args.max_error is not None or args.max_rel_error is not None
    if args.samples is not None and adaptive_options:
        raise UsageError("-n/--samples fixes the sample count; it cannot be combined with --max-error/--max-rel-error")
    _check_map_paths(args.map, args.map_raw)
    a, b = _load_images([args.a, args.b])
    metric = _load_metric(args, min(a.shape[-2:]))
    _check_memory(args, metric, 2, tuple(a.shape[-2:]))
    generator = torch.Generator().manual_seed(args.seed)
    adaptive = dict(max_error=args.max_error if args.max_error is not None else DEFAULT_MAX_ERROR,
                    max_rel_error=args.max_rel_error if args.max_rel_error is not None else DEFAULT_MAX_REL_ERROR,
                    max_samples=args.max_samples)
    maps = None
    with torch.no_grad(), _progress_bar(args, metric, args.samples, args.max_samples) as progress:
        if args.map is not None or args.map_raw is not None:
            maps = _difference_map(metric, a, b, args.samples, progress, generator=generator, **adaptive)
            estimate = maps.estimate
        elif metric.config.transforms is None or args.samples is not None:
            estimate = elpips.estimate(metric, a, b, samples=args.samples or 1, generator=generator, progress=progress)
        else:
            estimate = elpips.estimate_adaptive(metric, a, b, generator=generator, progress=progress, **adaptive)
    value, samples = estimate.value.item(), int(estimate.samples)
    stderr = None if metric.config.transforms is None else estimate.stderr.item()
    if maps is not None:
        caption = f"{metric.config.name}: distance {value:.4g} ({samples} samples)"
        _write_map(maps, 0, args.map, args.map_raw, caption)
    if args.json:
        print_json({
            "metric": metric.config.name, "a": str(args.a), "b": str(args.b), "distance": value,
            "stderr": stderr, "samples": samples, **_run_settings(args, metric),
            **({"map": _optional(args.map), "map_raw": _optional(args.map_raw)} if maps is not None else {}),
        })
        return 0
    if stderr is None:
        print(_with_error(value, None))
    else:
        print(f"{_with_error(value, stderr)} (standard error, {samples} samples)")
    for path in (args.map, args.map_raw):
        if path is not None:
            print(f"difference map: {path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    import torch

    import elpips

    if len(args.candidates) < 2:
        raise UsageError("compare needs a reference and at least two candidates: elpips compare REF A B")
    _check_map_paths(folder=args.map_dir)
    reference, *candidates = _load_images([args.reference, *args.candidates])
    metric = _load_metric(args, min(reference.shape[-2:]))
    _check_memory(args, metric, 1 + len(candidates), tuple(reference.shape[-2:]))
    generator = torch.Generator().manual_seed(args.seed)
    map_paths = []
    with torch.no_grad(), _progress_bar(args, metric, args.samples, args.max_samples) as progress:
        if args.map_dir is None:
            result = elpips.compare(metric, reference, candidates, samples=args.samples,
                                    max_samples=args.max_samples, generator=generator, progress=progress)
        else:  # the same draws and stopping rule as elpips.compare, with maps
            maps = _difference_map(metric, reference, torch.cat(candidates), args.samples, progress,
                                   max_samples=args.max_samples, generator=generator, stop_when=_closest_leads)
            result = elpips.Comparison.from_draws(maps.distances, maps.block)
            map_paths = _write_candidate_maps(args, metric, maps)
    values, stderr, samples = result.values.tolist(), result.stderr.tolist(), int(result.samples)
    closest = int(result.closest)
    exact = metric.config.transforms is None  # a deterministic metric has no sampling error
    others = []
    for k in range(len(candidates)):
        if k == closest:
            continue
        diff = result.diff[k, closest].item()
        diff_stderr = None if exact else result.diff_stderr[k, closest].item()
        others.append({
            "candidate": str(args.candidates[k]), "minus_closest": diff, "stderr": diff_stderr,
            "z": diff / diff_stderr if diff_stderr else None,
            "confidence": confidence(diff, diff_stderr),
        })
    if args.json:
        print_json({
            "metric": metric.config.name, "reference": str(args.reference),
            "candidates": [str(path) for path in args.candidates], "values": values,
            "stderr": None if exact else stderr, "samples": samples,
            "closest": closest, "closest_path": str(args.candidates[closest]), "versus_closest": others,
            **_run_settings(args, metric), **({"maps": [str(path) for path in map_paths]} if map_paths else {}),
        })
        return 0
    print(f"closest to {args.reference}: {args.candidates[closest]}")
    for path, value, error in zip(args.candidates, values, stderr):
        print(f"  {path}: {_with_error(value, None if exact else error)}")
    for other in others:
        line = (f"  {other['candidate']} - {args.candidates[closest]} = "
                f"{_with_error(other['minus_closest'], other['stderr'])}")
        if exact:
            line += f" (exact: {args.distance} is deterministic)"
        elif other["z"] is not None:
            line += f" ({other['z']:.1f} standard errors; {other['confidence']:.1%} confident)"
        print(line)
    if not exact:
        print(f"  ({samples} samples shared by all candidates, seed {args.seed})")
    if map_paths:
        print(f"difference maps: {', '.join(str(path) for path in map_paths)}")
    return 0


# ------------------------------------------------------------------------------------------ maps


def _check_map_paths(png: Path | None = None, raw: Path | None = None, folder: Path | None = None) -> None:
    """Refuse unusable map paths before any computation."""
    if png is not None and png.suffix.lower() != ".png":
        raise UsageError(f"--map writes a PNG heat map: give a path ending in .png, not {png}")
    if raw is not None and raw.suffix.lower() not in (".npy", ".npz"):
        raise UsageError("--map-raw writes NumPy data: give a path ending in .npy (the map) or .npz (map and stderr), "
                         f"not {raw}")
    for where in [path.parent for path in (png, raw) if path is not None] + ([folder] if folder is not None else []):
        if where.exists() and not where.is_dir():
            raise UsageError(f"{where} is a file, not a folder: choose another place for the difference maps")


def _write_map(maps, index: int, png: Path | None, raw: Path | None, caption: str, vmax: float | None = None) -> None:
    import numpy as np

    from .heatmap import save
    from .io import atomic_write

    density = maps.density[index, 0].numpy()
    try:
        if png is not None:
            save(png, density, vmax=vmax, caption=caption)
        if raw is not None:
            with atomic_write(raw) as tmp, open(tmp, "wb") as file:
                if raw.suffix.lower() == ".npz":
                    np.savez(file, density=density, map=maps.map[index, 0].numpy(),
                             stderr=maps.stderr[index, 0].numpy(), coverage=maps.coverage[0, 0].numpy())
                else:
                    np.save(file, density)
    except OSError as error:
        where = error.filename or png or raw
        raise UsageError(f"could not write the difference map {where}: {error.strerror or error}") from None


def _closest_leads(maps) -> bool:
    """elpips.compare's stopping rule: two blocks or more, and the closest candidate ahead by 1.96 standard errors."""
    import elpips

    comparison = elpips.Comparison.from_draws(maps.distances, maps.block)
    return maps.samples > maps.block and comparison.confidence_z() >= Z_95


def _write_candidate_maps(args: argparse.Namespace, metric, maps) -> list[Path]:
    """DIR/NAME.png and DIR/NAME.npz per candidate (NAME its file's stem, numbered if stems repeat);
    the PNGs share one colour scale so that they compare."""
    stems = [path.stem for path in args.candidates]
    names = stems if len(set(stems)) == len(stems) else [f"{k + 1}-{stem}" for k, stem in enumerate(stems)]
    vmax = float(maps.density.max())
    written = []
    for k, name in enumerate(names):
        png = args.map_dir / f"{name}.png"
        caption = (f"{metric.config.name}, {args.candidates[k].name} vs {args.reference.name}: "
                   f"distance {maps.map[k].mean():.4g}")
        _write_map(maps, k, png, args.map_dir / f"{name}.npz", caption, vmax)
        written.append(png)
    return written


def _optional(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _load_images(paths: list[Path]):
    import elpips

    images = [elpips.load_image(path) for path in paths]
    first = images[0]
    for path, image in zip(paths[1:], images[1:]):
        if image.shape[-2:] != first.shape[-2:]:
            raise UsageError(
                f"{paths[0]} is {_size(first)} but {path} is {_size(image)} pixels (width x height): the images "
                f"must have the same size; resize or crop one"
            )
    return images


def _load_metric(args: argparse.Namespace, image_side: int):

    import elpips

    if args.scales is not None and args.distance != "elpips_vgg":
        raise UsageError(f"--scales applies to E-LPIPS only; {args.distance} has no random transformations")
    metric = elpips.load_metric(args.distance, device=args.device, num_scales=args.scales,
                                weights_dir=args.weights_dir)
    if image_side < metric.min_image_size:
        hint = ""
        transforms = metric.config.transforms
        if transforms is not None and transforms.num_scales > 1:
            fitting = [s for s in range(transforms.num_scales - 1, 0, -1)
                       if metric.min_image_size_with_scales(s) <= image_side]
            hint = (f", or use fewer scale levels (--scales {fitting[0]})" if fitting else
                    f" (at least {metric.min_image_size_with_scales(1)} px even with one scale level, --scales 1)")
        raise UsageError(
            f"the images are {image_side} pixel{'s' if image_side != 1 else ''} on their short side; {args.distance} "
            f"with these settings needs at least {metric.min_image_size}: upscale them{hint}"
        )
    return metric


def _check_memory(args: argparse.Namespace, metric, images: int, size: tuple[int, int]) -> None:
    """Refuse images whose network passes would need more memory than --max-memory or the device has,
    naming the largest image size that fits."""
    from .memory import available_bytes, check, largest_fitting

    height, width = size
    draws = args.samples or 10  # adaptive sampling evaluates blocks of 10 draws

    def needed(side: int) -> int:
        scale = side / min(height, width)
        return metric.pass_memory(images, max(1, round(height * scale)), max(1, round(width * scale)), draws)

    total = needed(min(height, width))
    room = available_bytes(metric.device) if args.max_memory is None else args.max_memory
    smaller = ""
    if total > room:
        side = largest_fitting(lambda s: needed(s) <= room, min(height, width) - 1, smallest=metric.min_image_size)
        smaller = f"downscale the images to {side} px on their short side or less" if side else "no smaller size fits"
    check(total, metric.device, args.max_memory,
          f"comparing {images} images of {width}x{height} px with {metric.config.name}", smaller)


def _difference_map(metric, x, y, samples, progress, **options):
    """``elpips.difference_map`` with the progress bar advanced as the maps form."""
    import elpips

    done = 0
    for maps in elpips.difference_maps(metric, x, y, samples, **options):
        if progress is not None:
            progress(maps.samples - done)
        done = maps.samples
    return maps


@contextlib.contextmanager
def _progress_bar(args: argparse.Namespace, metric, samples: int | None, max_samples: int):
    """A progress bar over draws on stderr, shown once the estimate has taken 2 s; yields the estimators'
    ``progress`` callback (None with --no-progress, and for deterministic metrics: one evaluation, no draws).
    A fixed count shows the draws done of it with the time left; an adaptive estimate stops at a point
    nobody knows in advance, so it shows the draws done and their rate, the cap in its label, no time left."""
    if args.no_progress or metric.config.transforms is None:
        yield None
        return
    from tqdm import tqdm

    label = "elpips" if samples is not None else f"elpips (until precise, at most {max_samples})"
    with tqdm(total=samples, unit="draw", desc=label, delay=2.0, leave=False, file=sys.stderr,
              dynamic_ncols=True) as bar:
        yield bar.update


def _run_settings(args: argparse.Namespace, metric) -> dict:
    transforms = metric.config.transforms
    return {"seed": args.seed, "device": str(metric.device),
            "num_scales": transforms.num_scales if transforms is not None else None}


def _with_error(value: float, stderr: float | None) -> str:
    return f"{value:.9g}" if stderr is None else f"{value:.6g} ± {stderr:.2g}"


def _size(image) -> str:
    return f"{image.shape[-1]}x{image.shape[-2]}"


# ------------------------------------------------------------------------------------------ attack


def _attack_parser(commands) -> None:
    from .adversarial import JUDGE_SAMPLES, JUDGES, NORMS

    attack = commands.add_parser(
        "attack", help="perturb IMAGE within a budget so that it looks closer to REF under a metric",
        description="Projected sign-gradient attack (elpips.attack): changes every pixel of IMAGE by at most "
                    "--epsilon so that the attacked metric calls it closer to REF, writes the result to --out "
                    "and prints the distances before and after under every metric asked for.")
    attack.add_argument("reference", metavar="REF", type=Path)
    attack.add_argument("image", metavar="IMAGE", type=Path)
    attack.add_argument("--out", type=Path, required=True, metavar="ADV.png", help="where to write the attacked image")
    _metric_options(attack)
    attack.add_argument("--epsilon", type=_budget, default=8 / 255, metavar="EPS",
                        help="the budget in [0, 1] pixel units, a number or a fraction (default 8/255)")
    attack.add_argument("--norm", choices=NORMS, default="linf",
                        help="linf: no pixel value moves more than EPS (default); "
                             "l2: the change's length is at most EPS")
    attack.add_argument("--steps", type=positive_int, default=100, help="descent steps (default 100)")
    attack.add_argument("--samples-per-step", type=positive_int, default=8, metavar="K",
                        help="E-LPIPS: random transformations averaged per step (default 8)")
    attack.add_argument("--step-size", type=positive_float, metavar="ALPHA",
                        help="change per step (default 2.5 EPS / steps)")
    attack.add_argument("--judge", type=_judges, default=(), metavar="M1,M2",
                        help=f"also measure under these metrics, comma separated: {', '.join(JUDGES)}")
    attack.add_argument("--judge-samples", type=positive_int, default=JUDGE_SAMPLES, metavar="N",
                        help=f"E-LPIPS: fresh transformations for the before/after distances (default {JUDGE_SAMPLES})")
    attack.add_argument("--anchor", type=Path, metavar="A",
                        help="an image to rank against: is the attacked image now closer to REF than A is?")
    attack.set_defaults(handler=_attack)


def _budget(text: str) -> float:
    try:
        numerator, _, denominator = text.partition("/")
        value = float(numerator) / float(denominator) if denominator else float(numerator)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"must be a number or a fraction like 8/255, got {text}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _judges(text: str) -> tuple[str, ...]:
    from .adversarial import JUDGES

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in JUDGES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown metric {', '.join(unknown) or repr(text)}: use any of {', '.join(JUDGES)}")
    return names


def _attack(args: argparse.Namespace) -> int:
    from . import adversarial

    paths = [args.reference, args.image] + ([args.anchor] if args.anchor is not None else [])
    reference, image, *anchor = _load_images(paths)
    names = [args.distance] + [name for name in args.judge if name != args.distance]
    if args.scales is not None and "elpips_vgg" not in names:
        raise UsageError("--scales applies to E-LPIPS only; neither --distance nor --judge names elpips_vgg")
    side = min(reference.shape[-2:])
    metrics = [name if name == adversarial.PIXEL_L2 else _load_named_metric(args, name, side) for name in names]
    result = adversarial.attack(
        metrics[0], reference, image, epsilon=args.epsilon, norm=args.norm, steps=args.steps,
        samples_per_step=args.samples_per_step, step_size=args.step_size, seed=args.seed, judges=metrics[1:],
        anchor=anchor[0] if anchor else None, judge_samples=args.judge_samples,
    )
    from . import save_image

    save_image(args.out, result.image)
    record = result.record
    if args.json:
        print_json({"reference": str(args.reference), "image": str(args.image), "out": str(args.out),
                     "anchor": str(args.anchor) if args.anchor else None, **record.to_dict(),
                     **_run_settings(args, metrics[0])})
        return 0
    for line in attack_table(record):
        print(line)
    print(f"wrote {args.out}")
    return 0


def _load_named_metric(args: argparse.Namespace, name: str, image_side: int):
    """`_load_metric` for one of several metrics: --scales goes to E-LPIPS only."""
    return _load_metric(argparse.Namespace(**{**vars(args), "distance": name,
                                              "scales": args.scales if name == "elpips_vgg" else None}), image_side)


def attack_table(record) -> list[str]:
    """The attack's outcome as plain-text lines: its summary, then `elpips.adversarial.table` in aligned columns."""
    from .adversarial import footnote, summary, table

    header, rows = table(record)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    lines = summary(record)
    for cells in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip())
    return lines + [footnote(record)]


# ------------------------------------------------------------------------------------------ weights


def _weights_fetch(args: argparse.Namespace) -> int:
    from . import weights

    names = [weights.weight_file(name).name for name in args.names]  # unknown names: ValueError, exit 2
    failed = 0
    for name, result in weights.fetch(names or None, args.weights_dir, progress=not args.quiet).items():
        if isinstance(result, Path):
            print(f"ok      {name:22} {result}")
        else:
            failed += 1
            first_line = str(result).splitlines()[0]
            print(f"FAILED  {name:22} {first_line}", file=sys.stderr)
            if args.verbose:
                print(str(result), file=sys.stderr)
    if failed:
        print(f"elpips: {failed} weight file(s) could not be obtained (--verbose shows what was tried)",
              file=sys.stderr)
    return EXIT_WEIGHTS if failed else 0


def _weights_verify(args: argparse.Namespace) -> int:
    """Exit 0 only when every file an offered metric needs is present and its sha256 matches."""
    from . import weights

    statuses = weights.verify(args.weights_dir)
    _print_statuses(statuses)
    for status in statuses:
        if status.status == "corrupt":
            print(f"elpips: {status.detail}", file=sys.stderr)
    bad = [status for status in statuses if status.status != "ok"]
    if not bad:
        print(f"elpips: the {len(statuses)} weight files the metrics need are present and intact",
              file=sys.stderr)
        return 0
    names = " ".join(status.name for status in bad)
    print(f"elpips: {len(bad)} needed weight file(s) missing or corrupt ({names}): run `elpips weights fetch {names}` "
          f"(converts local sources offline, else downloads)", file=sys.stderr)
    return EXIT_WEIGHTS


def _weights_list(args: argparse.Namespace) -> int:
    from . import weights

    statuses = weights.verify(args.weights_dir, check_hashes=False)
    print(f"{'NAME':22} {'SHA256 (of the file: compare with sha256sum)':64}  FILE")
    for status in statuses:
        print(f"{status.name:22} {weights.FILES[status.name].sha256}  {status.file_name}")
    print()
    _print_statuses(statuses)
    return 0


def _weights_path(args: argparse.Namespace) -> int:
    from . import weights

    print(weights.cache_dir())
    return 0


def _print_statuses(statuses) -> None:
    print(f"{'NAME':22} {'FILE':36} {'STATUS':8} LOCATION")
    for status in statuses:
        where = status.location or (f"- ({status.detail})" if status.status == "missing" and status.detail else "-")
        print(f"{status.name:22} {status.file_name:36} {status.status:8} {where}")
