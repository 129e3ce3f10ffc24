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

import os
import platform
import random
from dataclasses import dataclass

import numpy as np
import torch

PROFILES = ("ci", "cpu", "gpu")
PROFILE_ENV = "D2LT_PROFILE"
DEVICE_ENV = "D2LT_DEVICE"


def _accelerator() -> str:
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def device() -> torch.device:
    """The device the course uses: CUDA, then Apple MPS, then CPU.

    ``D2LT_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) overrides the choice.
    """
    forced = os.environ.get(DEVICE_ENV, "").strip()
    if forced:
        try:
            return torch.device(forced)
        except RuntimeError as e:  # torch raises RuntimeError for bad strings
            raise ValueError(f"{DEVICE_ENV} must name a torch device such as 'cpu' or 'cuda', "
                             f"got {forced!r}") from e
    return torch.device(_accelerator())


@dataclass(frozen=True)
class Profile:
    """The size profile of a run (``ci``, ``cpu`` or ``gpu``)."""

    name: str

    def __post_init__(self):
        if self.name not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.name!r}")

    def pick(self, *, ci, cpu, gpu=None):
        """Return the value for this profile; ``gpu`` defaults to the ``cpu`` value."""
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


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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
    """
    seed_everything(seed)
    s = Setup(device=device(), profile=profile(), seed=seed)
    if verbose:
        from . import __version__
        print(f"{s} | d2lt {__version__}")
    return s
