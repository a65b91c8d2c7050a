"""The bundled example images, generated procedurally (no third-party pictures).

`python -m app.examples [folder]` writes them (default: ``assets/examples`` in the
repository). Everything is drawn from a seeded NumPy generator, so the PNGs are
the same on every run. The app uses the committed copies when it finds them and
otherwise generates them into its output folder.

The scenes are chosen to show what the metric and the geometry do:

- ``disc_left`` / ``disc_right``: one striped disc on a textured background at two
  overlapping positions: a pixel (L2) geodesic cross-fades; a perceptual one with
  the default motion start moves the disc, and from the cross-dissolve (motion
  "none") keeps a sharpened double exposure (docs/motion.md).
- ``disc_top``: the same disc at a third position, for a three-image average.
- ``texture_blobs`` / ``texture_stripes``: two procedural textures to morph.
- ``disc_left_shifted`` / ``disc_left_noisy``: two candidates for the comparison
  mode with ``disc_left`` as the reference. E-LPIPS calls the 2-px shift closer;
  a pixel distance calls the noisy copy closer.
- ``disc_left_moved``: the scene moved 6 px down and right (a camera that moved a
  little): the anchor of the robustness example. Every metric but L2 calls it closer
  to ``disc_left`` than ``disc_left_noisy``.
- ``disc_left_adversarial``: ``disc_left_noisy`` attacked with this project's
  `elpips.attack` against LPIPS-VGG (every pixel within 8/255), so that LPIPS-VGG
  calls it closer to ``disc_left`` than ``disc_left_moved``; E-LPIPS does not. It is
  made by the attack, not drawn, so it is written by `write_adversarial_example`
  (and `python -m app.examples`), not by `example_arrays`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from elpips.io import atomic_write

SIZE = 96
SEED = 2019
REPO_EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"

NAMES = (
    "disc_left",
    "disc_right",
    "disc_top",
    "texture_blobs",
    "texture_stripes",
    "disc_left_shifted",
    "disc_left_noisy",
    "disc_left_moved",
)
ADVERSARIAL = "disc_left_adversarial"
#: How `write_adversarial_example` makes it: `elpips.perturb` settings.
ADVERSARIAL_RECIPE = {"metric": "lpips_vgg", "epsilon": 8 / 255, "steps": 100, "seed": 0}


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a `cells` x `cells` random grid, bicubically upsampled."""
    grid = rng.random((cells, cells)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(image), 0.0, 1.0)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted green-brown ground with two octaves of value noise."""
    noise = 0.65 * _smooth_noise(rng, size, 6) + 0.35 * _smooth_noise(rng, size, 16)
    low = np.array([0.25, 0.35, 0.20], dtype=np.float32)
    high = np.array([0.55, 0.55, 0.35], dtype=np.float32)
    return low + noise[..., None] * (high - low)


def _draw_disc(ground: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Paint a red/yellow diagonally striped disc with a soft edge onto a copy of `ground`."""
    size = ground.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - centre[0], xx - centre[1]
    coverage = np.clip(radius - np.hypot(dy, dx) + 0.5, 0.0, 1.0)[..., None]
    stripes = (np.sin((dx + dy) * (2 * np.pi / 9.0)) > 0).astype(np.float32)[..., None]
    red = np.array([0.85, 0.15, 0.10], dtype=np.float32)
    yellow = np.array([0.95, 0.85, 0.20], dtype=np.float32)
    disc = stripes * red + (1 - stripes) * yellow
    return ground * (1 - coverage) + disc * coverage


def _texture_blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    """Blue/white blobs: thresholded value noise with soft edges."""
    field = _smooth_noise(rng, size, 9)
    mask = np.clip((field - 0.5) * 8 + 0.5, 0.0, 1.0)[..., None]
    blue = np.array([0.10, 0.25, 0.65], dtype=np.float32)
    white = np.array([0.92, 0.92, 0.88], dtype=np.float32)
    return mask * blue + (1 - mask) * white


def _texture_stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Wavy orange/purple stripes: a sine over a noise-warped coordinate."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    warp = 6.0 * _smooth_noise(rng, size, 5)
    wave = 0.5 + 0.5 * np.sin((xx + warp * 3) * (2 * np.pi / 12.0))[..., None]
    orange = np.array([0.95, 0.55, 0.15], dtype=np.float32)
    purple = np.array([0.35, 0.15, 0.45], dtype=np.float32)
    return wave * orange + (1 - wave) * purple


def example_arrays(size: int = SIZE, seed: int = SEED) -> dict[str, np.ndarray]:
    """All example images as (size, size, 3) float32 arrays in [0, 1], keyed by name."""
    rng = np.random.default_rng(seed)
    ground = _background(rng, size)
    radius = size * 0.2
    mid = size / 2
    left = _draw_disc(ground, (mid + size * 0.06, size * 0.37), radius)
    shifted = np.pad(left, ((2, 0), (2, 0), (0, 0)), mode="reflect")[:size, :size]
    grain = rng.normal(0.0, 0.07, (size // 2, size // 2, 3)).astype(np.float32)
    noisy = np.clip(left + grain.repeat(2, axis=0).repeat(2, axis=1), 0.0, 1.0)
    arrays = {
        "disc_left": left,
        "disc_right": _draw_disc(ground, (mid + size * 0.06, size * 0.63), radius),
        "disc_top": _draw_disc(ground, (size * 0.33, mid), radius),
        "texture_blobs": _texture_blobs(rng, size),
        "texture_stripes": _texture_stripes(rng, size),
        "disc_left_shifted": shifted,
        "disc_left_noisy": noisy,
        "disc_left_moved": np.pad(left, ((6, 0), (6, 0), (0, 0)), mode="reflect")[:size, :size],
    }
    assert tuple(arrays) == NAMES
    return arrays


def write_examples(folder: Path, size: int = SIZE, seed: int = SEED) -> dict[str, Path]:
    """Write every example as ``<folder>/<name>.png``; returns the paths keyed by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, array in example_arrays(size, seed).items():
        path = folder / f"{name}.png"
        pixels = np.round(array * 255).astype(np.uint8)
        with atomic_write(path) as tmp:
            Image.fromarray(pixels, mode="RGB").save(tmp, format="PNG", optimize=True)
        paths[name] = path
    return paths


def write_adversarial_example(folder: Path, sources: dict[str, Path]) -> Path:
    """Attack ``sources["disc_left_noisy"]`` towards ``sources["disc_left"]`` under LPIPS-VGG (the recipe in
    ADVERSARIAL_RECIPE) and write ``<folder>/disc_left_adversarial.png``; needs the LPIPS-VGG weights."""
    import elpips

    reference = elpips.load_image(sources["disc_left"])
    image = elpips.load_image(sources["disc_left_noisy"])
    result = elpips.perturb(ADVERSARIAL_RECIPE["metric"], reference, image, **{
        key: value for key, value in ADVERSARIAL_RECIPE.items() if key != "metric"})
    path = Path(folder) / f"{ADVERSARIAL}.png"
    elpips.save_image(path, result.image)
    return path


def adversarial_example_path(fallback_dir: Path) -> Path:
    """The committed adversarial example, or one made once into `fallback_dir` (seconds on a CPU) when the
    package runs without the repository's assets."""
    committed = REPO_EXAMPLES_DIR / f"{ADVERSARIAL}.png"
    if committed.is_file():
        return committed
    made = Path(fallback_dir) / f"{ADVERSARIAL}.png"
    return made if made.is_file() else write_adversarial_example(Path(fallback_dir), example_paths(fallback_dir))


def example_paths(fallback_dir: Path) -> dict[str, Path]:
    """The bundled examples from ``assets/examples``, or freshly generated into `fallback_dir`
    when the package runs without the repository's assets (e.g. installed from a wheel)."""
    committed = {name: REPO_EXAMPLES_DIR / f"{name}.png" for name in NAMES}
    if all(path.is_file() for path in committed.values()):
        return committed
    return write_examples(Path(fallback_dir))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_EXAMPLES_DIR
    written = write_examples(target)
    for path in written.values():
        print(path)
    print(write_adversarial_example(target, written))
