"""How much memory a metric evaluation needs and how much a device has: the checks that refuse a run
too large for the machine before it starts, instead of an allocation traceback (or the OOM killer) later.

The estimate counts the values the network's layers produce for one (draw, image) evaluation at its
largest input (scale level 1, with the offset padding: `elpips.networks.activation_elements`) and
multiplies by what is measured to be alive at the peak, in units of those activations:

* with gradients (the geometry engine), every evaluation of a step stays alive until the backward pass,
  with what autograd saves (E-LPIPS keeps all 13 ReLU maps and its dropout masks, LPIPS 5 maps);
* without (distances, estimates), one network pass at a time, its feature maps kept for the distance.

A run also needs a fixed amount beyond its activations (convolution workspace, allocator slack), which
dominates small networks such as AlexNet's: `RUNTIME_BYTES`. The factors and that amount are the measurements
rounded up; `benchmarks/bench_memory.py` prints the real peaks (CPU
resident memory, CUDA's allocator) against these estimates, and docs/reliability.md ("Faults") shows them.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .configs import MetricConfig
from .errors import InputError
from .networks import ARCHITECTURES, activation_elements, output_side
from .transforms import transformed_size

# Peak bytes per activation byte of one evaluation, measured by benchmarks/bench_memory.py and rounded up.
_FACTORS = {  # (E-LPIPS-style: all taps and dropout, gradients) -> factor
    (True, True): 3.0, (False, True): 2.0,
    (True, False): 1.6, (False, False): 0.5,
}
#: Bytes a network evaluation needs beyond its activations, whatever its size (see the module docstring).
RUNTIME_BYTES = 96 * 2**20
_FLOAT_BYTES = 4
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class MemoryLimitError(InputError):
    """A run that would need more memory than the limit; the message says how much and what to change."""


def network_input(config: MetricConfig, height: int, width: int, scale: int = 1) -> tuple[int, int]:
    """The network's input size for images of ``height`` x ``width`` at scale level ``scale``."""
    if config.transforms is None:
        return height, width
    return transformed_size(height, scale, config.transforms), transformed_size(width, scale, config.transforms)


def smallest_side(config: MetricConfig, num_scales: int | None = None) -> int:
    """The smallest image side ``config``'s network accepts with its first ``num_scales`` scale levels (None: all),
    known without loading it (every scale level's network input keeps a feature map of at least 1 px)."""
    architecture = ARCHITECTURES[config.backbone]
    scales = range(1, (num_scales or config.transforms.num_scales) + 1) if config.transforms is not None else [1]
    side = 2
    while min(output_side(architecture, network_input(config, side, side, scale)[0]) for scale in scales) < 1:
        side += 1
    return side


def evaluation_bytes(config: MetricConfig, height: int, width: int, grad: bool) -> int:
    """Peak bytes of one (draw, image) evaluation of images of ``height`` x ``width`` at the largest scale."""
    n_h, n_w = network_input(config, height, width)
    activations = activation_elements(ARCHITECTURES[config.backbone], n_h, n_w) * _FLOAT_BYTES
    return int(_FACTORS[(config.transforms is not None, grad)] * activations) + 2 * 3 * n_h * n_w * _FLOAT_BYTES


def step_bytes(config: MetricConfig, evaluations: int, height: int, width: int) -> int:
    """Peak bytes of an optimisation step: ``evaluations`` (draw, image) evaluations alive until the backward pass."""
    return evaluations * evaluation_bytes(config, height, width, grad=True) + RUNTIME_BYTES


def available_bytes(device) -> int:
    """Memory a run can use on ``device`` now: CUDA's free memory (plus what torch's cache holds), or for
    the CPU the kernel's MemAvailable (bounded by a cgroup limit, in containers)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    available = _meminfo_available()
    limit = _cgroup_room()
    return min(available, limit) if limit is not None else available


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # free pages: a lower bound


def _cgroup_room() -> int | None:
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = Path("/sys/fs/cgroup", limit_file).read_text().strip()
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:
            return max(0, int(limit) - usage)
    return None


def parse_bytes(text: str) -> int:
    """``"12GB"``, ``"500M"``, ``"2GiB"``, ``"1e9"`` -> bytes (decimal units unless ``iB``)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in _UNITS or float(match.group(1)) <= 0:
        raise InputError(f"invalid memory size {text!r}: use a number with a unit, like 12GB or 500MB")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def format_bytes(count: float) -> str:
    """``"1.23 GB"`` (decimal units, as `parse_bytes` reads them)."""
    if count < 1000:
        return f"{count:.0f} bytes"
    for unit in ("KB", "MB"):
        count /= 1000
        if count < 1000:
            return f"{count:.3g} {unit}"
    count /= 1000
    return f"{count:.3g} GB" if count < 1000 else f"{count:,.0f} GB"


def largest_fitting(fits, largest: int, smallest: int = 16) -> int | None:
    """The largest image side in [smallest, largest] for which ``fits(side)`` (monotone), by bisection;
    None if none does."""
    if largest < smallest or not fits(smallest):
        return None
    low, high = smallest, largest
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def check(needed: int, device, limit: int | None, what: str, smaller: str, flag: str | None = "--max-memory") -> None:
    """Raise MemoryLimitError when ``needed`` bytes exceed ``limit`` (default: `available_bytes`).

    ``what`` describes the run, ``smaller`` how to make it fit; ``flag`` is the option that sets the limit
    (a job-file setting when it does not start with ``--``; None: the limit cannot be changed).
    """
    if limit is None:
        limit = available_bytes(device)
        room = f"the {format_bytes(limit)} available on {device}"
    else:
        room = f"the {flag} limit of {format_bytes(limit)}"
    if needed <= limit:
        return
    message = f"{what} needs about {format_bytes(needed)} of memory, more than {room}: {smaller}"
    if flag is not None:
        suggestion = f"{math.ceil(needed * 1.2 / 1e9)}GB" if needed >= 1e9 else f"{math.ceil(needed * 1.2 / 1e6)}MB"
        example = f"{flag} {suggestion}" if flag.startswith("--") else f'{flag} = "{suggestion}"'
        message += f", or allow more if it is really there ({example})"
    raise MemoryLimitError(message)
