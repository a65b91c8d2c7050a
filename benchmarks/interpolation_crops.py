"""Where the warp path (the default's frames at the clip's own size) loses PSNR to the DIS midpoint, in pictures.

    python benchmarks/interpolation_crops.py --triplet 32+2 --out benchmarks/results/interpolation_720p_crops_32+2

For one bigbuckbunny triplet (the only clip whose frames may be shown; benchmarks/real_clips.py) at its own size
(1280x720), both middle frames are compared with the truth per TILE px tile; the tiles where the warp path's
squared error exceeds DIS's the most are cropped, enlarged, and written to OUT.png beside the truth, the dissolve
and both error maps (x4); OUT.txt gets each method's PSNR, the share of the warp path's excess squared error in
those tiles (concentrated: a local failure; spread: a global one such as blur or a resolution limit), and the
share of each method's squared error at the truth's strongest edges (the 10 % of pixels of largest gradient).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flow_baseline import dis_frames  # noqa: E402
from interpolation_methods import Job, warp_unrefined  # noqa: E402
from interpolation_scores import psnr  # noqa: E402
from real_clips import CLIPS, read_frames, triplet  # noqa: E402

TILE = 80
SHOWN = 4


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplet", required=True, help="START+GAP of bigbuckbunny, e.g. 32+2")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.png and OUT.txt")
    args = parser.parse_args(argv)
    from geometry.service.video import write_contact_sheet

    torch.set_num_threads(1)
    start, gap = (int(part) for part in args.triplet.split("+"))
    frames = triplet("bigbuckbunny", read_frames("bigbuckbunny"), start, gap, None, True).frames
    a, truth, b = (frames[k:k + 1] for k in range(3))
    made = {"DIS midpoint": dis_frames(a, b, [0.5]).clamp(0, 1), "warp": warp_unrefined(Job(a, b)).clamp(0, 1)}
    lines = [f"# interpolation_crops {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}",
             f"bigbuckbunny:{start}+{gap}, {truth.shape[-1]}x{truth.shape[-2]} ({CLIPS['bigbuckbunny'].licence})"]
    lines += [f"PSNR {name}: {psnr(x, truth):.2f} dB" for name, x in made.items()]
    tiles = {name: F.avg_pool2d((x - truth).square().mean(1, keepdim=True), TILE)[0, 0] for name, x in made.items()}
    excess = tiles["warp"] - tiles["DIS midpoint"]
    worst = excess.flatten().topk(SHOWN).indices.tolist()
    share = excess.flatten()[worst].sum().item() / excess.sum().item()
    lines.append(f"excess squared error of the warp path over DIS: {excess.sum().item():.5f} (tile sums); share in "
                 f"its {SHOWN} worst of {excess.numel()} tiles: {share:.2f}")
    inner = truth[..., 1:, 1:]
    gradient = ((inner - truth[..., :-1, 1:]).abs() + (inner - truth[..., 1:, :-1]).abs()).mean(1)
    edges = gradient > gradient.flatten().kthvalue(int(0.9 * gradient.numel())).values
    for name, x in made.items():
        error = (x - truth)[..., 1:, 1:].square().mean(1)
        at_edges = error[edges].sum().item() / error.sum().item()
        lines.append(f"{name}: share of its squared error at the 10 % strongest edges {at_edges:.2f}")
    cells, labels = [], []
    columns = excess.shape[1]
    for index in worst:
        row, column = divmod(index, columns)
        rows, cols = slice(row * TILE, (row + 1) * TILE), slice(column * TILE, (column + 1) * TILE)

        def crop(x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x[..., rows, cols], scale_factor=3, mode="nearest")[0]

        dis, warped = made["DIS midpoint"], made["warp"]
        cells += [crop(truth), crop(dis), crop(warped), crop((a + b) / 2),
                  crop(((dis - truth).abs() * 4).clamp(0, 1)), crop(((warped - truth).abs() * 4).clamp(0, 1))]
        dis_db, warp_db = (-10 * torch.log10(tiles[name][row, column]).item() for name in ("DIS midpoint", "warp"))
        labels += [f"truth tile r{row} c{column}", f"DIS {dis_db:.1f} dB", f"warp {warp_db:.1f} dB", "dissolve",
                   "|DIS - truth| x4", "|warp - truth| x4"]
        lines.append(f"tile r{row} c{column}: PSNR DIS {dis_db:.1f}, warp {warp_db:.1f} dB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_contact_sheet(Path(f"{args.out}.png"), torch.stack(cells), columns=6, labels=labels)
    Path(f"{args.out}.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
