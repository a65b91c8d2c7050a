"""Same seed, same bits on CPU, with the real VGG network at tiny sizes.

The cause found: the backward of advanced indexing (``images[..., rows, cols]`` in the transforms,
``features[:, i]`` with a repeated index in the pair distances) is ``index_put(accumulate=True)``, which
on CPU adds repeated positions with atomic adds in an order that depends on thread timing; with two
threads the same loss gave a different gradient on every repeat. ``gather``/``index_select`` replaced it.
The tests run with at least two threads, the condition under which the old code failed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import elpips
from elpips.transforms import apply_draws

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    yield
    torch.set_num_threads(before)


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()


def test_transform_gradients_are_bitwise_repeatable(two_threads):
    config = elpips.get_config("elpips_vgg").transforms
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(5, 3, 64, 64, generator=generator)
    draws = elpips.sample_draws(config, 32, generator)
    digests = set()
    for _ in range(5):
        x = images.clone().requires_grad_(True)
        sum(apply_draws(x, draws[group], config).square().sum() for group in draws.groups(square=True)).backward()
        digests.add(digest(x.grad))
    assert len(digests) == 1


def test_an_image_in_several_pairs_gets_the_same_gradient_every_time(metric_lpips, two_threads):
    """A barycenter's x is compared with every target: its gradient sums the pairs' contributions (in the
    metric's features and in the L2 distance's pixels)."""
    from elpips.metric import Embedding
    from geometry.engine.distances import SquaredL2

    generator = torch.Generator().manual_seed(1)
    maps = [torch.rand(1, 11, c, 128 >> k, 128 >> k, generator=generator)
            for k, c in enumerate(w.numel() for w in metric_lpips.linear)]
    pixels = torch.rand(11, 3, 256, 256, generator=generator)
    i, j = torch.zeros(10, dtype=torch.long), torch.arange(1, 11)
    digests = set()
    for _ in range(5):
        features = [f.clone().requires_grad_(True) for f in maps]
        metric_lpips.embedding_distance(Embedding(1, [(torch.arange(1), features)]), i, j).sum().backward()
        x = pixels.clone().requires_grad_(True)
        l2 = SquaredL2()
        l2.embedding_distance(l2.embed(x, l2.sample_draws(1)), i, j).sum().backward()
        digests.add(tuple(digest(t.grad) for t in [*features, x]))
    assert len(digests) == 1


_WORKER = textwrap.dedent('''
    import shutil, sys, torch
    from pathlib import Path
    from geometry.api import geodesic
    from geometry.engine.presets import Recipe, Stage

    torch.set_num_threads(4)  # more threads than cores: the interleaving under which the old code differed
    mode, a, b, folder = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    # two stages (16 px, then 32 px) so that resumes cross a stage boundary and an upsampling
    # (8 draws a step: several at one scale level, whose shared pixels the old backward added in racing order)
    preset = Recipe("two-stage", init="mean", stages=(Stage(2, 2, 0.01, "cosine", 8), Stage(1, 2, 0.003, "cosine", 8)))

    def run(checkpoint, callback=None):
        return geodesic(a, b, frames=3, size=32, preset=preset, seed=3, device="cpu", checkpoint=checkpoint,
                        checkpoint_every=1, callback=callback, snapshot_steps=()).images

    if mode == "run":
        checkpoint = folder / "checkpoint.pt"

        def keep(progress):  # the checkpoint written after this step, kept for the resumes
            shutil.copy(checkpoint, folder / f"after_step_{progress.step}.pt")

        torch.save(run(checkpoint, keep), folder / "images.pt")
    else:
        saved = sorted(folder.glob("after_step_*.pt"), key=lambda p: int(p.stem.split("_")[-1]))
        torch.save({p.stem: run(p) for p in saved}, folder / "resumed.pt")
''')


def _start(mode: str, pair, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WORKER, mode, *map(str, pair), str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err


@pytest.mark.slow  # four processes with the real network: minutes on 2 busy cores
def test_parallel_runs_and_resumes_from_every_step_give_the_same_bits(tmp_path, data_dir):
    pair = data_dir / "small" / "cat64.png", data_dir / "small" / "dog64.png"
    folders = [tmp_path / f"run{k}" for k in range(3)]
    for folder in folders:
        folder.mkdir()
    first = [_start("run", pair, folder) for folder in folders[:2]]  # two at once, competing for the cores
    for process in first:
        _finish(process)
    second = [_start("resume", pair, folders[0]), _start("run", pair, folders[2])]  # a third run beside the resumes
    for process in second:
        _finish(process)
    images = [torch.load(folder / "images.pt") for folder in folders]
    assert len({digest(x) for x in images}) == 1, "seeded runs in parallel processes differ"
    resumed = torch.load(folders[0] / "resumed.pt")
    assert len(resumed) == 4  # after steps 1..4: both stages, and the stage boundary after step 2
    for name, result in resumed.items():
        assert torch.equal(result, images[0]), f"resumed in a fresh process from the checkpoint {name}: differs"
