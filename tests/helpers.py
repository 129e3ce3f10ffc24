"""Assertions and fixtures' helpers shared by the tests."""
from pathlib import Path

import jupytext
import pytest
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


def check_contract_tests(solution_name: str, tasks: list, names: list):
    """The ``solution`` fixture and the two tests every chapter's check tests share.

    Use as ``solution, test_checks_reject_the_stub_and_none,
    test_checks_accept_the_solutions = check_contract_tests(...)`` at module level:
    every check refuses the stub (NotImplementedError) and ``None`` (an
    AssertionError saying so), and accepts the function of the same task in
    solutions/SOLUTION_NAME.md.
    """
    @pytest.fixture(scope="module")
    def solution():
        return solution_namespace(solution_name)

    @pytest.mark.parametrize("task", tasks)
    def test_checks_reject_the_stub_and_none(task):
        with pytest.raises(NotImplementedError):
            task(stub)
        with pytest.raises(AssertionError, match="got None"):
            task(None)

    @pytest.mark.parametrize("task, name", list(zip(tasks, names)))
    def test_checks_accept_the_solutions(solution, task, name):
        assert task(solution[name])

    return solution, test_checks_reject_the_stub_and_none, test_checks_accept_the_solutions


def assert_stepwise_equals_teacher_forced(model, X, lens, Y):
    """Decoding one target step at a time gives the same logits as one teacher-forced call."""
    full = model(X, Y, lens)
    state = model.decoder.init_state(model.encoder(X, lens), lens)
    steps = []
    for t in range(Y.shape[1]):
        logits, state = model.decoder(Y[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full)
