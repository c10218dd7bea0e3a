"""The matching block of the code table: numbered, in range, never reused."""

from __future__ import annotations

from streams.matching import RETIRED, Code, describe
from streams.matching.codes import SUBSYSTEM_RANGE


def test_codes_are_unique_and_in_the_matching_block() -> None:
    values = [c.value for c in Code]
    assert len(values) == len(set(values))
    assert all(v in SUBSYSTEM_RANGE for v in values)


def test_retired_numbers_are_never_handed_out_again() -> None:
    assert not RETIRED & {c.value for c in Code}
    assert all(n in SUBSYSTEM_RANGE for n in RETIRED)


def test_every_code_is_described() -> None:
    for code in Code:
        assert describe(code) != f"unknown code {code.value}"
    assert describe(1999) == "unknown code 1999"


def test_published_numbers_keep_their_meaning() -> None:
    # Clients and dashboards key on these numbers: changing one is a breaking change.
    assert Code.DUPLICATE_CLIENT_ORDER_ID == 1012
    assert Code.REDUCE_ONLY_UNAVAILABLE == 1014
    assert Code.UNKNOWN_ORDER == 1101
    assert Code.SELF_TRADE_PREVENTED == 1207
