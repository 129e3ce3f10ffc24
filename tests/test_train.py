import time

import pytest
import torch
from torch import nn

from d2lt import train


def _toy(seed=0, n=512):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 8, generator=g)
    y = X @ torch.randn(8, 1, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32)


def _mse(model, batch):
    X, y = batch
    return nn.functional.mse_loss(model(X), y)


def test_fit_learns_and_reports():
    torch.manual_seed(0)
    model = nn.Linear(8, 1)
    hist = train.fit(model, _toy(), _mse, num_epochs=5, lr=0.05, device=torch.device("cpu"), progress=False)
    assert hist.steps[-1] == 5 * 16
    assert hist.losses[-1] < 0.05 * hist.losses[0]
    assert not model.training


def test_fit_respects_max_steps_and_checks_inputs():
    model = nn.Linear(8, 1)
    hist = train.fit(model, _toy(), _mse, num_epochs=5, max_steps=7, progress=False, log_every=3)
    assert hist.steps[-1] == 7
    with pytest.raises(TypeError, match="nn.Module"):
        train.fit("model", _toy(), _mse)
    with pytest.raises(ValueError, match="num_epochs"):
        train.fit(model, _toy(), _mse, num_epochs=0)
    with pytest.raises(ValueError, match="grad_clip"):
        train.fit(model, _toy(), _mse, grad_clip=-1)
    with pytest.raises(FloatingPointError, match="loss became"):
        train.fit(model, _toy(), lambda m, b: torch.tensor(float("nan"), requires_grad=True), progress=False)


def test_live_curve_costs_under_ten_percent():
    """The live loss curve (forced on, drawing to an Agg canvas) draws, and within its time budget."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, _ = plt.subplots()  # matplotlib's one-off start-up cost (fonts), paid by any first figure
    fig.canvas.draw()
    plt.close(fig)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 256), nn.ReLU(), nn.Linear(256, 1))
    loader = _toy(n=2048)
    hist = train.fit(model, loader, _mse, num_epochs=1000, max_seconds=4.0, progress=False, plot=True,
                     log_every=1)
    assert hist.plot_draws >= 2, "the live curve never redrew during a 4 s run"
    assert hist.plot_seconds < 0.10 * hist.seconds, (hist.plot_seconds, hist.seconds)
    quiet = train.fit(model, loader, _mse, num_epochs=1, progress=False, plot=True)
    assert quiet.plot_draws == 0, "a run shorter than the warm-up draws nothing"


def test_checkpoint_round_trip_atomic_and_fingerprint(tmp_path):
    model = nn.Linear(4, 3)
    cfg = {"width": 4, "out": 3}
    path = train.save_checkpoint(tmp_path / "m.pt", model, cfg, score=1.5)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left
    other = nn.Linear(4, 3)
    extra = train.load_checkpoint(path, other, {"out": 3, "width": 4})  # key order does not matter
    assert extra == {"score": 1.5}
    torch.testing.assert_close(other.weight, model.weight)
    with pytest.raises(ValueError, match="another config") as e:
        train.load_checkpoint(path, other, {"width": 5, "out": 3})
    assert "width" in str(e.value)
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(tmp_path / "missing.pt", other, cfg)


def test_half_checkpoint_and_failed_save_leaves_nothing(tmp_path, monkeypatch):
    model = nn.Linear(4, 3)
    path = train.save_checkpoint(tmp_path / "h.pt", model, {"a": 1}, half=True)
    back = nn.Linear(4, 3)
    train.load_checkpoint(path, back, {"a": 1})
    assert back.weight.dtype == torch.float32
    torch.testing.assert_close(back.weight, model.weight, atol=1e-3, rtol=1e-3)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        train.save_checkpoint(tmp_path / "x.pt", model, {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.pt"]


def test_checkpoint_refuses_non_checkpoints(tmp_path):
    torch.save({"just": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a d2lt checkpoint"):
        train.load_checkpoint(tmp_path / "plain.pt", nn.Linear(1, 1), {})
    with pytest.raises(TypeError, match="config must be a dict"):
        train.fingerprint([1])
    with pytest.raises(ValueError, match=".pt"):
        train.course_checkpoint("../x")


def test_autocast_is_noop_on_cpu():
    with train.autocast(torch.device("cpu")):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
