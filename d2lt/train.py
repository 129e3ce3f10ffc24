"""Training on whatever device is best, and checkpoints that cannot be half-written.

:func:`fit` is a plain loop -- forward, backward, clip, step -- with a tqdm
progress bar, an optional live loss curve in notebooks, and bf16 autocast on
GPUs that support it. It trains exactly ``max_steps`` steps (cycling over the
loader), or ``num_epochs`` passes, or one pass, and records in its
:class:`History` why it stopped. The live curve redraws only while its drawing
time stays under its ``budget`` (5%) of the elapsed training time, so it never
slows a run noticeably.

Checkpoints store the weights, the config, a fingerprint of the config and a
sha256 checksum of all three, written atomically. :func:`load_checkpoint`
loads with ``weights_only=True`` (no pickled code is run) and turns every
damaged, truncated, malformed or edited file into a ``ValueError`` naming the
file, as well as a checkpoint saved for another config.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import validate as check
from .core import device as default_device


def autocast(device: torch.device):
    """bf16 autocast on CUDA devices that support bf16; a no-op elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        shell = get_ipython()
        return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


_NO_LIMIT = "a finite number > 0 (use None for no limit)"


def as_device(device) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine.

    Takes a ``torch.device`` or a string naming one (``"cpu"``, ``"cuda:0"``,
    ``"mps"``); ``None`` means the course's default (:func:`d2lt.core.device`).
    A name torch does not know, or a device this machine lacks, is a
    ``ValueError``; any other type a ``TypeError``.
    """
    if device is None:
        device = default_device()
    elif isinstance(device, str):
        try:
            device = torch.device(device)
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"device must name a torch device such as 'cpu', 'cuda' or 'cuda:1', "
                             f"got {device!r}") from e
    elif not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device or a str naming one, got {type(device).__name__}")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} is not available: this machine has no usable CUDA GPU")
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {str(device)!r} is not available: this machine has {count} CUDA "
                             f"device(s), cuda:0 to cuda:{count - 1}")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {str(device)!r} is not available on this machine")
    return device


class LiveCurve:
    """A loss curve redrawn in place in a notebook, within a time budget.

    Nothing is drawn during the first ``warmup`` seconds (a short run needs no
    live curve); after that a redraw happens only while the time spent drawing
    stays under ``budget`` of the elapsed time, and the final redraw only if it
    fits in twice that budget. ``budget`` is a share in (0, 1]; ``warmup`` a
    number of seconds >= 0; ``enabled`` None (in notebooks only), True or False.
    """

    def __init__(self, title="training loss", budget=0.05, warmup=2.0, enabled=None):
        check.string(title, "title")
        budget = check.number(budget, "budget", low=0, high=1, strict=True,
                              what="a share of the elapsed time in (0, 1]")
        warmup = check.number(warmup, "warmup", low=0, what="a finite number of seconds >= 0")
        check.boolean(enabled, "enabled", allow_none=True)
        self.enabled = _in_notebook() if enabled is None else enabled
        self.budget, self.warmup, self.title = float(budget), float(warmup), title
        self.spent, self.draws, self.last_cost = 0.0, 0, 0.0
        self.start, self.handle, self.fig = time.perf_counter(), None, None

    def update(self, steps, losses, final=False):
        if not self.enabled or not losses:
            return
        check.same_length(steps, losses, "steps", "losses")
        elapsed = time.perf_counter() - self.start
        if elapsed < self.warmup:
            return
        allowed = (2 if final else 1) * self.budget * elapsed
        if self.spent + (self.last_cost if final else 0.0) > allowed:
            return
        t0 = time.perf_counter()
        import matplotlib.pyplot as plt
        if self.fig is None:
            self.fig, self.ax = plt.subplots(figsize=(5, 3))
            plt.close(self.fig)  # drawn through the display handle only
        self.ax.clear()
        self.ax.plot(steps, losses, lw=1)
        self.ax.set(xlabel="step", ylabel="loss", title=self.title)
        self.ax.grid(alpha=0.3)
        if _in_notebook():
            from IPython.display import display
            if self.handle is None:
                self.handle = display(self.fig, display_id=True)
            else:
                self.handle.update(self.fig)
        else:
            self.fig.canvas.draw()
        self.last_cost = time.perf_counter() - t0
        self.spent += self.last_cost
        self.draws += 1


STOP_REASONS = ("epochs", "max_steps", "max_seconds")


@dataclass
class History:
    """What :func:`fit` did: logged ``(steps, losses)``, time, and why it stopped.

    ``stopped_by`` is ``"epochs"`` (``num_epochs`` passes over the loader),
    ``"max_steps"`` or ``"max_seconds"``; ``epochs`` counts the passes begun.
    """

    steps: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    seconds: float = 0.0
    plot_seconds: float = 0.0  # time spent drawing the live curve
    plot_draws: int = 0
    stopped_by: str = ""
    epochs: int = 0


def _check_loss(loss, step):
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"step_fn must return the loss as a scalar torch.Tensor, got {type(loss).__name__} "
                        f"at step {step}")
    if loss.numel() != 1:
        raise ValueError(f"step_fn must return a scalar loss (one value), got a tensor of shape "
                         f"{tuple(loss.shape)} at step {step}; reduce it, e.g. with .mean()")
    if not loss.is_floating_point():
        raise ValueError(f"step_fn must return a floating-point loss, got dtype {loss.dtype} at step {step}")
    if not loss.requires_grad:
        raise ValueError(f"step_fn returned a loss that does not require grad at step {step}: it was not "
                         "computed from the model's trainable parameters (detached, .item(), or no_grad?)")


def fit(model, loader, step_fn, *, num_epochs: int | None = None, max_steps: int | None = None,
        lr: float = 1e-3, optimizer=None, device=None, grad_clip: float | None = 1.0, plot=None,
        progress: bool = True, log_every: int = 10, desc: str = "train",
        max_seconds: float | None = None) -> History:
    """Train ``model`` with ``step_fn(model, batch) -> loss`` over ``loader``.

    How long it trains:

    - ``max_steps`` alone: exactly ``max_steps`` optimizer steps, cycling over
      the loader as many epochs as that takes;
    - ``num_epochs`` alone: that many passes over the loader;
    - neither: one pass over the loader;
    - both: whichever comes first (a ``UserWarning`` says so when the epochs
      run out before ``max_steps``);
    - ``max_seconds`` stops any of these early once that much time has passed.

    The returned :class:`History` holds the logged losses (the mean over every
    ``log_every`` steps, and over the last, shorter stretch) and ``stopped_by``,
    the reason training stopped. ``optimizer`` defaults to Adam with ``lr``;
    ``device`` is a ``torch.device`` or a str naming one (default: the course's
    device). ``plot`` None draws the live curve in notebooks only.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(loader, (str, bytes)) or not hasattr(loader, "__iter__"):
        raise TypeError("loader must be an iterable of batches (e.g. a DataLoader), "
                        f"got {type(loader).__name__}")
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable(model, batch) -> loss, got {type(step_fn).__name__}")
    num_epochs = check.integer(num_epochs, "num_epochs", low=1, allow_none=True)
    max_steps = check.integer(max_steps, "max_steps", low=1, allow_none=True)
    max_seconds = check.number(max_seconds, "max_seconds", low=0, strict=True, allow_none=True, what=_NO_LIMIT)
    log_every = check.integer(log_every, "log_every", low=1)
    grad_clip = check.number(grad_clip, "grad_clip", low=0, strict=True, allow_none=True, what=_NO_LIMIT)
    lr = check.number(lr, "lr", low=0, strict=True)
    check.boolean(plot, "plot", allow_none=True)
    check.boolean(progress, "progress")
    check.string(desc, "desc")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer (or None for Adam), "
                        f"got {type(optimizer).__name__}")
    try:
        per_epoch = len(loader)
    except TypeError:  # an iterable without a length
        per_epoch = None
    if per_epoch == 0:
        raise ValueError("loader is empty: it holds no batches to train on")
    if num_epochs is None and max_steps is None:
        num_epochs = 1
    if optimizer is not None:
        mine = {id(p) for p in model.parameters()}
        if not any(id(p) in mine for g in optimizer.param_groups for p in g["params"]):
            raise ValueError("optimizer holds none of the model's parameters: build it from "
                             "model.parameters()")
    device = as_device(device)
    model.to(device).train()
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    epoch_steps = None if num_epochs is None or per_epoch is None else num_epochs * per_epoch
    caps = [n for n in (max_steps, epoch_steps) if n is not None]
    total = min(caps) if caps else None  # for the progress bar only
    curve = LiveCurve(title=desc, enabled=plot)
    hist, step, t0 = History(), 0, time.perf_counter()
    # The losses since the last log, summed in one tensor on the loss's device: one device
    # sync per log, and no per-step tensors kept alive (on the CPU a long list of them
    # pinned freed activation memory and the process grew by megabytes a step).
    running, n_running = None, 0
    bar = None
    if progress:
        from tqdm.std import tqdm  # a text bar: widget bars need ipywidgets and a CDN to render
        bar = tqdm(total=total, desc=desc, leave=False, mininterval=1.0)
    try:
        while not hist.stopped_by:
            if num_epochs is not None and hist.epochs >= num_epochs:
                hist.stopped_by = "epochs"
                break
            hist.epochs += 1
            batches = 0
            for batch in loader:
                batches += 1
                batch = to_device(batch, device)
                with autocast(device):
                    loss = step_fn(model, batch)
                _check_loss(loss, step)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {step}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                opt.step()
                step += 1
                if running is None:
                    running = torch.zeros((), dtype=torch.float32, device=loss.device)
                running.add_(loss.detach().reshape(()).float())
                n_running += 1
                if step % log_every == 0:
                    value = running.item() / n_running  # one device sync per log
                    running.zero_()
                    n_running = 0
                    hist.steps.append(step)
                    hist.losses.append(value)
                    if bar is not None:
                        bar.set_postfix(loss=f"{value:.3f}", refresh=False)
                    curve.update(hist.steps, hist.losses)
                if bar is not None:
                    bar.update(1)
                if max_steps is not None and step >= max_steps:
                    hist.stopped_by = "max_steps"
                    break
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    hist.stopped_by = "max_seconds"
                    break
            if batches == 0:
                raise ValueError(f"loader yielded no batches in epoch {hist.epochs}"
                                 + (" (an iterator can be read only once: pass a DataLoader or a list)"
                                    if hist.epochs > 1 else ""))
    finally:
        if bar is not None:
            bar.close()
    if hist.stopped_by == "epochs" and max_steps is not None and step < max_steps:
        warnings.warn(f"fit stopped after num_epochs={num_epochs} epochs ({step} steps), before "
                      f"max_steps={max_steps}; leave num_epochs=None to train exactly max_steps steps",
                      stacklevel=2)
    if n_running:
        hist.steps.append(step)
        hist.losses.append(running.item() / n_running)
    curve.update(hist.steps, hist.losses, final=True)
    hist.seconds = time.perf_counter() - t0
    hist.plot_seconds, hist.plot_draws = curve.spent, curve.draws
    model.eval()
    return hist


class ScheduledStep:
    """Mixin for a ``torch.optim.Optimizer`` whose learning rate follows a schedule.

    The optimizer defines ``current_lr()`` (the rate of the step about to be
    taken, from ``self.steps_taken``); each ``step()`` sets that rate on every
    parameter group, counts the step and then steps, so the schedule works
    with any loop that calls ``step()`` (:func:`fit` included).
    """

    def step(self, closure=None):
        lr = self.current_lr()
        for g in self.param_groups:
            g["lr"] = lr
        self.steps_taken += 1
        return super().step(closure)


class CPUBudget:
    """How long a run may still train: wall-clock minutes and, optionally, process CPU minutes.

    ``cpu_before`` is the CPU time earlier runs already spent (stored in a
    checkpoint), so a resumed run counts the total. On a shared machine the
    wall-clock time a run gets depends on what else runs, the CPU time of a
    one-thread process does not: equal CPU budgets keep two models' training
    comparable. :meth:`excluded` keeps work such as an evaluation out of the
    count. Wall time is never below CPU time (one thread), so passing
    :meth:`seconds_left` to ``fit(max_seconds=...)`` never overshoots.
    """

    def __init__(self, minutes, cpu_minutes=None, cpu_before=0.0):
        self.minutes = check.number(minutes, "minutes", 0)
        self.cpu_minutes = check.number(cpu_minutes, "cpu_minutes", 0, allow_none=True)
        self.cpu_before = check.number(cpu_before, "cpu_before", 0)
        self._deadline = time.time() + 60 * self.minutes
        self._cpu0, self._excluded = time.process_time(), 0.0

    def cpu_seconds(self) -> float:
        """CPU seconds spent so far, earlier runs included, excluded work not."""
        return self.cpu_before + time.process_time() - self._cpu0 - self._excluded

    def seconds_left(self) -> float:
        left = self._deadline - time.time()
        if self.cpu_minutes is not None:
            left = min(left, 60 * self.cpu_minutes - self.cpu_seconds())
        return left

    @contextlib.contextmanager
    def excluded(self):
        """A block whose CPU time does not count against the budget."""
        t0 = time.process_time()
        try:
            yield
        finally:
            self._excluded += time.process_time() - t0


# --------------------------------------------------------------------------- checkpoints

def fingerprint(config: dict) -> str:
    """A short hash of a JSON-serialisable config (key order does not matter)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    try:
        text = json.dumps(config, sort_keys=True, default=str)
    except (TypeError, ValueError) as e:
        raise ValueError(f"config must be JSON-serialisable: {e}") from e
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_checksum(state: dict, config_json: str, extra_json: str) -> str:
    """sha256 over every tensor (name, dtype, shape, bytes, in key order) and the stored JSON texts.

    Stored in a checkpoint and recomputed on load: an edited weight, config or
    extra value no longer matches.
    """
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict of tensors, got {type(state).__name__}")
    if not (isinstance(config_json, str) and isinstance(extra_json, str)):
        raise TypeError(f"config_json and extra_json must be str, got {type(config_json).__name__} "
                        f"and {type(extra_json).__name__}")
    bad_keys = [k for k in state if not isinstance(k, str)]
    if bad_keys:
        raise ValueError(f"state keys must be parameter names (str), got {bad_keys[:3]!r}")
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"state entry {key!r} must be a tensor, got {type(t).__name__}")
        if t.layout != torch.strided:
            raise ValueError(f"state entry {key!r} must be a dense tensor, got layout {t.layout}")
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        # reshape(-1): the bytes of t in memory order; unlike t.view it also takes 0-d tensors
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    h.update(b"|config|" + config_json.encode() + b"|extra|" + extra_json.encode())
    return h.hexdigest()


CHECKPOINT_KEYS = ("state_dict", "config", "fingerprint", "extra", "checksum")


def save_checkpoint(path, model: torch.nn.Module, config: dict, half: bool = False, **extra) -> Path:
    """Save weights + config atomically (a temporary file, fsync, then a rename).

    ``half`` stores floating-point weights as float16 (half the size); ``extra``
    holds small JSON-serialisable values (metrics, vocabularies as JSON strings).
    A sha256 of the stored weights, config and extra values goes with them and is
    checked by :func:`load_checkpoint`.
    """
    from .files import atomic_write

    path = _checkpoint_path(path)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check.boolean(half, "half")
    fingerprint(config)  # refuses a config that is not a JSON-serialisable dict
    state = {k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    config_json = json.dumps(config, sort_keys=True, default=str)
    try:
        extra_json = json.dumps(extra, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"extra values must be JSON-serialisable: {e}") from e
    payload = {"state_dict": state, "config": config_json, "fingerprint": fingerprint(config),
               "extra": extra_json, "torch": str(torch.__version__),
               "checksum": state_checksum(state, config_json, extra_json)}
    return atomic_write(path, lambda f: torch.save(payload, f))


def _checkpoint_path(path) -> Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    if str(path) == "":
        raise ValueError("path must name a file, got an empty str")
    return Path(path)


def load_checkpoint(path, model: torch.nn.Module, config: dict) -> dict:
    """Load weights saved by :func:`save_checkpoint` into ``model``; return the ``extra`` dict.

    Raises ``FileNotFoundError`` if there is no file, and ``ValueError`` naming
    the file and the cause if it is damaged (truncated, empty, not a torch file,
    a malformed payload, a checksum that does not match its contents) or was
    saved for a different config. Loading uses ``weights_only=True``: no pickled
    code is run. The model is left untouched unless everything checks out.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    want = fingerprint(config)
    path = _checkpoint_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}" + (" (a folder)" if path.is_dir() else ""))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, OSError, ...
        raise ValueError(f"checkpoint {path} is damaged or not a torch file "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})") from e
    if not isinstance(payload, dict) or not set(CHECKPOINT_KEYS) <= set(payload):
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a d2lt checkpoint: expected keys {list(CHECKPOINT_KEYS)}, got {got}")
    state, config_json, extra_json = payload["state_dict"], payload["config"], payload["extra"]
    if not (isinstance(state, dict) and isinstance(config_json, str) and isinstance(extra_json, str)):
        raise ValueError(f"checkpoint {path} has a malformed payload (state_dict must be a dict, "
                         f"config and extra JSON strings; got {type(state).__name__}, "
                         f"{type(config_json).__name__} and {type(extra_json).__name__})")
    try:
        checksum = state_checksum(state, config_json, extra_json)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"checkpoint {path} has a malformed payload: {e}") from e
    if checksum != payload["checksum"]:
        raise ValueError(f"checkpoint {path} is damaged: its weights, config or extra values do not "
                         "match the checksum stored with them")
    try:
        saved = json.loads(config_json)
        extra = json.loads(extra_json)
    except json.JSONDecodeError as e:
        raise ValueError(f"checkpoint {path} has a malformed payload: {e}") from e
    if not isinstance(extra, dict):
        raise ValueError(f"checkpoint {path} has a malformed payload: extra must be a JSON object, "
                         f"got {type(extra).__name__}")
    if payload["fingerprint"] != want:
        if not isinstance(saved, dict):
            raise ValueError(f"checkpoint {path} has a malformed config: {str(saved)[:80]}")
        diff = {k: (saved.get(k), config.get(k)) for k in sorted(set(saved) | set(config))
                if saved.get(k) != config.get(k)}
        detail = (f"differences (saved, expected): {diff}" if diff else
                  "the configs hold the same values, so the stored fingerprint itself was changed")
        raise ValueError(f"checkpoint {path} was saved for another config "
                         f"(fingerprint {payload['fingerprint']}, expected {want}); {detail}")
    ref = model.state_dict()
    if set(state) != set(ref):
        missing, unexpected = sorted(set(ref) - set(state)), sorted(set(state) - set(ref))
        raise ValueError(f"checkpoint {path} does not fit the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    bad = [k for k in ref if tuple(state[k].shape) != tuple(ref[k].shape)]
    if bad:
        k = bad[0]
        raise ValueError(f"checkpoint {path} does not fit the model: {k} has shape {tuple(state[k].shape)}, "
                         f"the model expects {tuple(ref[k].shape)}")
    kinds = [k for k in ref if state[k].is_floating_point() != ref[k].is_floating_point()
             or state[k].is_complex() != ref[k].is_complex()]
    if kinds:
        k = kinds[0]
        raise ValueError(f"checkpoint {path} does not fit the model: {k} is {state[k].dtype}, "
                         f"the model expects {ref[k].dtype}")
    nonfinite = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if nonfinite:
        raise ValueError(f"checkpoint {path} holds non-finite weights in {nonfinite[:5]}")
    model.load_state_dict({k: v.to(ref[k].dtype) for k, v in state.items()})
    return extra


def course_checkpoint(name: str) -> Path:
    """Path of a checkpoint the course ships in ``checkpoints/`` (it may not exist)."""
    if not isinstance(name, str) or not name.endswith(".pt") or "/" in name:
        raise ValueError(f"name must be a file name ending in .pt, got {name!r}")
    return Path(__file__).resolve().parent.parent / "checkpoints" / name
