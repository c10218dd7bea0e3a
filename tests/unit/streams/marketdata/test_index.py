"""The index: exact median, outliers dropped, too few venues give no index."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.marketdata.index import compute_index, median

D = Decimal


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["3"], "3"), (["1", "3", "2"], "2"), (["1", "4", "2", "3"], "2.5"),
     (["91000.123456789", "91000.123456790"], "91000.1234567895")],
)
def test_median_is_exact(values: list[str], expected: str) -> None:
    assert median([D(v) for v in values]) == D(expected)


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        median([])


@pytest.mark.parametrize(
    ("prices", "used", "outliers", "price"),
    [
        # one venue 2% away is dropped; the index is the median of the other three
        ({"a": "100", "b": "100.1", "c": "99.9", "d": "102"}, ("a", "b", "c"), ("d",), "100"),
        # within the band everyone counts
        ({"a": "100", "b": "100.4"}, ("a", "b"), (), "100.2"),
        # the outlier does not even pull the midpoint of an even count
        ({"a": "100", "b": "100.2", "c": "90", "d": "100.1"}, ("a", "b", "d"), ("c",), "100.1"),
    ],
)
def test_outliers_beyond_the_band_are_excluded(prices: dict[str, str], used: tuple[str, ...],
                                               outliers: tuple[str, ...], price: str) -> None:
    result = compute_index({v: D(p) for v, p in prices.items()}, D(50), min_venues=2)
    assert result is not None
    assert (result.used, result.outliers, result.price) == (used, outliers, D(price))


def test_two_venues_that_disagree_give_no_index() -> None:
    """Which one is right? Nobody can tell: corrupt data is worse than none."""
    assert compute_index({"a": D(100), "b": D(102)}, D(50), min_venues=1) is None


def test_too_few_venues_give_no_index() -> None:
    assert compute_index({"a": D(100)}, D(50), min_venues=2) is None
    assert compute_index({"a": D(100)}, D(50), min_venues=1).price == 100  # type: ignore[union-attr]
    assert compute_index({}, D(50), min_venues=1) is None
