"""benchmarks/bench_gpu.py runs every part on the CPU at 16 px (the GPU check must not first fail on a GPU)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_gpu  # noqa: E402


@pytest.mark.slow
def test_bench_gpu_cpu_smoke(tmp_path):
    out = tmp_path / "gpu.txt"
    bench_gpu.main(["--cpu-smoke", "--size", "16", "--out", str(out)])
    text = out.read_text()
    for part in ("agreement fp32", "agreement bf16 autocast", "throughput   16 px", "geodesic 10 frames   16 px",
                 "determinism 16 px", "clip pair 28x16", "total"):
        assert part in text
    assert "identical frames" in text  # same seed twice on the CPU
