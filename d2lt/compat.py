"""Load the ``d2l`` book package (Dive into Deep Learning, 1.0.3) as a test oracle.

``d2l.torch`` imports ``torchvision`` at import time. Where torchvision is
missing, or installed but broken (a CUDA build next to a CPU torch fails to
load its operators), :func:`d2l` registers a small stand-in module first. The
parts of ``d2l`` the course uses (attention, BLEU, the RNN encoder, plotting
helpers) never touch torchvision; its vision datasets fail with a clear message.
"""
from __future__ import annotations

import importlib
import sys
import types

_MESSAGE = ("torchvision is not usable in this environment (missing, or a build that does "
            "not match the installed torch); d2l's vision datasets and transforms are unavailable. "
            "The course does not need them.")


class _Unavailable(types.ModuleType):
    """A module whose every attribute access raises a clear error."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise ImportError(f"{self.__name__}.{name}: {_MESSAGE}")


def _torchvision_works() -> bool:
    try:
        import torchvision  # noqa: F401
        from torchvision import transforms  # noqa: F401
        return True
    except Exception:  # ImportError, or RuntimeError/OSError from a mismatched build
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False


def _install_torchvision_stand_in() -> None:
    root = _Unavailable("torchvision")
    root.__path__ = []  # a package, so "from torchvision import transforms" works
    root.__d2lt_stand_in__ = True
    for sub in ("transforms", "datasets", "models", "io", "ops", "utils"):
        mod = _Unavailable(f"torchvision.{sub}")
        mod.__d2lt_stand_in__ = True
        setattr(root, sub, mod)
        sys.modules[f"torchvision.{sub}"] = mod
    sys.modules["torchvision"] = root


def d2l():
    """Return the ``d2l.torch`` module, importable even without a working torchvision."""
    if "d2l.torch" in sys.modules:
        return sys.modules["d2l.torch"]
    if not _torchvision_works():
        _install_torchvision_stand_in()
    try:
        return importlib.import_module("d2l.torch")
    except ImportError as e:
        raise ImportError(f"could not import d2l.torch ({e}); install it with "
                          "`pip install --no-deps d2l==1.0.3` (its pins are stale)") from e
