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


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**32, ValueError), (10**30, ValueError),
                                        (1.5, TypeError), (0.0, TypeError), (float("nan"), TypeError),
                                        ("0", TypeError), (None, TypeError), (True, TypeError),
                                        (np.bool_(False), TypeError), ([1], TypeError)])
def test_seed_rejects_bad_values(bad, error):
    with pytest.raises(error, match=r"seed must be an int in \[0, 4294967295\]"):
        d2lt.seed_everything(bad)


def test_seed_accepts_the_whole_range_and_numpy_ints():
    for seed in (0, 2**32 - 1, np.int64(7), np.uint32(7)):
        d2lt.seed_everything(seed)
    d2lt.seed_everything(np.int64(7))
    a = np.random.rand()
    d2lt.seed_everything(7)
    assert np.random.rand() == a


# --------------------------------------------------------------------------- D2LT_DEVICE


@pytest.mark.parametrize("value", ["cpu", "CPU", " cpu ", "cpu:0"])
def test_device_accepts_the_cpu(monkeypatch, value):
    monkeypatch.setenv(core.DEVICE_ENV, value)
    assert d2lt.device() == torch.device(value.strip().lower())


@pytest.mark.parametrize("value, match", [("cpu:1", "no index 1"), ("meta", "not supported"),
                                          ("xla", "not supported"), ("cuda:x", "must name a torch device"),
                                          ("gpu", "must name a torch device"), ("cuda:-1", "must name")])
def test_device_refuses_what_the_course_cannot_use(monkeypatch, value, match):
    monkeypatch.setenv(core.DEVICE_ENV, value)
    with pytest.raises(ValueError, match=match) as e:
        d2lt.device()
    assert "D2LT_DEVICE" in str(e.value) and repr(value) in str(e.value)


def test_device_refuses_cuda_where_there_is_none(monkeypatch):
    monkeypatch.setattr(core, "_cuda_count", lambda: 0)
    for value in ("cuda", "cuda:0", "cuda:1"):
        monkeypatch.setenv(core.DEVICE_ENV, value)
        with pytest.raises(ValueError, match="no CUDA device is present"):
            d2lt.device()
        with pytest.raises(ValueError, match="no CUDA device is present"):
            d2lt.setup(verbose=False)


def test_device_refuses_a_cuda_index_beyond_the_count(monkeypatch):
    monkeypatch.setattr(core, "_cuda_count", lambda: 2)
    monkeypatch.setenv(core.DEVICE_ENV, "cuda:1")
    assert d2lt.device() == torch.device("cuda:1")
    monkeypatch.setenv(core.DEVICE_ENV, "cuda")
    assert d2lt.device() == torch.device("cuda")
    monkeypatch.setenv(core.DEVICE_ENV, "cuda:5")
    with pytest.raises(ValueError, match=r"CUDA device 5, but this machine has 2 \(indices 0 to 1\)"):
        d2lt.device()


def test_device_on_this_machine(monkeypatch):
    """Without any stand-in: what this machine really has."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    monkeypatch.setenv(core.DEVICE_ENV, "cuda")
    if count:
        assert d2lt.device() == torch.device("cuda")
    else:
        with pytest.raises(ValueError, match="no CUDA device is present"):
            d2lt.device()
    monkeypatch.setenv(core.DEVICE_ENV, f"cuda:{count}")
    with pytest.raises(ValueError, match="CUDA"):
        d2lt.device()
    monkeypatch.setenv(core.DEVICE_ENV, "mps")
    if core._mps_available():
        assert d2lt.device().type == "mps"
    else:
        with pytest.raises(ValueError, match="MPS, which is not available"):
            d2lt.device()


def test_device_refuses_mps_where_there_is_none(monkeypatch):
    monkeypatch.setattr(core, "_mps_available", lambda: False)
    monkeypatch.setenv(core.DEVICE_ENV, "mps")
    with pytest.raises(ValueError, match="MPS, which is not available"):
        d2lt.device()
    monkeypatch.setattr(core, "_mps_available", lambda: True)
    assert d2lt.device() == torch.device("mps")
    monkeypatch.setenv(core.DEVICE_ENV, "mps:1")
    with pytest.raises(ValueError, match="single device"):
        d2lt.device()


# --------------------------------------------------------------------------- setup and Profile


@pytest.mark.parametrize("kwargs, error, match", [({"seed": -1}, ValueError, "seed"),
                                                  ({"seed": 0.5}, TypeError, "seed"),
                                                  ({"verbose": "no"}, TypeError, "verbose must be a bool"),
                                                  ({"verbose": 0}, TypeError, "verbose must be a bool"),
                                                  ({"verbose": None}, TypeError, "verbose must be a bool")])
def test_setup_checks_its_arguments_before_seeding(monkeypatch, kwargs, error, match):
    monkeypatch.setenv(core.PROFILE_ENV, "ci")
    random.seed(123)
    state = random.getstate()
    with pytest.raises(error, match=match):
        d2lt.setup(**kwargs)
    assert random.getstate() == state  # nothing was seeded


def test_setup_checks_the_environment_before_seeding(monkeypatch):
    random.seed(5)
    state = random.getstate()
    monkeypatch.setenv(core.PROFILE_ENV, "fast")
    with pytest.raises(ValueError, match="D2LT_PROFILE must be one of"):
        d2lt.setup(seed=1, verbose=False)
    monkeypatch.setenv(core.PROFILE_ENV, "ci")
    monkeypatch.setenv(core.DEVICE_ENV, "warp-drive")
    with pytest.raises(ValueError, match="D2LT_DEVICE"):
        d2lt.setup(seed=1, verbose=False)
    assert random.getstate() == state


def test_profile_pick_needs_ci_and_cpu():
    p = d2lt.Profile("ci")
    with pytest.raises(TypeError, match="missing: cpu"):
        p.pick(ci=1)
    with pytest.raises(TypeError, match="missing: ci, cpu"):
        p.pick(gpu=3)
    with pytest.raises(TypeError):
        p.pick(1, 2)
    with pytest.raises(TypeError):
        p.pick(ci=1, cpu=2, tpu=3)
    assert p.pick(ci=None, cpu=2) is None  # None is a value a notebook may choose
    with pytest.raises(TypeError, match="profile must be a str"):
        d2lt.Profile(3)


def test_seeded_repeats_its_draws_and_leaves_the_callers_stream():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with d2lt.seeded(7):
        a = torch.rand(4)
    with d2lt.seeded(7):
        b = torch.rand(4)
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(3), expected_next)   # the caller's generator is untouched
    with pytest.raises(ValueError):
        with d2lt.seeded(-1):
            pass
