"""Shared by the zoom probes 2: pairs (benchmark's and seeded random) and the judges tried."""
import math
import sys

import torch

sys.path.insert(0, "benchmarks")
from texture_photos import photo, similarity_scene, view  # noqa: E402

from geometry.paths import detection as D  # noqa: E402
from geometry.paths.features import channel_statistics, statistics_distance  # noqa: E402


def pairs(size, per_case, seed, zooms=(1.0, 1.5, 2.0, 3.0), names=("brick", "grass", "gravel"), spacing=None):
    """(name, zoom, k, kind, a, b): #0 of each zoom > 1 the benchmark's pair, the rest random places."""
    gen = torch.Generator().manual_seed(seed)
    for name in names:
        src = photo(name)
        for z in zooms:
            for k in range(per_case):
                if k == 0 and z > 1 and spacing is None:
                    sc = similarity_scene(name, size, zoom=z)
                    yield name, z, k, "bench", sc.render(0.0), sc.render(1.0)
                    continue
                c = (0.2 + 0.6 * torch.rand(4, generator=gen, dtype=torch.float64)).tolist()
                extra = {} if spacing is None else {"spacing": spacing}
                yield (name, z, k, "random", view(src, size, (c[0], c[1]), 0.0, 1.0, **extra),
                       view(src, size, (c[2], c[3]), 0.0, z, **extra))


def factors():
    reach = round(D.ZOOM_STEPS * math.log2(D.MAX_SCALE))
    return 2.0 ** (torch.arange(-reach, reach + 1, dtype=torch.float64) / D.ZOOM_STEPS)


def tiles(image, side, count):
    """count x count tiles (side px) spread evenly over the image (overlapping where they must)."""
    H, W = image.shape[-2:]
    if side >= min(H, W):
        return image
    ys = torch.linspace(0, H - side, count).round().long().tolist()
    xs = torch.linspace(0, W - side, count).round().long().tolist()
    return torch.cat([image[..., i:i + side, j:j + side] for i in ys for j in xs])


def mean_statistics(images):
    return [s.mean(0, keepdim=True) for s in channel_statistics(images)]


def judges(a, b, scale):
    """At angle 0: (md: matched_distance, tiled: the enlarged source's b-sized tiles' mean statistics against
    the band-limited reference, d0: both band-limited alike with no zoom)."""
    source, reference, factor = (a, b, scale) if scale >= 1 else (b, a, 1 / scale)
    first = D._turned_crop(source, 0.0, factor)
    second = D._turned_crop(D._band_limited(reference, factor), 0.0, 1.0)
    with torch.no_grad():
        s2 = channel_statistics(second)
        md = float(statistics_distance(channel_statistics(first), s2))
        tiled = float(statistics_distance(mean_statistics(tiles(first, second.shape[-1], min(3, math.ceil(factor)))),
                                          s2))
        d0 = float(statistics_distance(channel_statistics(D._band_limited(source, factor)), s2))
    return md, tiled, d0
