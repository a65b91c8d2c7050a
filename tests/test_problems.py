"""The problem objects (`geometry.engine.problems`): a run is a problem solved with its options; the problem, not a
kind string, says which recipe, start and outputs a run has."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from test_import_graph import import_graph

from geometry import Callbacks, RunOptions, barycenter, geodesic, solve
from geometry.engine.distances import DistanceFamily, SquaredL2
from geometry.engine.inputs import prepare_images
from geometry.engine.problems import BarycenterProblem, GeodesicProblem, spacing_draws
from geometry.paths.spacing import DRAWS, ROUNDS

ROOT = Path(__file__).resolve().parents[1]


def _images(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 3, size, size, generator=generator)


def _kind_comparisons(source: str, name: str) -> list[str]:
    """The comparisons of a name or attribute called ``kind`` with a string in `source` (the module `name`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            parts = (node.left, *node.comparators)
            kinds = [part for part in parts if isinstance(part, ast.Name) and part.id == "kind"
                     or isinstance(part, ast.Attribute) and part.attr == "kind"]
            strings = [part for part in parts if isinstance(part, ast.Constant) and isinstance(part.value, str)]
            if kinds and strings:
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_run_branches_on_a_kind_string_outside_the_problem_objects():
    assert len(_kind_comparisons("def f(job):\n    return job.kind == 'clip' or kind != 'x'\n", "probe")) == 2
    modules = ["geometry/api.py", "geometry/engine/optimize.py", "geometry/engine/presets.py",
               "geometry/engine/memory.py", "geometry/service/memory_check.py"]
    assert [line for module in modules
            for line in _kind_comparisons((ROOT / module).read_text(encoding="utf-8"), module)] == []


def test_the_memory_check_does_not_import_the_optimiser():
    graph = import_graph()
    reachable, todo = set(), ["geometry.service.memory_check"]
    while todo:
        module = todo.pop()
        if module not in reachable:
            reachable.add(module)
            todo.extend(graph.get(module, ()))
    assert "geometry.engine.memory" in reachable and "geometry.engine.presets" in reachable
    assert "geometry.engine.optimize" not in reachable and "geometry.api" not in reachable


def test_solving_a_problem_is_what_the_public_function_does():
    """The run service solves a problem made from images it prepared itself: the same frames and record as
    `geodesic` makes from the same images."""
    a, b = _images(2)
    options = RunOptions(distance="l2", steps=3, seed=4, motion="none")
    public = geodesic(a[None], b[None], frames=4, options=options, snapshot_steps=[])
    problem = GeodesicProblem(prepare_images([a[None], b[None]]), 4, options.energy)
    solved = solve(problem, options, Callbacks(snapshot_steps=[]))
    assert torch.equal(public.images, solved.images)
    assert solved.record.settings == public.record.settings and solved.record.energies == public.record.energies


def test_the_record_names_the_start_the_problem_took():
    a, b = _images(2, seed=1)
    problem = GeodesicProblem(torch.cat([a[None], b[None]]), 3, "squared")
    result = solve(problem, RunOptions(distance="l2", steps=1, motion="none", refine="none"))
    assert problem.start.name == "even" and problem.start.images is None
    assert result.record.settings["start"] == problem.start.to_record() == {"taken": "even"}
    given = torch.full((1, 3, 32, 32), 0.25)
    problem = BarycenterProblem(torch.cat([a[None], b[None]]), None, "squared", start_images=given)
    result = solve(problem, RunOptions(distance="l2", steps=1), Callbacks(snapshot_steps=[]))
    assert problem.start.name == "given" and result.record.settings["start"] == {"taken": "given"}
    assert result.record.settings["recipe"]["init"] == "given" and "start_sha256" in result.record.settings


def test_each_problem_takes_its_own_recipe_of_a_preset():
    fast = RunOptions(preset="fast")
    path = GeodesicProblem(_images(2, size=256), 10, "squared").recipe(fast)
    average = BarycenterProblem(_images(2, size=256), None, "squared").recipe(fast)
    assert [stage.divisor for stage in path.stages] == [4, 2, 1] and path.init == "even"
    assert [stage.divisor for stage in average.stages] == [1] and average.init == "mean"


def test_an_unrefined_barycenter_of_three_images_is_their_weighted_pixel_mean():
    """refine="none" keeps the start; three images have no path between them, so the start is their pixel mean (it
    was the dissolve of the first two)."""
    images = _images(3, size=16, seed=2)
    result = barycenter(images, (1, 2, 1), distance="l2", refine="none")
    expected = (torch.tensor([0.25, 0.5, 0.25]).view(-1, 1, 1, 1) * images).sum(0, keepdim=True)
    assert torch.allclose(result.images, expected, atol=1e-6)
    assert result.record.steps == 0 and result.record.settings["start"] == {"taken": "mean"}


def test_start_images_of_the_wrong_count_are_named_before_the_run():
    a, b = _images(2, size=16)
    with pytest.raises(ValueError, match=r"start_images has 2 images; this run optimises 3 \(pass those, or for a "
                                         r"geodesic all 5 frames\)"):
        geodesic(a[None], b[None], frames=5, distance="l2", steps=1, start_images=torch.rand(2, 3, 16, 16))


def test_images_passed_as_init_say_where_start_images_go():
    a, b = _images(2, size=16)
    with pytest.raises(ValueError, match="init names a start method .*: pass start images as start_images="):
        geodesic(a[None], b[None], frames=5, distance="l2", steps=1, init=torch.rand(3, 3, 16, 16))


class _RecordingL2:
    """The squared L2 distance with random numbers for draws, recording the draws it embeds the frames on."""

    def __init__(self):
        self.base = SquaredL2()
        self.embedded: list[float] = []

    def sample_draws(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(count, generator=generator, dtype=torch.float64)

    def embed(self, images: torch.Tensor, draws: torch.Tensor):
        self.embedded.extend(draws.tolist())
        return self.base.embed(images, self.base.sample_draws(len(draws)))

    def embedding_distance(self, embedding, i, j):
        return self.base.embedding_distance(embedding, i, j)


def test_a_geodesic_spaces_its_path_on_the_draws_spacing_draws_names_for_its_seed():
    """The forecast prices a run's spacing by `spacing_draws(seed)` (`app.forecast.spacing_draw_cost`): they must be
    the draws the run measures on."""
    a, b = _images(2)
    problem = GeodesicProblem(torch.cat([a[None], b[None]]), 5, "squared")
    named = {}
    for seed in (0, 3):
        metric = _RecordingL2()
        assert problem.even_times(DistanceFamily(metric, torch.device("cpu")), (32, 32), seed, torch.device("cpu"),
                                  None) is not None
        named[seed] = [float(draw) for draw in spacing_draws(metric.sample_draws, seed)]
        assert len(named[seed]) == DRAWS and metric.embedded == named[seed] * (1 + ROUNDS)
    assert named[0] != named[3]
