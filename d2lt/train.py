"""Training on whatever device is best, and checkpoints that cannot be half-written.

:func:`fit` is a plain loop -- forward, backward, clip, step -- with a tqdm
progress bar, an optional live loss curve in notebooks, and bf16 autocast on
GPUs that support it. The live curve redraws only while its drawing time stays
under ``plot_budget`` (5%) of the elapsed training time, so it never slows a
run noticeably.

Checkpoints store the weights, the config and a fingerprint of the config;
:func:`load_checkpoint` refuses a checkpoint whose config differs from the
model's, and loads with ``weights_only=True`` (no pickled code is run).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

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


class LiveCurve:
    """A loss curve redrawn in place in a notebook, within a time budget.

    Nothing is drawn during the first ``warmup`` seconds (a short run needs no
    live curve); after that a redraw happens only while the time spent drawing
    stays under ``budget`` of the elapsed time, and the final redraw only if it
    fits in twice that budget.
    """

    def __init__(self, title="training loss", budget=0.05, warmup=2.0, enabled=None):
        self.enabled = _in_notebook() if enabled is None else enabled
        self.budget, self.warmup, self.title = budget, warmup, title
        self.spent, self.draws, self.last_cost = 0.0, 0, 0.0
        self.start, self.handle, self.fig = time.perf_counter(), None, None

    def update(self, steps, losses, final=False):
        if not self.enabled or not losses:
            return
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


@dataclass
class History:
    steps: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    seconds: float = 0.0
    plot_seconds: float = 0.0  # time spent drawing the live curve
    plot_draws: int = 0


def fit(model, loader, step_fn, *, num_epochs: int = 1, max_steps: int | None = None, lr: float = 1e-3,
        optimizer=None, device=None, grad_clip: float | None = 1.0, plot=None, progress: bool = True,
        log_every: int = 10, desc: str = "train", max_seconds: float | None = None) -> History:
    """Train ``model`` with ``step_fn(model, batch) -> loss`` over ``loader``.

    Stops after ``num_epochs`` or ``max_steps`` optimizer steps or ``max_seconds``,
    whichever comes first. Returns a :class:`History` of logged losses.
    ``plot`` None draws the live curve in notebooks only.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable(model, batch) -> loss, got {type(step_fn).__name__}")
    if not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps must be None or a positive int, got {max_steps!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be None or > 0, got {grad_clip!r}")
    device = device or default_device()
    model.to(device).train()
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    total = max_steps or num_epochs * len(loader)
    curve = LiveCurve(title=desc, enabled=plot)
    hist, step, t0, running = History(), 0, time.perf_counter(), []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=desc, leave=False, mininterval=1.0)
    try:
        for _ in range(num_epochs):
            for batch in loader:
                batch = to_device(batch, device)
                with autocast(device):
                    loss = step_fn(model, batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {step}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                opt.step()
                step += 1
                running.append(loss.detach())
                if step % log_every == 0 or step == total:
                    value = torch.stack(running).mean().item()  # one device sync per log
                    running = []
                    hist.steps.append(step)
                    hist.losses.append(value)
                    if bar is not None:
                        bar.set_postfix(loss=f"{value:.3f}", refresh=False)
                    curve.update(hist.steps, hist.losses)
                if bar is not None:
                    bar.update(1)
                if step >= total or (max_seconds and time.perf_counter() - t0 > max_seconds):
                    raise StopIteration
    except StopIteration:
        pass
    finally:
        if bar is not None:
            bar.close()
    if running:
        hist.steps.append(step)
        hist.losses.append(torch.stack(running).mean().item())
    curve.update(hist.steps, hist.losses, final=True)
    hist.seconds = time.perf_counter() - t0
    hist.plot_seconds, hist.plot_draws = curve.spent, curve.draws
    model.eval()
    return hist


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
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"state entry {key!r} must be a tensor, got {type(t).__name__}")
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
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

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    state = {k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    config_json = json.dumps(config, sort_keys=True, default=str)
    fingerprint(config)  # refuses a config that is not a JSON-serialisable dict
    try:
        extra_json = json.dumps(extra, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"extra values must be JSON-serialisable: {e}") from e
    payload = {"state_dict": state, "config": config_json, "fingerprint": fingerprint(config),
               "extra": extra_json, "torch": str(torch.__version__),
               "checksum": state_checksum(state, config_json, extra_json)}
    return atomic_write(Path(path), lambda f: torch.save(payload, f))


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
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
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
                         "config and extra JSON strings)")
    if state_checksum(state, config_json, extra_json) != payload["checksum"]:
        raise ValueError(f"checkpoint {path} is damaged: its weights, config or extra values do not "
                         "match the checksum stored with them")
    try:
        saved = json.loads(config_json)
        extra = json.loads(extra_json)
    except json.JSONDecodeError as e:
        raise ValueError(f"checkpoint {path} has a malformed payload: {e}") from e
    if payload["fingerprint"] != want:
        if not isinstance(saved, dict):
            raise ValueError(f"checkpoint {path} has a malformed config: {str(saved)[:80]}")
        diff = {k: (saved.get(k), config.get(k)) for k in sorted(set(saved) | set(config))
                if saved.get(k) != config.get(k)}
        detail = (f"differences (saved, expected): {diff}" if diff else
                  "the configs hold the same values, so the stored fingerprint itself was changed")
        raise ValueError(f"checkpoint {path.name} was saved for another config "
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
