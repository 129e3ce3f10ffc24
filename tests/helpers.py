"""Assertions and fixtures' helpers shared by the tests."""
from pathlib import Path

import jupytext
import torch

ROOT = Path(__file__).resolve().parent.parent


def solution_namespace(name: str) -> dict:
    """The names defined by solutions/NAME.md, its non-check code cells run in one namespace."""
    nb = jupytext.read(ROOT / "solutions" / f"{name}.md")
    ns = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and "check" not in cell.metadata.get("tags", []):
            exec(cell.source.replace("S = d2lt.setup()", "S = d2lt.setup(verbose=False)"), ns)
    return ns


def stub(*args, **kwargs):
    """What an untouched exercise stub does."""
    raise NotImplementedError("the exercise's stub")


def assert_stepwise_equals_teacher_forced(model, X, lens, Y):
    """Decoding one target step at a time gives the same logits as one teacher-forced call."""
    full = model(X, Y, lens)
    state = model.decoder.init_state(model.encoder(X, lens), lens)
    steps = []
    for t in range(Y.shape[1]):
        logits, state = model.decoder(Y[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full)
