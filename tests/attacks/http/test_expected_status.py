"""The expected_status forms, checked as properties over every status code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosmonkey.attacks import AttackError
from chaosmonkey.attacks.api_request import parse_expected_status

statuses = st.integers(min_value=100, max_value=599)


def accepts(expected: object, status: int) -> bool:
    return any(status in status_range for status_range in parse_expected_status(expected))


@given(status=statuses, klass=st.integers(min_value=1, max_value=5))
def test_a_class_string_accepts_exactly_its_hundred(status: int, klass: int) -> None:
    assert accepts(f"{klass}xx", status) == (status // 100 == klass)


@given(status=statuses, low=statuses, high=statuses)
def test_ranges_in_both_spellings_agree(status: int, low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    inside = low <= status <= high
    assert accepts({"min": low, "max": high}, status) == inside
    assert accepts(f"{low}-{high}", status) == inside


@given(status=statuses, codes=st.lists(statuses, min_size=1, max_size=5))
def test_a_list_accepts_any_of_its_items(status: int, codes: list[int]) -> None:
    assert accepts(codes, status) == (status in codes)
    assert accepts([str(code) for code in codes], status) == (status in codes)


@pytest.mark.parametrize("bad", ["2xy", "600", "299-200", {"min": 300}, [], True, 2.5])
def test_malformed_forms_are_errors(bad: object) -> None:
    with pytest.raises(AttackError, match="invalid expected_status"):
        parse_expected_status(bad)
