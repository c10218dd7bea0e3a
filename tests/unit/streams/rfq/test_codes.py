"""The RFQ block of the code table: numbered, in range, never reused."""

from __future__ import annotations

from streams.rfq import RETIRED, RfqCode, describe
from streams.rfq.codes import SUBSYSTEM_RANGE


def test_codes_are_unique_and_in_the_rfq_block() -> None:
    values = [c.value for c in RfqCode]
    assert len(values) == len(set(values))
    assert all(v in SUBSYSTEM_RANGE for v in values)


def test_retired_numbers_are_never_handed_out_again() -> None:
    assert not RETIRED & {c.value for c in RfqCode}
    assert all(n in SUBSYSTEM_RANGE for n in RETIRED)


def test_every_code_is_described() -> None:
    for code in RfqCode:
        assert describe(code) != f"unknown code {code.value}"
    assert describe(6999) == "unknown code 6999"


def test_published_numbers_keep_their_meaning() -> None:
    assert RfqCode.INVALID_IDENTIFIER == 6001
    assert RfqCode.TAKER_CANNOT_QUOTE == 6101
    assert RfqCode.NOT_TAKER == 6201
    assert RfqCode.LEG_PRICE_NOT_POSITIVE == 6207
    assert RfqCode.UNKNOWN_RFQ == 6301
