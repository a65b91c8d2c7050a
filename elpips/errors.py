"""Whose fault an error is: `InputError` is the user's (an option, a field or a file they can fix); every other
exception is the program's and keeps its traceback.

The front ends print an `InputError` as one line and nothing else as one: the tools (``elpips``,
``elpips-geodesic``, ``elpips-average``, ``elpips-batch``) exit 2 with ``PROG: error: <line>``, the app shows the
line, a job file's manifest records it. Anything else propagates with its traceback (a bug reported as "your input
is wrong" hides itself: the largest seed once overflowed a generator and said so as a usage error).

A message names options as the tools spell them (``--size``); `InputError.worded` respells them for the front
end that shows it: field names (``size``) in the app and the job files. Light: imports nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The front ends that word an InputError: the command-line tools, the app, the job files.
FRONT_ENDS = ("tool", "app", "job")

_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


class InputError(ValueError):
    """A problem with the user's input, in one line that names the problem and the fix.

    Args:
        message: the line, naming options as the tools spell them (``--out``, ``--size``).
        field: the option the problem is about, as a field name (``"out"``, ``"max_memory"``), or None.
        path: the file or folder the problem is about, or None.

    Example:
        >>> error = InputError("--max-memory 1 is below this run's estimate: raise --max-memory", field="max_memory")
        >>> error.worded("tool")
        "--max-memory 1 is below this run's estimate: raise --max-memory"
        >>> error.worded("app")
        "max_memory 1 is below this run's estimate: raise max_memory"
    """

    def __init__(self, message: str, *, field: str | None = None, path: str | Path | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field
        self.path = None if path is None else Path(path)

    def worded(self, front_end: str = "tool") -> str:
        """The message as `front_end` ("tool", "app" or "job") shows it: options as flags (``--max-memory``) for
        the tools, as field names (``max_memory``) for the app and the job files."""
        if front_end not in FRONT_ENDS:
            raise ValueError(f"front_end must be one of {', '.join(FRONT_ENDS)}, got {front_end!r}")
        if front_end == "tool":
            return self.message
        return _FLAG.sub(lambda match: match.group(1).replace("-", "_"), self.message)
