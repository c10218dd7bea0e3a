"""The index price of an underlying from several venues' prices — pure, exact, no Faust.

Why a median, and why of book mids:

* **Mids, not last trades.** A venue's mid moves with every quote change and sits between the
  bid and the ask; a last trade alternates between them (bid-ask bounce), is as old as the
  venue's last print (hours on a quiet venue), and one large print can sit far from the book.
  The index therefore uses the mid of each venue's in-sync, two-sided book. (Trades build the
  candles; ``md.ticks`` is not read here, which also keeps the candle agent's input unshared.)
* **Median, then outliers, then median again.** The median of the candidates is robust to one
  bad venue of three; a venue further than ``outlier_bps`` from that median is then dropped and
  the index is the median of the rest, so a bad venue does not even pull the midpoint of an
  even count. Two venues that disagree by more than twice the band give no index: we cannot
  tell which one is right, and corrupt data is worse than none.
* **Exact.** Prices are Decimal; the median of an even count is the mean of the middle two,
  which Decimal computes exactly for venue prices (at most 11 decimals after two halvings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["IndexResult", "compute_index", "median"]

_BPS = Decimal(10_000)


def median(values: Sequence[Decimal]) -> Decimal:
    """The median; the mean of the two middle values for an even count. Raises if empty."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True, slots=True)
class IndexResult:
    price: Decimal
    used: tuple[str, ...]
    outliers: tuple[str, ...]


def compute_index(prices: Mapping[str, Decimal], outlier_bps: Decimal,
                  min_venues: int) -> IndexResult | None:
    """The median of ``prices`` (venue -> price) without outliers, or ``None`` if too few.

    ``None`` when fewer than ``min_venues`` venues are given, or remain after dropping the
    venues more than ``outlier_bps`` (basis points of the first median) away from it.
    """
    if len(prices) < max(1, min_venues):
        return None
    first = median(list(prices.values()))
    band = first * outlier_bps / _BPS
    used = {v: p for v, p in prices.items() if abs(p - first) <= band}
    if len(used) < max(1, min_venues):
        return None
    outliers = tuple(sorted(v for v in prices if v not in used))
    return IndexResult(median(list(used.values())), tuple(sorted(used)), outliers)
