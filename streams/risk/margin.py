"""The margin model, in USDT. Documented here because traders need to predict it.

* **Long options and long spot** are fully paid (premium or notional leaves cash when the
  order fills), so they need no margin; open buy orders reserve price x qty + the taker fee.
* **Short options** use the standard short-option margin of the USDT option venues:
  initial = qty x contract size x max(base x index - out-of-the-money amount, floor x index),
  maintenance = qty x contract size x maintenance x index. The option's mark value is already
  a liability in the account's equity, so the margin sits on top of it.
* **Short spot**: initial and maintenance are fractions of the notional at the index.
* **Equity** = cash + sum of positions at mark (shorts count negative); the **margin ratio**
  is maintenance margin / equity (1.0 or more means the account is liquidated).
"""

from __future__ import annotations

from decimal import Decimal

from infra.risk_limits import RiskLimits

__all__ = ["short_option_initial", "short_option_maintenance", "short_spot_initial",
           "short_spot_maintenance"]


_CALLS, _PUTS = frozenset({"call", "C"}), frozenset({"put", "P"})


def _otm(index: Decimal, strike: Decimal, right: str) -> Decimal:
    """Out-of-the-money amount. ``right`` is ``call``/``put`` or the instrument's own
    ``C``/``P`` (``str(OptionRight)``, what the risk account passes); anything else raises,
    since treating an unknown right as a put would misprice the margin silently."""
    if right in _CALLS:
        return max(strike - index, Decimal(0))
    if right in _PUTS:
        return max(index - strike, Decimal(0))
    raise ValueError(f"unknown option right {right!r}")


def short_option_initial(limits: RiskLimits, *, qty: Decimal, contract_size: Decimal,
                         index: Decimal, strike: Decimal, right: str) -> Decimal:
    per_unit = max(limits.short_option_base * index - _otm(index, strike, right),
                   limits.short_option_floor * index)
    return abs(qty) * contract_size * per_unit


def short_option_maintenance(limits: RiskLimits, *, qty: Decimal, contract_size: Decimal,
                             index: Decimal) -> Decimal:
    return abs(qty) * contract_size * limits.short_option_maintenance * index


def short_spot_initial(limits: RiskLimits, *, qty: Decimal, index: Decimal) -> Decimal:
    return abs(qty) * index * limits.short_spot_initial


def short_spot_maintenance(limits: RiskLimits, *, qty: Decimal, index: Decimal) -> Decimal:
    return abs(qty) * index * limits.short_spot_maintenance
