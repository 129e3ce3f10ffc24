"""Device, profile and seeding: the one call at the top of every notebook.

A *profile* decides how big every experiment is:

* ``ci``  -- tiny sizes so a notebook runs in well under 90 s on two CPU cores;
* ``cpu`` -- a laptop run that finishes in minutes;
* ``gpu`` -- full size, for a CUDA or Apple-silicon device.

The environment variable ``D2LT_PROFILE`` picks one; otherwise the profile
follows the hardware (``gpu`` when CUDA or MPS is present, else ``cpu``).
Notebooks never hard-code a size: they ask the profile, e.g.
``P.pick(ci=2_000, cpu=20_000, gpu=100_000)``.
"""
from __future__ import annotations

import contextlib
import os
import platform
import random
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from . import validate as check

PROFILES = ("ci", "cpu", "gpu")
PROFILE_ENV = "D2LT_PROFILE"
DEVICE_ENV = "D2LT_DEVICE"
SEED_MAX = 2**32 - 1  # numpy's limit
_MISSING = object()


def _accelerator() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def device() -> torch.device:
    """The device the course uses: CUDA, then Apple MPS, then CPU.

    ``D2LT_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) overrides the choice;
    a device that this machine does not have is refused with a ``ValueError``
    here, not later in the middle of a training run.
    """
    raw = os.environ.get(DEVICE_ENV, "")
    forced = raw.strip().lower()
    if not forced:
        return torch.device(_accelerator())
    accepted = "'cpu', 'cuda', 'cuda:N' or 'mps'"
    try:
        dev = torch.device(forced)
    except (RuntimeError, ValueError) as e:  # torch raises RuntimeError for bad strings
        raise ValueError(f"{DEVICE_ENV} must name a torch device, {accepted}, got {raw!r}") from e
    if dev.type == "cpu":
        if dev.index not in (None, 0):
            raise ValueError(f"{DEVICE_ENV}={raw!r}: the CPU has no index {dev.index}; use 'cpu'")
        return dev
    if dev.type == "cuda":
        count = _cuda_count()
        if count == 0:
            raise ValueError(f"{DEVICE_ENV}={raw!r} asks for CUDA, but no CUDA device is present "
                             f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                             "unset the variable or set it to 'cpu'")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{DEVICE_ENV}={raw!r} asks for CUDA device {dev.index}, but this "
                             f"machine has {count} (indices 0 to {count - 1})")
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise ValueError(f"{DEVICE_ENV}={raw!r} asks for Apple MPS, which is not available here; "
                             "unset the variable or set it to 'cpu'")
        if dev.index not in (None, 0):
            raise ValueError(f"{DEVICE_ENV}={raw!r}: MPS has a single device; use 'mps'")
        return dev
    raise ValueError(f"{DEVICE_ENV} must be {accepted}, got {raw!r} (device type {dev.type!r} "
                     "is not supported by the course)")


@dataclass(frozen=True)
class Profile:
    """The size profile of a run (``ci``, ``cpu`` or ``gpu``)."""

    name: str

    def __post_init__(self):
        check.string(self.name, "profile", choices=PROFILES)

    def pick(self, *, ci=_MISSING, cpu=_MISSING, gpu=None):
        """Return the value for this profile; ``gpu`` defaults to the ``cpu`` value.

        ``ci`` and ``cpu`` are required (by keyword), so that a notebook states
        the size of every profile.
        """
        missing = [k for k, v in (("ci", ci), ("cpu", cpu)) if v is _MISSING]
        if missing:
            raise TypeError(f"Profile.pick needs values for ci= and cpu= (gpu= is optional and "
                            f"defaults to the cpu value); missing: {', '.join(missing)}")
        return {"ci": ci, "cpu": cpu, "gpu": cpu if gpu is None else gpu}[self.name]

    @property
    def is_ci(self) -> bool:
        return self.name == "ci"


def profile() -> Profile:
    """The active profile: ``D2LT_PROFILE`` if set, else chosen by the hardware."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower()
    if not name:
        name = "gpu" if _accelerator() != "cpu" else "cpu"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {PROFILES}, got {name!r}")
    return Profile(name)


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int in ``[0, 2**32 - 1]`` (the range every generator accepts).

    A bool, a float or a string is a ``TypeError``; an int out of range a
    ``ValueError``; both say what was expected and what came.
    """
    return check.integer(seed, name, low=0, high=SEED_MAX)


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) with an int in ``[0, 2**32 - 1]``."""
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int = 0):
    """Run the block with torch's CPU generator seeded with ``seed``, then restore the caller's
    generator state: the same draws inside every time, the caller's stream untouched."""
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@dataclass(frozen=True)
class Setup:
    device: torch.device
    profile: Profile
    seed: int

    def __str__(self):
        return (f"device: {self.device} | profile: {self.profile.name} | seed: {self.seed} | "
                f"torch {torch.__version__} | python {platform.python_version()} | "
                f"threads {torch.get_num_threads()}")


def setup(seed: int = 0, verbose: bool = True) -> Setup:
    """Pick the device, seed every generator, choose the profile, and print them.

    Returns a :class:`Setup` with ``.device``, ``.profile`` and ``.seed``.
    Every argument and environment variable is checked before anything is
    seeded.
    """
    seed = check_seed(seed)
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be a bool, got {type(verbose).__name__} {verbose!r}")
    s = Setup(device=device(), profile=profile(), seed=seed)
    seed_everything(seed)
    # Libraries that import tqdm.auto inside a notebook without ipywidgets warn once; the
    # course's own progress bars are plain text, so the warning says nothing useful here.
    warnings.filterwarnings("ignore", message="IProgress not found")
    if verbose:
        from . import __version__
        print(f"{s} | d2lt {__version__}")
    return s
