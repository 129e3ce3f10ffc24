"""Input checks shared by every d2lt module: each returns the checked value or raises.

A public function checks its arguments where they enter, so that a mistake is
named at once instead of surfacing deep inside torch, numpy or sqlite, or
giving a silently wrong result. Each checker here takes the value and the
argument's ``name``, returns the value normalised (an ``int``, a ``float``, a
``bool``, a ``list``, a ``torch.device``) and otherwise raises

* ``TypeError`` when the value has the wrong type (a float where an int is
  expected, a bare string where a list is, a list where a tensor is), and
* ``ValueError`` when the type is right but the value is not (out of range,
  NaN or infinite, empty, the wrong number of dimensions),

with a message that names the argument, says what was expected and what came::

    >>> integer(0, "num_heads", low=1)
    Traceback (most recent call last):
    ValueError: num_heads must be an int >= 1, got 0

Rules every checker keeps: ``bool`` is not a number (``True`` is refused where
an int or a float is expected, although Python counts it as one); NaN fails
every range (it compares false); ``what=`` replaces the default description of
what is expected, for a message that says more ("a positive int (the largest
n-gram order)"). Tensor checks look at types, shapes and dtypes only, except
``finite=True``, which takes one reduction.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import torch

__all__ = ["describe", "is_int", "is_number", "integer", "number", "probability", "dropout",
           "boolean", "string", "sequence", "tensor", "device"]

_MAX_REPR = 60


def describe(x) -> str:
    """``x`` as an error message names it: dtype, shape and device of a tensor, else type and value.

    >>> describe(3.0)
    'float 3.0'
    >>> describe(torch.zeros(2, 3))
    'a float32 tensor of shape (2, 3) on cpu'
    """
    if isinstance(x, torch.Tensor):
        dtype = str(x.dtype).replace('torch.', '')
        article = "an" if dtype[0] in "aeiou" else "a"
        return f"{article} {dtype} tensor of shape {tuple(x.shape)} on {x.device}"
    try:
        r = repr(x)
    except Exception:  # a broken __repr__ must not hide the real error
        r = "<unprintable>"
    return f"{type(x).__name__} {r if len(r) <= _MAX_REPR else r[:_MAX_REPR - 3] + '...'}"


def is_int(v) -> bool:
    """Whether ``v`` is an integer (Python or numpy), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_number(v) -> bool:
    """Whether ``v`` is a real number (int or float, Python or numpy), not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _range_text(low, high, low_open=False, high_open=False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def _check_name(name):
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (the argument's name for messages), got {describe(name)}")


def integer(value, name: str, low=None, high=None, *, allow_none: bool = False, what: str | None = None):
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None), or None if allowed.

    A bool, a float (even ``3.0``), a str or a tensor is a ``TypeError``; an
    int out of range a ``ValueError``.
    """
    _check_name(name)
    if value is None and allow_none:
        return None
    if what is None:
        rng = _range_text(low, high)
        what = ("None or " if allow_none else "") + "an int" + (f" {rng}" if rng else "")
    if not is_int(value):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {what}, got {int(value)}")
    return int(value)


def number(value, name: str, low=None, high=None, *, strict: bool = False, allow_none: bool = False,
           finite: bool = True, what: str | None = None):
    """``value`` as a ``float``: finite (unless ``finite=False``) and within the bounds.

    ``low``/``high`` are inclusive bounds (None: none); ``strict=True`` makes
    ``low`` exclusive (``value > low``, e.g. a learning rate). NaN is refused
    whenever ``finite`` is set or a bound is given; infinity only when ``finite``.
    """
    _check_name(name)
    if value is None and allow_none:
        return None
    if what is None:
        rng = _range_text(low, high, low_open=strict)
        what = (("None or " if allow_none else "") + ("a finite number" if finite else "a number")
                + (f" {rng}" if rng else ""))
    if not is_number(value):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    v = float(value)
    bad = (finite and not math.isfinite(v)) or (math.isnan(v) and (low is not None or high is not None))
    if low is not None and not (v > low if strict else v >= low):
        bad = True
    if high is not None and not v <= high:
        bad = True
    if bad:  # a numpy scalar is shown as its value, not as np.float64(...)
        raise ValueError(f"{name} must be {what}, got {value if type(value) in (int, float) else v!r}")
    return v


def probability(value, name: str, *, allow_one: bool = True, what: str | None = None) -> float:
    """``value`` as a float in ``[0, 1]`` (``allow_one=False``: ``[0, 1)``); NaN is refused."""
    _check_name(name)
    rng = "[0, 1]" if allow_one else "[0, 1)"
    if not is_number(value):
        raise TypeError(f"{name} must be {what or 'a number in ' + rng}, got {describe(value)}")
    v = float(value)
    if not (0.0 <= v <= 1.0) or (v == 1.0 and not allow_one):  # False for NaN
        raise ValueError(f"{name} must be {what or 'a probability in ' + rng}, "
                         f"got {value if type(value) in (int, float) else v!r}")
    return v


def dropout(value, name: str = "dropout") -> float:
    """A dropout probability in ``[0, 1)`` (1 would drop everything)."""
    return probability(value, name, allow_one=False)


def boolean(value, name: str, *, allow_none: bool = False):
    """``value`` if it is ``True`` or ``False`` (or None, if allowed); 0, 1 and "yes" are refused."""
    _check_name(name)
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be {'None, ' if allow_none else ''}True or False, "
                        f"got {describe(value)}")
    return value


def string(value, name: str, *, choices=None, allow_none: bool = False, nonempty: bool = False,
           what: str | None = None):
    """``value`` if it is a ``str`` (one of ``choices``, if given; not blank, if ``nonempty``)."""
    _check_name(name)
    if value is None and allow_none:
        return None
    if what is None:
        what = ("None or " if allow_none else "") + "a str"
        if choices is not None:
            what += f", one of {list(choices)}"
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    if choices is not None and value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    if nonempty and not value.strip():
        raise ValueError(f"{name} must be a non-empty str, got {value!r}")
    return value


def sequence(value, name: str, what: str = "a list", *, nonempty: bool = False, hint: str = "") -> list:
    """``value`` as a ``list``; a bare str or bytes, a dict and a non-iterable are a ``TypeError``.

    A string is iterable, but a string passed where a list is expected would be
    split into characters: it is refused, and ``hint`` (if given) says what to
    do instead. ``nonempty=True`` refuses an empty sequence (``ValueError``).
    """
    _check_name(name)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {what}, got a single {type(value).__name__} {value[:40]!r}"
                        + (f"; {hint}" if hint else ""))
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    out = list(value)
    if nonempty and not out:
        raise ValueError(f"{name} is empty: expected {what}")
    return out


def same_length(a, b, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless the sized ``a`` and ``b`` have the same length."""
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b} must have the same length, got {len(a)} and {len(b)}")


_KINDS = {"float": "a floating-point", "int": "an integer", "bool": "a bool"}


def _kind_ok(x: torch.Tensor, kind: str) -> bool:
    if kind == "float":
        return x.is_floating_point()
    if kind == "int":
        return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)
    return x.dtype == torch.bool


def tensor(x, name: str, *, dims=None, shape: str | None = None, kind: str | None = None,
           finite: bool = False, nonempty: bool = False) -> torch.Tensor:
    """``x`` if it is a ``torch.Tensor`` of the expected number of dimensions and kind of dtype.

    ``dims`` is an int or a tuple of allowed numbers of dimensions; ``shape``
    describes the expected shape in messages (e.g. ``"(B, Q, K)"``); ``kind``
    is ``"float"``, ``"int"`` (integers, not bool) or ``"bool"``; ``finite=True``
    refuses NaN and infinity (one reduction); ``nonempty=True`` refuses a tensor
    with no elements.
    """
    _check_name(name)
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind must be None or one of {sorted(_KINDS)}, got {kind!r}")
    of_shape = f" of shape {shape}" if shape else ""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor{of_shape}, got {describe(x)}")
    if dims is not None:
        allowed = (dims,) if isinstance(dims, int) else tuple(dims)
        if x.dim() not in allowed:
            want = of_shape or " with " + " or ".join(map(str, allowed)) + " dimensions"
            raise ValueError(f"{name} must be a tensor{want}, got {describe(x)}")
    if kind is not None and not _kind_ok(x, kind):
        raise TypeError(f"{name} must be {_KINDS[kind]} tensor{of_shape}, got {describe(x)}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} is empty: expected a tensor{of_shape} with at least one element, "
                         f"got {describe(x)}")
    if finite and (x.is_floating_point() or x.is_complex()):
        bad = ~torch.isfinite(x)
        n = int(bad.sum())
        if n:
            first = x[bad].flatten()[0].item()
            raise ValueError(f"{name} must hold finite values, got {first} ({n} NaN or infinite "
                             f"in {describe(x)})")
    return x


def device(value, name: str = "device", *, allow_none: bool = True):
    """``value`` (a ``torch.device`` or a str naming one) as a ``torch.device``; None stays None.

    Only the spelling is checked here: whether this machine has the device is
    :func:`d2lt.train.as_device`'s business.
    """
    _check_name(name)
    if (value is None and allow_none) or isinstance(value, torch.device):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {'None, ' if allow_none else ''}a str such as 'cpu' or a "
                        f"torch.device, got {describe(value)}")
    try:
        return torch.device(value)
    except (RuntimeError, ValueError) as e:  # torch's error for a malformed device string
        raise ValueError(f"{name} must name a torch device such as 'cpu' or 'cuda:0', "
                         f"got {value!r}") from e
