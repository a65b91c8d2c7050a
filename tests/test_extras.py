"""A plain install: the metric and the geometry work without the extras (Gradio, pandas, imageio-ffmpeg),
and what needs one says which, in one line. Each check runs in a fresh interpreter in which those
modules cannot be imported (a meta-path finder refuses them, as if they were not installed)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from elpips.extras import EXTRAS, MissingExtra, require

REPO = Path(__file__).resolve().parents[1]
BLOCKER = """
import importlib.abc, sys
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("gradio", "pandas", "imageio_ffmpeg"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())
"""


def without_extras(code: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_the_metric_and_the_geometry_work_without_the_extras(tmp_path):
    done = without_extras("""
import torch, elpips, geometry
metric = elpips.load_metric("lpips_vgg")
x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
print(float(metric(x, x.flip(-1))))
import geometry.api, geometry.tools.geodesic, geometry.tools.average
assert not {"gradio", "pandas", "imageio_ffmpeg"} & set(sys.modules)
""", tmp_path)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip().splitlines()[-1]) > 0


def test_the_web_ui_names_its_extra_when_gradio_is_missing(tmp_path):
    done = without_extras("from app.__main__ import main; main(['--output-dir', 'out'])", tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "elpips-app: the web UI needs Gradio: pip install 'elpips-torch[app]'"]


def test_require_names_the_extra_and_returns_the_module():
    assert require("imageio_ffmpeg", "writing MP4").__name__ == "imageio_ffmpeg"
    assert set(EXTRAS["gradio"]) == {"Gradio", "app"}
    with pytest.raises(MissingExtra, match=r"^writing MP4 needs imageio-ffmpeg: pip install 'elpips-torch\[video\]'$"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(sys.modules, "imageio_ffmpeg", None)  # None in sys.modules: import fails
            require("imageio_ffmpeg", "writing MP4")


NEEDS_SHARED = "test_linear_weights_are_float32_vectors_in_layer_order"


@pytest.mark.parametrize("ci, outcome, status", [("true", "1 error", 1), ("", "1 skipped", 0)])
def test_tests_that_need_the_reference_data_fail_in_ci_when_it_is_missing(tmp_path, ci, outcome, status):
    env = {**os.environ, "CI": ci, "ELPIPS_SHARED_DIR": str(tmp_path / "missing"), "PYTHONPATH": str(REPO)}
    env.pop("ELPIPS_WEIGHTS_DIR", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "--rootdir", str(REPO), f"tests/test_weights.py::{NEEDS_SHARED}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == status and outcome in done.stdout, done.stdout
    assert "reference data folder" in done.stdout and "is missing" in done.stdout


def test_a_tool_that_needs_a_missing_extra_says_which_in_one_line(capsys):
    from elpips.extras import MissingExtra
    from geometry.tools import support

    def body(args):
        raise MissingExtra("writing MP4 and reading video needs imageio-ffmpeg: pip install 'elpips-torch[video]'")

    code = support.run_tool("elpips-geodesic", lambda: __import__("argparse").ArgumentParser(), [], body)
    assert code == support.EXIT_FAILED
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "pip install 'elpips-torch[video]'" in lines[0]
