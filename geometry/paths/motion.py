"""Motion starts: in-between frames in which the content moves, for the pixel refinement to sharpen.

The pixel-space E-LPIPS path energy prefers a sharpened double exposure to motion beyond about a pixel per
frame, so a refinement from the cross-dissolve never finds motion; started from frames that move, it keeps
them moving (docs/motion.md). A motion start is a function of the two endpoints returning a :class:`BoundPath`:
a function of times (a float64 tensor in [0, 1]) to frames (T, 3, H, W) whose ``shape`` (a
`geometry.paths.render.WarpPath`, :class:`TexturePath` or :class:`DissolvePath`) renders the same path between
endpoints of any size, or None when the run was cancelled first. Given a ``decision`` dict, a start writes into it
the start it took ("taken"), why, and the figures it decided on.

MOTION_STARTS maps each name to its start; "none" (the cross-dissolve, the pixel-only path) is not in it.
  "warp": the warp path (`geometry.paths.warps`) with the engine's own coarse-to-fine flow (`geometry.paths.flows`);
  "dis":  the warp path with OpenCV's DIS flow (``pip install 'elpips-torch[motion]'``);
  "texture": the texture path (`geometry.paths.textures`): a turned and scaled towards b as a tile before the
          middle, b back towards a after it, one picture in every frame, contrast interpolated (textures that differ
          by an orientation or a scale), under the turn and zoom `geometry.paths.detection.detect_similarity` finds;
  "change": one texture becoming another (`geometry.paths.synthesis`): the frames at the knots of a path whose
          middle has a layout of its own (`FreshLayoutPath`) synthesised as ONE texture with the endpoints'
          interpolated deep feature statistics (a run then synthesises each in-between frame at its own evenly
          spaced time: `change_path`);
  "auto": "warp" where the engine's flow explains the pair (`FlowVerdict`) and aligns it (mismatch left at most
          ALIGNED: no texture check then); else, for two stationary textures
          (`geometry.paths.detection.stationarity`), "texture" where `detect_similarity` finds a turn or a zoom
          (`is_turn_or_zoom`) it is confident of (`geometry.paths.detection.confident`); else "warp" where the
          flow explains the pair, else "change" for two stationary textures, else the dissolve (the default).

The starts run on one torch thread (`geometry.engine.threads`). A checkpointed run keeps its flow search in a file
beside the checkpoint (:class:`FlowStore`): a resumed run continues after the last finished pyramid level and never
recomputes a finished flow.
"""
from __future__ import annotations

import hashlib
import math
import os
import threading
from dataclasses import dataclass
from typing import Callable

import torch

from elpips.errors import InputError
from geometry.engine import phases
from geometry.engine.threads import single_threaded
from geometry.paths.detection import (
    CONFIDENT,
    LEFT_AT_MOST,
    STATIONARY,
    Detection,
    confident,
    detect_similarity,
    stationarity,
)
from geometry.paths.flows import dis_flow, engine_flow, mismatch
from geometry.paths.render import WarpPath
from geometry.paths.spacing import dissolve
from geometry.paths.synthesis import KNOTS, FreshLayoutPath, synthesised_path
from geometry.paths.textures import MIN_SCALE, MIN_TURN, Similarity, texture_frames, warped_endpoints

Path = Callable[[torch.Tensor], torch.Tensor]
FLOW_STORE_FORMAT = "elpips-geometry-flow"


class FlowStore:
    """The flow search's progress in `path` (None: not kept), for the run identified by `key`."""

    def __init__(self, path: str | os.PathLike | None, key: str):
        self.path, self.key = path, key
        self.owned = False  # whether the file at `path` is known to be this run's (read back or written)

    def load(self) -> tuple[int, torch.Tensor] | None:
        """(last finished level, its flow) saved for this run, or None."""
        if self.path is None or not os.path.exists(self.path):
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable file gets the same advice
            raise InputError(f"flow file {os.fspath(self.path)!r} is unreadable ({type(error).__name__}); "
                             "delete it to search the flow afresh") from error
        if not isinstance(payload, dict) or payload.get("format") != FLOW_STORE_FORMAT:
            raise InputError(f"{os.fspath(self.path)!r} is not a flow file; delete or move it")
        if payload.get("key") != self.key:
            raise InputError(f"flow file {os.fspath(self.path)!r} belongs to a different run (other inputs or "
                             "motion); delete it, or its checkpoint, to start afresh")
        self.owned = True
        return int(payload["level"]), payload["flow"]

    def save(self, level: int, flow: torch.Tensor) -> None:
        if self.path is None:
            return
        partial = f"{os.fspath(self.path)}.partial"
        torch.save({"format": FLOW_STORE_FORMAT, "key": self.key, "level": level, "flow": flow.clone()}, partial)
        os.replace(partial, self.path)
        self.owned = True

    def discard(self) -> None:
        if self.path is not None and os.path.exists(self.path):
            os.remove(self.path)


def flow_path(checkpoint: str | os.PathLike) -> str:
    """The flow file beside `checkpoint`: ``checkpoint.pt.flow.pt``."""
    return f"{os.fspath(checkpoint)}.flow.pt"


def flow_store(checkpoint: str | os.PathLike | None, a: torch.Tensor, b: torch.Tensor, motion: str) -> FlowStore:
    """The FlowStore beside `checkpoint` (`flow_path`; none without one), keyed by the endpoints and the motion
    name."""
    digest = hashlib.sha256(motion.encode())
    for image in (a, b):
        digest.update(image.detach().float().cpu().contiguous().numpy().tobytes())
    return FlowStore(None if checkpoint is None else flow_path(checkpoint), digest.hexdigest())


@single_threaded
def warp_start(a: torch.Tensor, b: torch.Tensor, *, cancel: threading.Event | None = None,
               store: FlowStore | None = None, decision: dict | None = None) -> Path | None:
    """The warp path with the engine's own flow (`geometry.paths.flows.engine_flow`)."""
    flow = _stored_engine_flow(a, b, cancel, store)
    _decide(decision, "warp", "asked for")
    return None if flow is None else BoundPath(WarpPath(flow), a, b)


def _stored_engine_flow(a: torch.Tensor, b: torch.Tensor, cancel: threading.Event | None,
                        store: FlowStore | None) -> torch.Tensor | None:
    """`engine_flow`, continuing from and saving to `store` (None: nothing kept); None when cancelled."""
    store = store or FlowStore(None, "")
    return engine_flow(a, b, cancel=cancel, saved=store.load(), save=store.save)


@single_threaded
def dis_start(a: torch.Tensor, b: torch.Tensor, *, cancel: threading.Event | None = None,
              store: FlowStore | None = None, decision: dict | None = None) -> Path | None:
    """The warp path with OpenCV's DIS flow (`geometry.paths.flows.dis_flow`)."""
    _decide(decision, "dis", "asked for")
    return BoundPath(WarpPath(dis_flow(a, b)), a, b)


@single_threaded
def texture_start(a: torch.Tensor, b: torch.Tensor, *, cancel: threading.Event | None = None,
                  store: FlowStore | None = None, decision: dict | None = None) -> Path:
    """The texture path (`geometry.paths.textures.texture_frames`) under the turn and zoom between the endpoints
    (`geometry.paths.detection.detect_similarity`); t is the warp's parameter (the engine spaces the frames
    evenly). The detection is reported as the phase "texture checks"."""
    phases.report("texture checks")
    found = detect_similarity(a, b)
    _decide(decision, "texture", "asked for", **_detection_figures(found))
    return BoundPath(TexturePath(Similarity(found.angle, found.scale)), a, b)


def is_turn_or_zoom(found: Detection) -> bool:
    """Whether a detection is a turn of at least MIN_TURN degrees or a zoom of at least MIN_SCALE (either way):
    a change a cross-dissolve turns into a plaid; pans and zooms of a few tens of percent are the warp's."""
    return abs(found.angle) >= math.radians(MIN_TURN) or abs(math.log(found.scale)) >= math.log(MIN_SCALE)


def _detection_figures(found: Detection) -> dict:
    return {"turn_degrees": round(math.degrees(found.angle), 2), "scale": round(found.scale, 4),
            "detection_confidence": round(found.confidence, 4), "statistics_left": round(found.distance, 4)}


def change_start(a: torch.Tensor, b: torch.Tensor, *, cancel: threading.Event | None = None,
                 store: FlowStore | None = None, decision: dict | None = None) -> Path | None:
    """One texture becoming another: a path through a fresh layout (`geometry.paths.synthesis.FreshLayoutPath`)
    with its knots synthesised at the endpoints' interpolated statistics
    (`geometry.paths.synthesis.synthesised_path`); None when `cancel` stopped the synthesis. A run spaces it and
    synthesises its frames again at their times (`geometry.engine.problems.GeodesicProblem`)."""
    _decide(decision, "change", "asked for")
    return change_path(a, b, cancel=cancel)


def change_path(a: torch.Tensor, b: torch.Tensor, knots=KNOTS, *,
                cancel: threading.Event | None = None) -> BoundPath | None:
    """The texture change's path: `FreshLayoutPath` (the endpoints' layouts fading out, a fresh one in; from the
    dissolve, 30 synthesis steps kept the endpoints' layout: docs/textures.md) with its frames at the `knots`
    (increasing times in (0, 1)) synthesised on the CPU, from the same seeds every time; None when `cancel` stopped
    its synthesis."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    path = synthesised_path(FreshLayoutPath(a, b), a, b, knots=knots, generator=torch.Generator().manual_seed(0),
                            cancel=cancel)
    return None if path is None else BoundPath(path, a, b)


#: The smallest side of a pair "auto" may take the texture change for (smaller holds too little texture to tell).
CHANGE_MIN_SIDE = 32
#: "auto" takes the warp path only where its flow removes at least this share of the endpoints' robust
#: difference (`geometry.paths.flows.mismatch`); elsewhere the pair is not one picture moved, and it starts from
#: the dissolve (benchmarks/bench_motion_choice.py measures the share left on moving, texture and unrelated pairs).
EXPLAINED = 0.5
#: ... or where the mismatch it leaves is at most this (`geometry.paths.flows.mismatch`, absolute): two frames of
#: one shot that move little keep noise, blur and light changes no flow removes, so the share left by the flow is
#: high (real footage: up to 0.72) while the pair is one picture; what the flow leaves there is at most 0.03, on
#: unrelated pictures and one texture becoming another at least 0.2 (benchmarks/results/bench_motion_choice.txt).
ALIGNED = 0.05


@dataclass(frozen=True)
class FlowVerdict:
    """`auto`'s warp rule, its one statement, on what the engine's flow leaves of the endpoints' mismatch
    (`geometry.paths.flows.mismatch`): `share_left`, the share of their mismatch without a flow, and
    `mismatch_left`, the mismatch itself. `flow_verdict` measures them; `auto_start` decides by them and records
    `figures`; benchmarks/bench_motion_choice.py reads them back from that record."""

    share_left: float
    mismatch_left: float

    @property
    def why(self) -> str | None:
        """Why the warp path is taken: the flow leaves at most 1 - EXPLAINED of the mismatch, or a mismatch of at
        most ALIGNED (`aligned`); None where it is not."""
        if self.share_left <= 1 - EXPLAINED:
            return "the engine's flow explains the pair"
        if self.aligned:
            return "the engine's flow aligns the pair (a small motion under noise or light)"
        return None

    @property
    def aligned(self) -> bool:
        """Whether the flow leaves a mismatch of at most ALIGNED: the pair is one picture moved, and `auto` takes the
        warp path without its texture checks."""
        return self.mismatch_left <= ALIGNED

    @property
    def figures(self) -> dict:
        """What a run's record says of the rule: the two figures and their bounds."""
        return {"mismatch_left_by_flow": round(self.share_left, 4), "warp_if_at_most": 1 - EXPLAINED,
                "mismatch_after_flow": round(self.mismatch_left, 4), "aligned_if_at_most": ALIGNED,
                "texture_checks_if_above": ALIGNED}


def flow_verdict(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor) -> FlowVerdict:
    """`auto`'s warp rule (`FlowVerdict`) on `flow` between `a` and `b`."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    left = mismatch(a, b, flow)
    without = mismatch(a, b, torch.zeros_like(flow)).clamp_min(1e-12)
    return FlowVerdict(float(left / without), float(left))


def auto_start(a: torch.Tensor, b: torch.Tensor, *, cancel: threading.Event | None = None,
               store: FlowStore | None = None, decision: dict | None = None) -> Path | None:
    """The warp path where the engine's flow explains the pair (`FlowVerdict`) and aligns it (a mismatch left of at
    most ALIGNED); else, for two stationary textures (`geometry.paths.detection.stationarity` at most STATIONARY),
    the texture path where `detect_similarity` finds a turn or zoom (`is_turn_or_zoom`) it is confident of
    (`confident`); else the warp path where the flow explains the pair; else the texture change for two stationary
    textures; else the cross-dissolve (unrelated pictures). What it took and the figures it decided on
    go into `decision`. The choice runs on one thread, the change's synthesis (network work) on the threads it
    was given."""
    path = _auto_choice(a, b, cancel, store, decision)
    return change_path(a, b, cancel=cancel) if path == "change" else path


@single_threaded
def _auto_choice(a: torch.Tensor, b: torch.Tensor, cancel: threading.Event | None, store: FlowStore | None,
                 decision: dict | None) -> Path | str | None:
    """auto_start's path, or "change" for the texture change (not yet synthesised). The flow comes first: where it
    takes the warp and aligns the pair to a mismatch of at most ALIGNED (`FlowVerdict`), the pair is one picture
    moved and the texture checks (the endpoints' stationarity, the turn-and-zoom detection: VGG statistics, most
    of the choice's CPU; the phase "texture checks") are not run (the record says so); elsewhere they decide
    first, as they did before the flow. Turned and zoomed textures leave a mismatch of 0.08 or more, real footage
    0.03 at most; a flow takes the warp for a brick wall turned or zoomed by its share left, not by its mismatch
    (benchmarks/results/bench_motion_choice.txt)."""
    flow = _stored_engine_flow(a, b, cancel, store)
    if flow is None:
        return None
    verdict = flow_verdict(a, b, flow)
    why, figures = verdict.why, verdict.figures
    if verdict.aligned:
        _decide(decision, "warp", why, **figures, texture_checks="not run: the flow aligns the pair")
        return BoundPath(WarpPath(flow), a, b)
    stationary = False
    if min(a.shape[-2:]) >= CHANGE_MIN_SIDE:
        phases.report("texture checks")
        figures.update(stationarity=round(max(stationarity(a), stationarity(b)), 4), textures_if_at_most=STATIONARY)
        stationary = figures["stationarity"] <= STATIONARY
    if stationary:
        found = detect_similarity(a, b)
        figures.update(_detection_figures(found), texture_if_confidence_at_least=CONFIDENT,
                       texture_if_left_at_most=LEFT_AT_MOST)
        if is_turn_or_zoom(found) and confident(found):
            _decide(decision, "texture", "the endpoints are one texture turned or zoomed", **figures)
            return BoundPath(TexturePath(Similarity(found.angle, found.scale)), a, b)
    if why is not None:
        _decide(decision, "warp", why, **figures)
        return BoundPath(WarpPath(flow), a, b)
    if stationary:
        _decide(decision, "change", "no turn, zoom or flow explains two stationary textures", **figures)
        return "change"
    _decide(decision, "dissolve", "no flow explains the pair (unrelated pictures)", **figures)
    return BoundPath(DissolvePath(), a, b)


def _decide(decision: dict | None, taken: str, why: str, **figures) -> None:
    if decision is not None:
        decision.update({"taken": taken, "why": why, **figures})


class DissolvePath:
    """The cross-dissolve as a path: frames (1 - t) a + t b at any size."""

    def frames(self, a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        return dissolve(a, b, times)


class TexturePath:
    """The texture path (`geometry.paths.textures.texture_frames`) under one similarity, at any size."""

    def __init__(self, similarity):
        self.similarity = similarity

    def frames(self, a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        return texture_frames(a.double(), b.double(), times.to(torch.float64), self.similarity).to(a.dtype)

    def sources(self, a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The endpoints turned and scaled to each time (`warped_endpoints`): one texture's statistics each."""
        first, second = warped_endpoints(a.double(), b.double(), times.to(torch.float64), self.similarity)
        return first.to(a.dtype), second.to(a.dtype)


class BoundPath:
    """A path (an object with ``frames(a, b, times)`` at any size: `WarpPath`, `TexturePath`, `DissolvePath`) bound
    to the run's endpoints: called with times, the frames at the working size; `shape` is the path itself, for
    rendering at another size."""

    def __init__(self, shape, a: torch.Tensor, b: torch.Tensor):
        self.shape = shape
        self.a, self.b = a.detach().float().cpu(), b.detach().float().cpu()

    def __call__(self, times: torch.Tensor) -> torch.Tensor:
        return self.shape.frames(self.a, self.b, times.to(torch.float64))


MOTION_STARTS: dict[str, Callable[..., Path | None]] = {
    "auto": auto_start, "warp": warp_start, "dis": dis_start, "texture": texture_start, "change": change_start}
#: The motion names a run accepts: "none" (the cross-dissolve start) and the starts.
MOTION_NAMES: tuple[str, ...] = ("none", *MOTION_STARTS)
