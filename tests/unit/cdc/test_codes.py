"""The counter's result codes: one block, unique, never reused, each explained."""

from __future__ import annotations

from cdc.codes import RETIRED, SUBSYSTEM_RANGE, CounterCode, describe
from cdc.domain import CounterError


def test_codes_sit_in_the_counter_block_and_are_unique() -> None:
    numbers = [c.value for c in CounterCode]
    assert len(numbers) == len(set(numbers))
    assert all(n in SUBSYSTEM_RANGE for n in numbers)
    assert not set(numbers) & RETIRED


def test_every_code_has_a_description_and_the_error_carries_its_number() -> None:
    for code in CounterCode:
        assert describe(code)
    err = CounterError(CounterCode.INSUFFICIENT_BALANCE, "acc has 1 USDT")
    assert err.code is CounterCode.INSUFFICIENT_BALANCE
    assert str(err).startswith("4301 INSUFFICIENT_BALANCE:")
    assert "acc has 1 USDT" in str(err)
