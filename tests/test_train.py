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
    assert hist.plot_draws >= 1, "the live curve never drew during a 4 s run"
    # It redraws whenever the budget allows: only a first draw that alone cost more than the
    # budget (a heavily loaded machine) may stand alone, and then nothing else is drawn.
    first_overshot = hist.plot_draws == 1 and hist.plot_seconds > 0.04 * hist.seconds
    assert hist.plot_draws >= 2 or first_overshot, (hist.plot_draws, hist.plot_seconds, hist.seconds)
    assert hist.plot_seconds < 0.10 * hist.seconds or first_overshot, (hist.plot_seconds, hist.seconds)
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


# --------------------------------------------------------------------------- how long fit trains

def _counting(n_batches=4):
    """A loader of ``n_batches`` batches and a step_fn that counts the batches it sees."""
    seen = []
    X = torch.randn(8 * n_batches, 8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, X[:, :1]), batch_size=8)

    def step(model, batch):
        seen.append(1)
        return _mse(model, batch)

    return loader, step, seen


def test_max_steps_alone_trains_exactly_that_many_steps_cycling_the_loader():
    loader, step, seen = _counting(4)
    hist = train.fit(nn.Linear(8, 1), loader, step, max_steps=10, progress=False, log_every=3)
    assert len(seen) == 10 and hist.steps == [3, 6, 9, 10]
    assert hist.stopped_by == "max_steps" and hist.epochs == 3  # 4 + 4 + 2 batches


def test_epochs_alone_neither_and_both():
    loader, step, seen = _counting(4)
    hist = train.fit(nn.Linear(8, 1), loader, step, num_epochs=2, progress=False)
    assert len(seen) == 8 and hist.stopped_by == "epochs" and hist.epochs == 2
    seen.clear()
    hist = train.fit(nn.Linear(8, 1), loader, step, progress=False)  # neither: one epoch
    assert len(seen) == 4 and hist.stopped_by == "epochs" and hist.steps == [4]
    seen.clear()
    hist = train.fit(nn.Linear(8, 1), loader, step, num_epochs=1_000, max_steps=6, progress=False)
    assert len(seen) == 6 and hist.stopped_by == "max_steps"  # the callers' idiom keeps working
    seen.clear()
    with pytest.warns(UserWarning, match="before max_steps=20"):  # never capped silently
        hist = train.fit(nn.Linear(8, 1), loader, step, num_epochs=2, max_steps=20, progress=False)
    assert len(seen) == 8 and hist.stopped_by == "epochs"


def test_max_seconds_stops_and_says_so():
    loader, step, seen = _counting(4)
    hist = train.fit(nn.Linear(8, 1), loader, step, max_steps=10**9, max_seconds=0.3, progress=False)
    assert hist.stopped_by == "max_seconds" and 0.3 <= hist.seconds < 30 and len(seen) == hist.steps[-1]


def test_iterables_without_a_length_and_exhausted_iterators():
    batches = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(3)]
    hist = train.fit(nn.Linear(8, 1), batches, _mse, max_steps=7, progress=True)  # a list: cycles
    assert hist.steps[-1] == 7 and hist.epochs == 3
    hist = train.fit(nn.Linear(8, 1), iter(batches), _mse, progress=False)  # one pass of an iterator
    assert hist.steps[-1] == 3
    with pytest.raises(ValueError, match="no batches in epoch 2.*only once"):
        train.fit(nn.Linear(8, 1), iter(batches), _mse, max_steps=5, progress=False)


# --------------------------------------------------------------------------- fit refuses bad input

def _ok_loader():
    return _counting(2)[0]


@pytest.mark.parametrize("kwargs,error,match", [
    ({"log_every": 0}, ValueError, "log_every"),              # out of range
    ({"log_every": -5}, ValueError, "log_every"),
    ({"log_every": 2.5}, TypeError, "log_every"),             # wrong type
    ({"log_every": None}, TypeError, "log_every"),
    ({"num_epochs": 0}, ValueError, "num_epochs"),
    ({"num_epochs": 2.0}, TypeError, "num_epochs"),
    ({"num_epochs": True}, TypeError, "num_epochs"),
    ({"max_steps": 0}, ValueError, "max_steps"),
    ({"max_steps": "100"}, TypeError, "max_steps"),
    ({"max_steps": 1e3}, TypeError, "max_steps"),
    ({"max_seconds": 0}, ValueError, "max_seconds"),
    ({"max_seconds": -1.0}, ValueError, "max_seconds"),
    ({"max_seconds": float("nan")}, ValueError, "max_seconds"),  # NaN / inf
    ({"max_seconds": float("inf")}, ValueError, "use None"),
    ({"max_seconds": "60"}, TypeError, "max_seconds"),
    ({"lr": 0}, ValueError, "lr"),
    ({"lr": -1e-3}, ValueError, "lr"),
    ({"lr": float("nan")}, ValueError, "lr"),
    ({"lr": "1e-3"}, TypeError, "lr"),
    ({"grad_clip": 0}, ValueError, "grad_clip"),
    ({"grad_clip": float("inf")}, ValueError, "grad_clip"),
    ({"grad_clip": "1"}, TypeError, "grad_clip"),
    ({"device": "gpu0"}, ValueError, "device must name a torch device"),
    ({"device": "cuda:99" if torch.cuda.is_available() else "cuda"}, ValueError, "not available"),
    ({"device": 0}, TypeError, "device must be a torch.device or a str"),
    ({"device": ["cpu"]}, TypeError, "device must be a torch.device or a str"),
    ({"optimizer": "adam"}, TypeError, "torch.optim.Optimizer"),
    ({"optimizer": torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)}, ValueError,
     "none of the model's parameters"),
    ({"plot": "yes"}, TypeError, "plot"),
    ({"progress": None}, TypeError, "progress"),
    ({"desc": 3}, TypeError, "desc"),
])
def test_fit_argument_checks(kwargs, error, match):
    model = nn.Linear(8, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(error, match=match):
        train.fit(model, _ok_loader(), _mse, **{"progress": False, **kwargs})
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), "refused, yet trained"


def test_fit_device_as_a_string_and_loader_checks():
    hist = train.fit(nn.Linear(8, 1), _ok_loader(), _mse, device="cpu", progress=False)
    assert hist.steps == [2]
    assert train.as_device("cpu") == torch.device("cpu") and train.as_device(torch.device("cpu")).type == "cpu"
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(0, 8)), batch_size=4)
    with pytest.raises(ValueError, match="loader is empty"):
        train.fit(nn.Linear(8, 1), empty, _mse, progress=False)
    with pytest.raises(ValueError, match="loader is empty"):
        train.fit(nn.Linear(8, 1), [], _mse, progress=False)
    with pytest.raises(ValueError, match="no batches in epoch 1"):
        train.fit(nn.Linear(8, 1), iter([]), _mse, progress=False)
    for bad in (5, None, "batches"):
        with pytest.raises(TypeError, match="loader must be an iterable"):
            train.fit(nn.Linear(8, 1), bad, _mse, progress=False)
    with pytest.raises(TypeError, match="step_fn must be callable"):
        train.fit(nn.Linear(8, 1), _ok_loader(), "mse", progress=False)


@pytest.mark.parametrize("step_fn,error,match", [
    (lambda m, b: 0.5, TypeError, "scalar torch.Tensor, got float"),                      # wrong type
    (lambda m, b: _mse(m, b).item(), TypeError, "got float"),
    (lambda m, b: [_mse(m, b)], TypeError, "got list"),
    (lambda m, b: None, TypeError, "got NoneType"),
    (lambda m, b: (m(b[0]) - b[1]) ** 2, ValueError, r"scalar loss .* shape \(8, 1\).*mean"),  # wrong shape
    (lambda m, b: _mse(m, b).detach(), ValueError, "does not require grad"),
    (lambda m, b: torch.tensor(3), ValueError, "floating-point"),
    (lambda m, b: _mse(m, b) * float("inf"), FloatingPointError, "loss became inf"),         # NaN / inf
])
def test_fit_refuses_bad_losses(step_fn, error, match):
    with pytest.raises(error, match=match):
        train.fit(nn.Linear(8, 1), _ok_loader(), step_fn, progress=False)


def test_fit_accepts_a_one_element_loss_and_a_given_optimizer():
    model = nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    hist = train.fit(model, _ok_loader(), lambda m, b: _mse(m, b).reshape(1), optimizer=opt, progress=False)
    assert hist.steps == [2] and len(hist.losses) == 1


@pytest.mark.parametrize("kwargs,error,match", [
    ({"budget": 0}, ValueError, "budget"),
    ({"budget": 1.5}, ValueError, "budget"),
    ({"budget": float("nan")}, ValueError, "budget"),
    ({"budget": "5%"}, TypeError, "budget"),
    ({"warmup": -1}, ValueError, "warmup"),
    ({"warmup": float("inf")}, ValueError, "warmup"),
    ({"warmup": None}, TypeError, "warmup"),
    ({"enabled": 1}, TypeError, "enabled"),
    ({"title": None}, TypeError, "title"),
])
def test_live_curve_argument_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        train.LiveCurve(**kwargs)


def test_live_curve_valid_arguments_and_mismatched_update():
    curve = train.LiveCurve(budget=1, warmup=0, enabled=False)
    assert curve.budget == 1.0 and curve.warmup == 0.0
    curve.update([1], [0.5])  # disabled: draws nothing
    assert curve.draws == 0
    on = train.LiveCurve(warmup=0, enabled=True)
    with pytest.raises(ValueError, match="same length"):
        on.update([1, 2], [0.5])


def test_cpu_budget_counts_earlier_runs_and_leaves_out_excluded_work():
    budget = train.CPUBudget(minutes=10, cpu_minutes=1, cpu_before=30.0)
    assert 29.9 < budget.cpu_seconds() < 31.0
    assert 25 < budget.seconds_left() <= 30.0  # the CPU budget binds before the wall clock
    with budget.excluded():
        t0 = time.process_time()
        while time.process_time() - t0 < 0.2:  # busy work that must not count
            pass
    assert budget.cpu_seconds() < 30.2
    assert train.CPUBudget(minutes=0).seconds_left() <= 0
    assert train.CPUBudget(minutes=1).seconds_left() > 50  # no CPU limit: the wall clock decides
    with pytest.raises(TypeError, match="minutes"):
        train.CPUBudget(minutes="10")
    with pytest.raises(ValueError, match="cpu_minutes"):
        train.CPUBudget(minutes=1, cpu_minutes=-1)
