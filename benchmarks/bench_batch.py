"""Benchmark of elpips-batch backends: jobs per minute on a private Ray cluster vs the local backend,
on the same job file. Prints numbers; not a test.

    python benchmarks/bench_batch.py                                  # 8 E-LPIPS averages, 64 px, 30 steps
    python benchmarks/bench_batch.py --jobs 16 --distance l2 --steps 200 --num-cpus 2

The job file (--jobs pairwise averages of the cat and dog at 64 px, one seed each) is written into a fresh
folder for each backend, so neither run skips anything. The local backend runs the jobs one after another
in this process (torch using every core); the Ray backend on a private cluster of --num-cpus CPUs, one
job per CPU, each worker loading the network once. Both times include loading networks and writing
outputs; the Ray time excludes starting the cluster, which is printed separately (a real cluster is
already running).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the private cluster stays on loopback

from geometry.service import jobs  # noqa: E402
from geometry.service.backends.local import LocalBackend  # noqa: E402
from geometry.service.backends.ray_backend import RayBackend  # noqa: E402
from geometry.tools import batch  # noqa: E402

DATA = SHARED / "data" / "elpips_inputs"


def write_job_file(folder: Path, count: int, distance: str, size: int, steps: int) -> Path:
    folder.mkdir(parents=True)
    for name in ("cat64.png", "dog64.png"):
        shutil.copy(DATA / "small" / name, folder / name)
    text = f'[settings]\ndistance = "{distance}"\nsize = {size}\nsteps = {steps}\n'
    for seed in range(count):
        text += (f'\n[[jobs]]\nkind = "average"\ninputs = ["cat64.png", "dog64.png"]\noutput = "out/{seed}"\n'
                 f'settings = {{ seed = {seed} }}\n')
    path = folder / "jobs.toml"
    path.write_text(text)
    return path


def timed_run(job_file: Path, backend) -> float:
    started = time.perf_counter()
    code = batch.run_batch(jobs.load_job_file(job_file), backend, progress=False)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{backend.name} backend: some jobs failed; see {batch.default_manifest_path(job_file)}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--distance", default="elpips_vgg")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the private Ray cluster")
    args = parser.parse_args()

    import ray

    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        local_file = write_job_file(root / "local", args.jobs, args.distance, args.size, args.steps)
        ray_file = write_job_file(root / "ray", args.jobs, args.distance, args.size, args.steps)
        print(f"{args.jobs} jobs: average of cat and dog, {args.distance}, {args.size} px, {args.steps} steps; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews the ratio)")

        local_s = timed_run(local_file, LocalBackend(device="cpu"))
        print(f"local backend:     {local_s:7.1f} s  {60 * args.jobs / local_s:6.2f} jobs/min")

        started = time.perf_counter()
        ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, logging_level="WARNING")
        print(f"(ray cluster start: {time.perf_counter() - started:.1f} s, not counted)")
        try:
            ray_s = timed_run(ray_file, RayBackend(device="cpu"))
        finally:
            ray.shutdown()
        print(f"ray, {args.num_cpus} CPUs:       {ray_s:7.1f} s  {60 * args.jobs / ray_s:6.2f} jobs/min")
        print(f"ray / local:       {local_s / ray_s:.2f}x jobs per minute")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
