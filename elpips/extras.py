"""Optional dependencies: the parts of the project a plain ``pip install elpips-torch`` leaves out.

The metric needs torch, torchvision, numpy, imageio, pillow and tqdm. The web UI (Gradio, pandas) is the
extra ``app``, MP4 writing and video reading (imageio-ffmpeg) the extra ``video``. :func:`require` is
called where such a module is first needed and turns its absence into one line naming the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: module -> (the package's name on PyPI, the extra that installs it)
EXTRAS = {
    "gradio": ("Gradio", "app"),
    "pandas": ("pandas", "app"),
    "imageio_ffmpeg": ("imageio-ffmpeg", "video"),
    "ray": ("Ray", "cluster"),
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra installs it."""


def require(module: str, purpose: str) -> ModuleType:
    """``module`` imported, or MissingExtra("<purpose> needs <package>: pip install 'elpips-torch[<extra>]'")."""
    package, extra = EXTRAS[module]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{purpose} needs {package}: pip install 'elpips-torch[{extra}]'", name=module) from None
