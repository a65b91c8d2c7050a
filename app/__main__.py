"""``elpips-app`` / ``python -m app``: launch the web app on this machine.

Binds 127.0.0.1 by default (reachable from this machine only); ``--host 0.0.0.0`` serves the
local network. A public Gradio share link is made only with ``--share``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
import errno  # noqa: E402
import socket  # noqa: E402
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


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, in one line with the fix, or None when it can.

    Checked before torch and Gradio are imported, so a busy port is said at once (Gradio finds it only after
    seconds of start-up, and its traceback's advice, GRADIO_SERVER_PORT, does nothing when the port is given)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} is in use: try make demo PORT={port + 1}"
            return f"cannot listen on {host}:{port} ({error.strerror}): choose another --host or --port"
    return None


def _serve(args: argparse.Namespace) -> None:
    from elpips.io import writable_folder_problem

    busy = port_problem(args.host, args.port)
    if busy is not None:
        raise SystemExit(f"elpips-app: {busy}")

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
    share_hint = "" if args.share else " (--share also makes a public link)"
    print(f"elpips-app: open http://{args.host}:{args.port}{share_hint}; Ctrl+C stops", flush=True)
    demo.launch(  # quiet: Gradio's banner advises share=True in launch(), which an app user cannot pass
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        quiet=not args.share,  # shared: Gradio prints the public link
        **launch_options(args.output_dir),
    )


if __name__ == "__main__":
    main()
