"""Hidden tests for matrix.mrsh: what its description states beyond its examples."""

import pytest
from matrix import multiply, transpose


def test_empty():
    assert transpose([]) == []


def test_not_square():
    assert transpose([[1, 2, 3]]) == [[1], [2], [3]]


def test_row_times_column():
    assert multiply([[1, 2, 3]], [[1], [2], [3]]) == [[14]]


def test_shape_mismatch():
    with pytest.raises(ValueError):
        multiply([[1, 2]], [[1, 2]])
