"""Every path of a run folder comes from its layout (`geometry.service.run_folder.FolderLayout`): no module of
geometry/ or app/ spells a file name or sub-folder of it, so that the layout changes in one place."""

from __future__ import annotations

import ast
from pathlib import Path

from geometry.service import run_folder
from geometry.service.run_folder import FolderLayout

ROOT = Path(__file__).resolve().parents[1]
#: The layout's file names and its sub-folders.
FILES = (run_folder.RUN_FILE, run_folder.RECORD_NAME, run_folder.CHECKPOINT_NAME, run_folder.AVERAGE_NAME,
         run_folder.MONTAGE_NAME, run_folder.SPEC_FILE, run_folder.DONE_FILE, run_folder.LOCK_FILE,
         run_folder.APP_SETTINGS_NAME, run_folder.FRAMES_ZIP)
FOLDERS = (run_folder.FRAMES_DIR, run_folder.PAIRS_DIR, run_folder.CHECKPOINTS_DIR)


def spelled_layout_paths(path: Path) -> list[str]:
    """The layout's names that `path` spells in code (docstrings and comments aside): a file name in any string,
    a sub-folder as a path (``"frames/..."``, or joined with ``/``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    joined = {id(side) for node in ast.walk(tree) if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
              for side in (node.left, node.right)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docstrings:
            continue
        text = node.value
        found += [name for name in FILES if name in text]
        found += [name for name in FOLDERS if text.startswith(f"{name}/") or (text == name and id(node) in joined)]
    return found


def test_no_module_spells_a_path_of_the_run_folder_layout():
    modules = [*(ROOT / "geometry").rglob("*.py"), *(ROOT / "app").rglob("*.py")]
    spelled = {str(path.relative_to(ROOT)): names for path in modules if path.name != "run_folder.py"
               for names in [spelled_layout_paths(path)] if names}
    assert spelled == {}


def test_the_check_finds_a_spelled_path(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Writes record.json."""\nout = "x"\na = out / "pairs"\nb = out / "checkpoint.pt"\n'
                      'c = {"frames": 3}\n')
    assert sorted(spelled_layout_paths(module)) == ["checkpoint.pt", "pairs"]  # not the docstring, nor a key


def test_a_clip_runs_pairs_live_where_the_layout_says(tmp_path):
    layout = FolderLayout(tmp_path)
    assert layout.checkpoints(1) == [tmp_path / "checkpoint.pt"]
    pairs = tmp_path / "checkpoints"
    assert layout.checkpoints(2) == [pairs / "pair_0000.pt", pairs / "pair_0001.pt"]
    layout.pair_record(1).parent.mkdir()
    layout.pair_record(1).write_text("{}")
    layout.checkpoint(0).parent.mkdir()
    layout.checkpoint(0).write_bytes(b"")
    assert sorted(layout.pair_files()) == sorted([layout.pair_record(1), layout.checkpoint(0)])
    assert layout.holds_run() and layout.resumable() and not layout.holds_finished_run()
    assert layout.frame(7, 1200) == tmp_path / "frames" / "frame_0007.png"
    assert layout.movie("mp4").name == "geodesic.mp4" and layout.movie("sheet").name == "contact_sheet.png"
