"""Names that become SQL identifiers."""

import pytest

from gateway.naming import function_name_problem, function_names, name_problem


def test_function_names_follow_the_seed_convention():
    assert function_names("akaliza", "mtnmomorwa", "collection") == (
        "akaliza_mtnmomorwa_collection", "RESPONSE_akaliza_mtnmomorwa_collection")


@pytest.mark.parametrize("value", ["Akaliza", "9lives", "a-b", "a b", "", "é", "a" * 41, None, 3])
def test_bad_name_parts_are_explained(value):
    assert name_problem(value)


def test_the_full_name_must_fit_63_bytes():
    assert function_name_problem("a" * 20, "b" * 20, "c" * 12) is None  # 9 + 54 = 63 bytes
    assert "64 bytes" in function_name_problem("a" * 20, "b" * 20, "c" * 13)
