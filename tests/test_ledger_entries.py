"""Canonical JSON: the fast path must give exactly the bytes RFC 8785 defines."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict import errors
from deconflict.ledger.entries import canonical, commitment

_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | _FLOATS
    | st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, 1e16, 9999999999999998.0, 1e21, 5e-324])
    | st.text()
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(derandomize=True, max_examples=3000, deadline=None)
@given(_JSON)
def test_canonical_is_rfc_8785(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"b": 2.0, "a": 1}, '{"a":1,"b":2}'),
        ([1e-7, 1e21, 1e16, 123.456], "[1e-7,1e+21,10000000000000000,123.456]"),
        ({"\U0001f600": 1, "\ue000": 2}, '{"\U0001f600":1,"\ue000":2}'),  # UTF-16 order
        ("tab\tand \u2028", '"tab\\tand \u2028"'),
        (-0.0, "0"),
    ],
)
def test_known_canonical_forms(value: Any, text: str) -> None:
    assert canonical(value) == text.encode("utf-8")


@pytest.mark.parametrize("value", [math.nan, math.inf, 2**60, {1: "x"}, object()])
def test_what_json_cannot_say_is_refused(value: Any) -> None:
    with pytest.raises(errors.InvalidValue):
        canonical(value)


def test_a_commitment_binds_salt_and_record() -> None:
    record = canonical({"type": "notice", "notice": "n-1", "version": 1})
    assert commitment(b"a" * 32, record) != commitment(b"b" * 32, record)
    assert commitment(b"a" * 32, record) != commitment(b"a" * 32, record.replace(b"1", b"2"))
    assert len(commitment(b"a" * 32, record)) == 32
