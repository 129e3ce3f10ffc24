import random

import numpy as np
import pytest
import torch

import d2lt
from d2lt import core


def test_device_is_a_torch_device(monkeypatch):
    monkeypatch.delenv(core.DEVICE_ENV, raising=False)
    dev = d2lt.device()
    assert isinstance(dev, torch.device)
    assert dev.type in ("cpu", "cuda", "mps")


def test_device_override_and_bad_value(monkeypatch):
    monkeypatch.setenv(core.DEVICE_ENV, "cpu")
    assert d2lt.device() == torch.device("cpu")
    monkeypatch.setenv(core.DEVICE_ENV, "warp-drive")
    with pytest.raises(ValueError, match="warp-drive"):
        d2lt.device()


def test_profile_from_env_and_pick(monkeypatch):
    monkeypatch.setenv(core.PROFILE_ENV, "ci")
    p = d2lt.profile()
    assert p.name == "ci" and p.is_ci
    assert p.pick(ci=1, cpu=2, gpu=3) == 1
    assert d2lt.Profile("gpu").pick(ci=1, cpu=2) == 2  # gpu falls back to the cpu value
    monkeypatch.setenv(core.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="huge"):
        d2lt.profile()
    with pytest.raises(ValueError, match="profile must be one of"):
        d2lt.Profile("tiny")


def test_default_profile_follows_hardware(monkeypatch):
    monkeypatch.delenv(core.PROFILE_ENV, raising=False)
    expected = "gpu" if core._accelerator() != "cpu" else "cpu"
    assert d2lt.profile().name == expected


def test_setup_seeds_everything(capsys, monkeypatch):
    monkeypatch.setenv(core.PROFILE_ENV, "ci")
    s = d2lt.setup(seed=3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    d2lt.setup(seed=3, verbose=False)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    out = capsys.readouterr().out
    assert "profile: ci" in out and "torch" in out and "device:" in out
    assert s.profile.name == "ci" and s.seed == 3


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="seed"):
        d2lt.seed_everything(bad)
