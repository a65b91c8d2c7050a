"""``elpips-app`` / ``python -m app``: launch the web app on this machine.

Binds 127.0.0.1 by default (reachable from this machine only); ``--host 0.0.0.0`` serves the
local network. A public Gradio share link is made only with ``--share``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

from elpips.cli_common import OneLineParser, parse_device  # noqa: E402  (light: no torch until a device is checked)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="elpips-app",
        description="Web app for E-LPIPS distances, perceptual averages and geodesics.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("outputs"),
        help="folder for the results; each run gets its own <timestamp>-<kind> folder in it (default: ./outputs)",
    )
    parser.add_argument("--device", default="auto", type=parse_device,
                        help="auto (CUDA when present), cpu, cuda or cuda:N")
    parser.add_argument("--share", action="store_true", help="also make a public Gradio share link (off by default)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    try:
        _serve(parse_args(argv))
    except KeyboardInterrupt:  # during start-up (torch and gradio take seconds to import) or serving
        raise SystemExit(130) from None


def _serve(args: argparse.Namespace) -> None:
    from elpips.io import writable_folder_problem

    problem = writable_folder_problem(args.output_dir)
    if problem is not None:
        raise SystemExit(f"elpips-app: --output-dir {args.output_dir}: {problem}; choose another folder")
    from elpips.extras import MissingExtra, require
    from geometry.engine.distances import resolve_device

    try:
        require("gradio", "the web UI"), require("pandas", "the web UI")
    except MissingExtra as error:
        raise SystemExit(f"elpips-app: {error}") from None
    from app.ui import build_app, launch_options

    device = resolve_device(args.device)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    print(f"elpips-app: computing on {device}; results go to {args.output_dir.resolve()}")
    demo = build_app(args.output_dir, device)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        **launch_options(args.output_dir),
    )


if __name__ == "__main__":
    main()
