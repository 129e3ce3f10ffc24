"""d2lt.validate: every checker accepts what it should and refuses each class of bad input.

Each refusal must be the right exception type (TypeError for a wrong type, ValueError for a
wrong value) with a message that names the argument, says what was expected and what came.
"""
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from d2lt import validate as check

NAN, INF = float("nan"), float("inf")


# ------------------------------------------------------------------------------ describe

@pytest.mark.parametrize("value, text", [
    (3, "int 3"),
    (3.5, "float 3.5"),
    ("ab", "str 'ab'"),
    (None, "NoneType None"),
    (True, "bool True"),
    ([1, 2], "list [1, 2]"),
    (torch.zeros(2, 3), "a float32 tensor of shape (2, 3) on cpu"),
    (torch.tensor(1), "an int64 tensor of shape () on cpu"),
])
def test_describe_names_type_and_value(value, text):
    assert check.describe(value) == text


def test_describe_shortens_long_values_and_survives_a_broken_repr():
    text = check.describe(list(range(1000)))
    assert text.startswith("list [0, 1, 2") and text.endswith("...") and len(text) < 80

    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    assert check.describe(Broken()) == "Broken <unprintable>"


@pytest.mark.parametrize("value, is_int, is_number", [
    (3, True, True), (np.int64(3), True, True), (3.0, False, True), (np.float32(1), False, True),
    (True, False, False), (np.bool_(True), False, False), ("3", False, False), (None, False, False),
    (torch.tensor(3), False, False), (1j, False, False),
])
def test_is_int_and_is_number_refuse_bool(value, is_int, is_number):
    assert check.is_int(value) is is_int
    assert check.is_number(value) is is_number


# ------------------------------------------------------------------------------- integer

@pytest.mark.parametrize("value, kwargs, want", [
    (3, {}, 3),
    (np.int64(7), {"low": 1}, 7),
    (0, {"low": 0}, 0),
    (5, {"low": 1, "high": 5}, 5),
    (-3, {"high": 0}, -3),
    (None, {"allow_none": True}, None),
])
def test_integer_accepts(value, kwargs, want):
    got = check.integer(value, "n", **kwargs)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("value, kwargs, error, message", [
    (True, {"low": 1}, TypeError, r"^n must be an int >= 1, got bool True$"),
    (3.0, {"low": 1}, TypeError, r"^n must be an int >= 1, got float 3\.0$"),
    ("3", {}, TypeError, r"^n must be an int, got str '3'$"),
    (None, {}, TypeError, r"^n must be an int, got NoneType None$"),
    (torch.tensor(3), {}, TypeError, r"^n must be an int, got an int64 tensor"),
    (NAN, {}, TypeError, r"^n must be an int, got float nan$"),
    (0, {"low": 1}, ValueError, r"^n must be an int >= 1, got 0$"),
    (6, {"low": 1, "high": 5}, ValueError, r"^n must be an int in \[1, 5\], got 6$"),
    (1, {"high": 0}, ValueError, r"^n must be an int <= 0, got 1$"),
    (0, {"low": 1, "allow_none": True}, ValueError, r"^n must be None or an int >= 1, got 0$"),
    (0, {"low": 1, "what": "a positive int (an order)"}, ValueError,
     r"^n must be a positive int \(an order\), got 0$"),
])
def test_integer_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check.integer(value, "n", **kwargs)


def test_checkers_refuse_a_name_that_is_not_a_str():
    with pytest.raises(TypeError, match="name must be a str"):
        check.integer(3, 3)


# -------------------------------------------------------------------------------- number

@pytest.mark.parametrize("value, kwargs, want", [
    (3, {}, 3.0),
    (0.5, {"low": 0, "high": 1}, 0.5),
    (np.float32(0.25), {}, 0.25),
    (1e-9, {"low": 0, "strict": True}, 1e-9),
    (INF, {"finite": False}, INF),
    (INF, {"low": 0, "finite": False}, INF),
    (None, {"allow_none": True}, None),
])
def test_number_accepts(value, kwargs, want):
    got = check.number(value, "lr", **kwargs)
    assert got == want and (got is None or type(got) is float)


def test_number_without_finite_or_bounds_lets_nan_through():
    assert math.isnan(check.number(NAN, "x", finite=False))


@pytest.mark.parametrize("value, kwargs, error, message", [
    (True, {}, TypeError, r"^lr must be a finite number, got bool True$"),
    ("0.1", {}, TypeError, r"^lr must be a finite number, got str '0\.1'$"),
    (None, {}, TypeError, r"^lr must be a finite number, got NoneType None$"),
    (torch.tensor(0.1), {}, TypeError, "lr must be a finite number, got a float32 tensor"),
    (1j, {}, TypeError, r"lr must be a finite number, got complex 1j"),
    (NAN, {}, ValueError, r"^lr must be a finite number, got nan$"),
    (INF, {}, ValueError, r"^lr must be a finite number, got inf$"),
    (-INF, {}, ValueError, r"^lr must be a finite number, got -inf$"),
    (NAN, {"low": 0, "finite": False}, ValueError, r"^lr must be a number >= 0, got nan$"),
    (0, {"low": 0, "strict": True}, ValueError, r"^lr must be a finite number > 0, got 0$"),
    (-1, {"low": 0}, ValueError, r"^lr must be a finite number >= 0, got -1$"),
    (2, {"low": 0, "high": 1}, ValueError, r"^lr must be a finite number in \[0, 1\], got 2$"),
    (0, {"low": 0, "high": 1, "strict": True}, ValueError, r"in \(0, 1\], got 0$"),
    (0, {"low": 0, "strict": True, "allow_none": True}, ValueError,
     r"^lr must be None or a finite number > 0, got 0$"),
    (0, {"low": 0, "strict": True, "what": "a positive step size"}, ValueError,
     r"^lr must be a positive step size, got 0$"),
])
def test_number_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check.number(value, "lr", **kwargs)


# ----------------------------------------------------------------- probability, dropout

@pytest.mark.parametrize("value", [0, 0.0, 0.3, 1, 1.0, np.float64(0.5)])
def test_probability_accepts_zero_to_one(value):
    assert check.probability(value, "p") == float(value)


@pytest.mark.parametrize("value", [0, 0.1, 0.999])
def test_dropout_accepts_below_one(value):
    got = check.dropout(value)
    assert got == value and type(got) is float


@pytest.mark.parametrize("fn, value, error, message", [
    (check.dropout, 1.0, ValueError, r"^dropout must be a probability in \[0, 1\), got 1\.0$"),
    (check.dropout, -0.1, ValueError, r"^dropout must be a probability in \[0, 1\), got -0\.1$"),
    (check.dropout, NAN, ValueError, r"^dropout must be a probability in \[0, 1\), got nan$"),
    (check.dropout, INF, ValueError, r"^dropout must be a probability in \[0, 1\), got inf$"),
    (check.dropout, True, TypeError, r"^dropout must be a number in \[0, 1\), got bool True$"),
    (check.dropout, "0.1", TypeError, r"^dropout must be a number in \[0, 1\), got str '0\.1'$"),
    (check.dropout, None, TypeError, r"^dropout must be a number in \[0, 1\), got NoneType None$"),
    (lambda v: check.probability(v, "p"), 1.5, ValueError, r"^p must be a probability in \[0, 1\], got 1\.5$"),
    (lambda v: check.probability(v, "p"), NAN, ValueError, r"^p must be a probability in \[0, 1\], got nan$"),
    (lambda v: check.probability(v, "p"), [0.5], TypeError, r"^p must be a number in \[0, 1\], got list"),
])
def test_probability_and_dropout_refuse(fn, value, error, message):
    with pytest.raises(error, match=message):
        fn(value)


def test_dropout_takes_a_name():
    with pytest.raises(ValueError, match=r"^cfg\.dropout must be a probability"):
        check.dropout(1, "cfg.dropout")


# ------------------------------------------------------------------------------- boolean

@pytest.mark.parametrize("value", [True, False])
def test_boolean_accepts_true_and_false(value):
    assert check.boolean(value, "flag") is value


def test_boolean_allow_none():
    assert check.boolean(None, "flag", allow_none=True) is None


@pytest.mark.parametrize("value, kwargs, message", [
    (1, {}, r"^flag must be True or False, got int 1$"),
    (0, {}, r"^flag must be True or False, got int 0$"),
    ("yes", {}, r"^flag must be True or False, got str 'yes'$"),
    (None, {}, r"^flag must be True or False, got NoneType None$"),
    (torch.tensor(True), {}, r"^flag must be True or False, got a bool tensor"),
    ("no", {"allow_none": True}, r"^flag must be None, True or False, got str 'no'$"),
])
def test_boolean_refuses(value, kwargs, message):
    with pytest.raises(TypeError, match=message):
        check.boolean(value, "flag", **kwargs)


# -------------------------------------------------------------------------------- string

def test_string_accepts():
    assert check.string("ci", "profile") == "ci"
    assert check.string("cpu", "profile", choices=("ci", "cpu")) == "cpu"
    assert check.string(None, "title", allow_none=True) is None
    assert check.string("", "title") == ""


@pytest.mark.parametrize("value, kwargs, error, message", [
    (3, {}, TypeError, r"^s must be a str, got int 3$"),
    (b"ab", {}, TypeError, r"^s must be a str, got bytes b'ab'$"),
    (None, {}, TypeError, r"^s must be a str, got NoneType None$"),
    (["a"], {"allow_none": True}, TypeError, r"^s must be None or a str, got list \['a'\]$"),
    (1, {"choices": ("a", "b")}, TypeError, r"^s must be a str, one of \['a', 'b'\], got int 1$"),
    ("c", {"choices": ("a", "b")}, ValueError, r"^s must be one of \['a', 'b'\], got 'c'$"),
    ("  ", {"nonempty": True}, ValueError, r"^s must be a non-empty str, got '  '$"),
])
def test_string_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check.string(value, "s", **kwargs)


# ------------------------------------------------------------------------------ sequence

@pytest.mark.parametrize("value, want", [
    ([1, 2], [1, 2]), ((1, 2), [1, 2]), (range(3), [0, 1, 2]), (iter("ab"), ["a", "b"]), ([], []),
])
def test_sequence_returns_a_list(value, want):
    got = check.sequence(value, "xs")
    assert got == want and type(got) is list


def test_sequence_copies_a_list():
    xs = [1, 2]
    assert check.sequence(xs, "xs") is not xs


@pytest.mark.parametrize("value, kwargs, error, message", [
    ("abc", {"what": "a list of tokens"}, TypeError, r"^xs must be a list of tokens, got a single str 'abc'$"),
    ("abc", {"hint": "split it first"}, TypeError, r"^xs must be a list, got a single str 'abc'; split it first$"),
    (b"ab", {}, TypeError, r"^xs must be a list, got a single bytes b'ab'$"),
    ({"a": 1}, {}, TypeError, r"^xs must be a list, got dict$"),
    (3, {}, TypeError, r"^xs must be a list, got int$"),
    (None, {}, TypeError, r"^xs must be a list, got NoneType$"),
    ([], {"nonempty": True}, ValueError, r"^xs is empty: expected a list$"),
])
def test_sequence_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check.sequence(value, "xs", **kwargs)


# -------------------------------------------------------------------------------- tensor

def test_tensor_accepts_and_returns_the_same_tensor():
    x = torch.randn(2, 3, 4)
    assert check.tensor(x, "X") is x
    assert check.tensor(x, "X", dims=3, shape="(B, Q, K)", kind="float", finite=True) is x
    assert check.tensor(x, "X", dims=(2, 3)) is x
    ids = torch.tensor([[1, 2]])
    assert check.tensor(ids, "ids", dims=2, kind="int", nonempty=True) is ids
    assert check.tensor(ids > 1, "mask", kind="bool") is not None
    inf = torch.tensor([INF])
    assert check.tensor(inf, "x") is inf  # finite is checked only when asked


@pytest.mark.parametrize("value, kwargs, error, message", [
    ([[1.0]], {"shape": "(B, Q, K)"}, TypeError, r"^X must be a tensor of shape \(B, Q, K\), got list \[\[1\.0\]\]$"),
    (np.zeros(3), {}, TypeError, r"^X must be a tensor, got ndarray"),
    (None, {}, TypeError, r"^X must be a tensor, got NoneType None$"),
    (torch.zeros(2, 3), {"dims": 3, "shape": "(B, Q, K)"}, ValueError,
     r"^X must be a tensor of shape \(B, Q, K\), got a float32 tensor of shape \(2, 3\) on cpu$"),
    (torch.zeros(2), {"dims": (2, 3)}, ValueError, r"^X must be a tensor with 2 or 3 dimensions, got a float32"),
    (torch.zeros(2, 3, dtype=torch.long), {"kind": "float"}, TypeError,
     r"^X must be a floating-point tensor, got an int64 tensor"),
    (torch.zeros(2), {"kind": "int"}, TypeError, r"^X must be an integer tensor, got a float32 tensor"),
    (torch.zeros(2, dtype=torch.bool), {"kind": "int"}, TypeError, r"^X must be an integer tensor, got a bool"),
    (torch.zeros(2), {"kind": "bool"}, TypeError, r"^X must be a bool tensor, got a float32"),
    (torch.zeros(0, 3), {"nonempty": True}, ValueError, r"^X is empty"),
    (torch.tensor([1.0, NAN, INF]), {"finite": True}, ValueError,
     r"^X must hold finite values, got nan \(2 NaN or infinite in a float32 tensor of shape \(3,\)"),
    (torch.tensor([-INF]), {"finite": True}, ValueError, r"^X must hold finite values, got -inf"),
])
def test_tensor_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check.tensor(value, "X", **kwargs)


def test_tensor_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be None or one of"):
        check.tensor(torch.zeros(1), "X", kind="complex")


# -------------------------------------------------------------------------------- device

def test_device_accepts_names_and_devices():
    assert check.device("cpu") == torch.device("cpu")
    assert check.device("cuda:1") == torch.device("cuda", 1)  # spelling only, not availability
    d = torch.device("cpu")
    assert check.device(d) is d
    assert check.device(None) is None


@pytest.mark.parametrize("value, kwargs, error, message", [
    ("gpu0", {}, ValueError, r"^device must name a torch device such as 'cpu' or 'cuda:0', got 'gpu0'$"),
    ("", {}, ValueError, r"^device must name a torch device"),
    (0, {}, TypeError, r"^device must be None, a str such as 'cpu' or a torch\.device, got int 0$"),
    (["cpu"], {}, TypeError, r"got list \['cpu'\]$"),
    (None, {"allow_none": False}, TypeError, r"^device must be a str such as 'cpu' or a torch\.device, got NoneType"),
])
def test_device_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check.device(value, **kwargs)


# ------------------------------------------------------------------ messages, in general

BAD_CALLS = [
    (lambda: check.integer(2.5, "alpha", low=0), TypeError),
    (lambda: check.integer(-1, "alpha", low=0), ValueError),
    (lambda: check.number("x", "alpha"), TypeError),
    (lambda: check.number(NAN, "alpha"), ValueError),
    (lambda: check.probability(2, "alpha"), ValueError),
    (lambda: check.boolean(1, "alpha"), TypeError),
    (lambda: check.string(1, "alpha"), TypeError),
    (lambda: check.string("z", "alpha", choices="xy"), ValueError),
    (lambda: check.sequence("s", "alpha"), TypeError),
    (lambda: check.sequence([], "alpha", nonempty=True), ValueError),
    (lambda: check.tensor(1, "alpha"), TypeError),
    (lambda: check.tensor(torch.zeros(1), "alpha", dims=2), ValueError),
    (lambda: check.device(1.5, "alpha"), TypeError),
    (lambda: check.device("nowhere", "alpha"), ValueError),
]


@pytest.mark.parametrize("call, error", BAD_CALLS)
def test_every_refusal_names_the_argument_and_says_what_came(call, error):
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert text.startswith("alpha ")
    assert re.search(r"must be|must name|is empty|must hold", text)
    assert "got" in text or "expected" in text


def test_the_public_names_are_all_there():
    for name in check.__all__:
        assert callable(getattr(check, name)), name


# --------------------------------------------------------------- properties (hypothesis)

BOUNDS = st.one_of(st.none(), st.integers(-50, 50))


@settings(max_examples=200, deadline=None)
@given(st.integers(-100, 100), BOUNDS, BOUNDS)
def test_integer_accepts_exactly_the_ints_within_the_bounds(value, low, high):
    inside = (low is None or value >= low) and (high is None or value <= high)
    if inside:
        assert check.integer(value, "n", low=low, high=high) == value
    else:
        with pytest.raises(ValueError, match=rf"^n must be an int .*, got {value}$"):
            check.integer(value, "n", low=low, high=high)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=3),
                 st.none(), st.lists(st.integers(), max_size=2)))
def test_integer_refuses_every_non_int_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^n must be an int"):
        check.integer(value, "n")


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.booleans())
def test_number_accepts_exactly_the_finite_values_above_low(value, strict):
    ok = math.isfinite(value) and (value > 0 if strict else value >= 0)
    if ok:
        assert check.number(value, "x", low=0, strict=strict) == value
    else:
        with pytest.raises(ValueError, match=r"^x must be a finite number"):
            check.number(value, "x", low=0, strict=strict)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_dropout_accepts_exactly_zero_to_below_one(value):
    if 0 <= value < 1:
        assert check.dropout(value) == value
    else:
        with pytest.raises(ValueError, match=r"^dropout must be a probability in \[0, 1\)"):
            check.dropout(value)


def test_same_length_names_both_and_their_lengths():
    check.same_length([1, 2], (3, 4), "xs", "ys")
    check.same_length(np.zeros(3), torch.zeros(3), "a", "b")
    with pytest.raises(ValueError, match=r"^xs and ys must have the same length, got 2 and 3$"):
        check.same_length([1, 2], [1, 2, 3], "xs", "ys")
