"""Automatic checks for the exercise notebooks, one module per chapter (``ch01``, ``ch02``, ...).

Every check takes the learner's answer, raises ``AssertionError`` with a hint
when it is wrong (or ``NotImplementedError`` propagates from an untouched
stub), and returns ``True`` after printing a short confirmation when it is right.
"""


def is_int(x) -> bool:
    """A plain Python int (a bool is not an answer that counts)."""
    return isinstance(x, int) and not isinstance(x, bool)


def passed(task: str) -> bool:
    print(f"\u2713 {task}: correct")
    return True


def expect(condition: bool, message: str) -> None:
    """Fail a check with ``message`` (what was expected and what came) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def not_none(value, what: str) -> None:
    if value is None:
        raise AssertionError(f"{what}: expected an answer, got None (replace the stub)")
