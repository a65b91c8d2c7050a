"""`python -m elpips ...` runs the `elpips` command (see elpips.cli)."""

from .cli import main

raise SystemExit(main())
