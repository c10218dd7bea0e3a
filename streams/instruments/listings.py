"""The venue's listings as they roll with its clock, the way Deribit lists its options.

A fixed list goes stale: a catalogue built once for one date lists only options that have
expired a few weeks later, and every option order is then refused. So the listing is a
*schedule*: :func:`listings_at` ``(T)`` is a pure function of the venue's time ``T`` and of a
:class:`ListingSchedule`, and :class:`RollingCatalogue` answers every lookup at the time its
injected clock gives (the venue's own wall clock by default, never a time a client fills).

The rules (Deribit's BTC and ETH options), every expiry at 08:00 UTC:

* **daily** — every day; the next ``dailies`` days are listed, a new day at 08:00 as the
  nearest one expires;
* **weekly** — every Friday; the next ``weeklies``;
* **monthly** — the last Friday of a month; the next ``monthlies``;
* **quarterly** — the last Friday of March, June, September and December; the next
  ``quarterlies``.

A weekly, monthly or quarterly series adds its next expiry ``introduce_days`` (one day) before
its nearest one expires — on the Thursday at 08:00 before an expiring Friday — so for those
24 hours it lists one more. A date in several series is listed once (a month's last Friday is
both a weekly and the monthly). Every listed expiry has ``strikes_per_expiry`` strikes around
the underlying's reference price (:func:`~streams.instruments.catalogue.strike_grid`), calls
and puts, on the option grids of :data:`~streams.instruments.catalogue.DEFAULT_OPTION_SPECS`.

Consequences the rest of the venue relies on:

* all expiries are at 08:00, so the listing only changes at 08:00 UTC: the listing in force
  at ``T`` is that of the *session* :func:`listing_session` ``(T)``;
* each series lists "the next N", which only grows as time passes, so an option, once listed,
  stays listed until it expires — the same instrument whenever it is looked up;
* at its expiry an option turns :attr:`~TradingStatus.EXPIRED` (matching and risk refuse new
  orders on it) and stays in the catalogue for ``grace`` (a day), so the expiry job, which
  settles what expired in the last day, and positions can still resolve it; after that it is
  unknown, like any symbol the schedule never listed.
"""

from __future__ import annotations

import calendar
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    ValuesView,
)
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import islice, takewhile

from streams.instruments.catalogue import (
    DEFAULT_OPTION_SPECS,
    DEFAULT_SPOT_REFERENCES,
    OPTION_EXPIRY_TIME,
    Catalogue,
    Instrument,
    InstrumentError,
    TradingStatus,
    option_chain,
    spot_instrument,
    strike_grid,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "Clock",
    "ListingSchedule",
    "RollingCatalogue",
    "fixed_clock",
    "listed_expiries",
    "listed_expiry_dates",
    "listing_session",
    "listings_at",
    "venue_clock",
]

#: Gives the venue's current time (timezone-aware).
Clock = Callable[[], datetime]

_SESSION_OFFSET = timedelta(hours=OPTION_EXPIRY_TIME.hour, minutes=OPTION_EXPIRY_TIME.minute)
_ONE_DAY = timedelta(days=1)
_QUARTER_MONTHS = (3, 6, 9, 12)


def venue_clock() -> datetime:
    """The venue's own wall clock, in UTC: what listings roll with in production."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock stopped at ``at``: tests and replays list exactly what was listed then."""
    _check_aware(at)
    return lambda: at


def _check_aware(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InstrumentError(f"venue time must be a timezone-aware datetime, got {at!r}")
    return at


@dataclass(frozen=True, slots=True)
class ListingSchedule:
    """What the venue lists: underlyings with their strike reference, and the series counts.

    Frozen and hashable, so the listing at a time can be cached per schedule. ``references``
    is ``(underlying, reference price)`` pairs in listing order; each underlying also gets
    its ``{BASE}-USDT`` spot pair.
    """

    references: tuple[tuple[str, Decimal], ...] = tuple(DEFAULT_SPOT_REFERENCES.items())
    strikes_per_expiry: int = 5
    dailies: int = 3
    weeklies: int = 3
    monthlies: int = 3
    quarterlies: int = 4
    introduce_days: int = 1
    grace: timedelta = field(default=_ONE_DAY)

    def __post_init__(self) -> None:
        if not isinstance(self.references, tuple):  # a dict: kept as pairs, to stay hashable
            pairs = tuple(dict(self.references).items())
            object.__setattr__(self, "references", pairs)
        counts = (self.dailies, self.weeklies, self.monthlies, self.quarterlies)
        if any(n < 0 for n in counts) or not any(counts):
            raise InstrumentError("series counts must be >= 0 and list at least one expiry")
        if self.strikes_per_expiry <= 0 or self.introduce_days < 0:
            raise InstrumentError("strikes_per_expiry must be > 0, introduce_days >= 0")
        if self.grace < timedelta(0):
            raise InstrumentError("grace must not be negative")
        for underlying, reference in self.references:
            if underlying not in DEFAULT_OPTION_SPECS:
                raise InstrumentError(f"no option grid for {underlying!r}")
            if not isinstance(reference, Decimal) or not reference.is_finite() or reference <= 0:
                raise InstrumentError(f"reference of {underlying} must be a positive Decimal")

    @property
    def underlyings(self) -> tuple[str, ...]:
        return tuple(underlying for underlying, _ in self.references)

    def strikes(self, underlying: str) -> tuple[Decimal, ...]:
        """The strikes listed on every expiry of ``underlying`` (none if it is not listed)."""
        for name, reference in self.references:
            if name == underlying:
                return tuple(strike_grid(reference, self.strikes_per_expiry))
        return ()


#: The venue's schedule: BTC and ETH, 3 dailies, 3 weeklies, 3 monthlies, 4 quarterlies.
DEFAULT_SCHEDULE = ListingSchedule()


# -- the expiry series -------------------------------------------------------------------------
def _last_friday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - calendar.FRIDAY) % 7)


def _dailies(after: date) -> Iterator[date]:
    day = after
    while True:
        day += _ONE_DAY
        yield day


def _fridays(after: date) -> Iterator[date]:
    day = after + timedelta(days=(calendar.FRIDAY - after.weekday()) % 7 or 7)
    while True:
        yield day
        day += timedelta(weeks=1)


def _month_ends(after: date, months: tuple[int, ...] = tuple(range(1, 13))) -> Iterator[date]:
    year, month = after.year, after.month
    while True:
        if month in months:
            candidate = _last_friday(year, month)
            if candidate > after:
                yield candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _quarter_ends(after: date) -> Iterator[date]:
    return _month_ends(after, _QUARTER_MONTHS)


def _series_listed(series: Callable[[date], Iterator[date]], session: date, count: int,
                   introduce_days: int) -> list[date]:
    """The dates of one series listed during ``session``: those after it, up to the
    ``count``-th one after ``session + introduce_days`` (the introduction lead)."""
    if count == 0:
        return []
    last = next(islice(series(session + timedelta(days=introduce_days)), count - 1, None))
    return list(takewhile(lambda day: day <= last, series(session)))


def listing_session(at: datetime) -> date:
    """The session in force at ``at``: the date of the last 08:00 UTC at or before it.

    Listings change only at 08:00 UTC (every expiry is then), so a session names one listing.
    """
    return (_check_aware(at).astimezone(UTC) - _SESSION_OFFSET).date()


@lru_cache(maxsize=512)
def listed_expiry_dates(session: date, schedule: ListingSchedule = DEFAULT_SCHEDULE
                        ) -> tuple[date, ...]:
    """Expiry dates listed during ``session`` (all later than it), sorted, no duplicates."""
    lead = schedule.introduce_days
    found = set(_series_listed(_dailies, session, schedule.dailies, 0))
    found.update(_series_listed(_fridays, session, schedule.weeklies, lead))
    found.update(_series_listed(_month_ends, session, schedule.monthlies, lead))
    found.update(_series_listed(_quarter_ends, session, schedule.quarterlies, lead))
    return tuple(sorted(found))


def listed_expiries(at: datetime, schedule: ListingSchedule = DEFAULT_SCHEDULE
                    ) -> list[datetime]:
    """The expiries (08:00 UTC datetimes) tradable at ``at``: all later than ``at``."""
    return [_expiry(d) for d in listed_expiry_dates(listing_session(at), schedule)]


def _expiry(day: date) -> datetime:
    return datetime.combine(day, OPTION_EXPIRY_TIME)


def _was_listed(day: date, schedule: ListingSchedule) -> bool:
    """Whether the schedule listed an expiry on ``day`` (then it did until the last moment)."""
    return day in listed_expiry_dates(day - _ONE_DAY, schedule)


def _expired_in_grace(at: datetime, schedule: ListingSchedule) -> tuple[date, ...]:
    """Listed expiry dates that passed within ``grace`` before ``at`` (``at - grace < E <=
    at``, the window the settlement job looks back over), oldest first."""
    found = []
    day = listing_session(at)  # its 08:00 is at or before ``at``
    while _expiry(day) > at - schedule.grace:
        if _was_listed(day, schedule):
            found.append(day)
        day -= _ONE_DAY
    return tuple(reversed(found))


# -- the catalogue at a time -------------------------------------------------------------------
@lru_cache(maxsize=64)
def _catalogue(trading: tuple[date, ...], expired: tuple[date, ...],
               schedule: ListingSchedule, extra: tuple[Instrument, ...]) -> Catalogue:
    instruments = [spot_instrument(underlying) for underlying in schedule.underlyings]
    for underlying, reference in schedule.references:
        strikes = schedule.strikes(underlying)
        instruments += [o.with_status(TradingStatus.EXPIRED)
                        for o in option_chain(underlying, reference, expired, strikes)]
        instruments += option_chain(underlying, reference, trading, strikes)
    catalogue = Catalogue(instruments)
    for instrument in extra:
        catalogue = catalogue.with_instrument(instrument)
    return catalogue


def listings_at(at: datetime, schedule: ListingSchedule = DEFAULT_SCHEDULE,
                extra: Iterable[Instrument] = ()) -> Catalogue:
    """Everything the venue lists at ``at``: a pure function of ``at`` and the schedule.

    Spot pairs, then per underlying the options that expired within ``grace`` (status
    ``EXPIRED``) and the tradable ones, by expiry, strike, call/put; ``extra`` instruments
    (spot pairs listed by configuration) are added or replace one of the same id.
    """
    session = listing_session(at)
    return _catalogue(listed_expiry_dates(session, schedule), _expired_in_grace(at, schedule),
                      schedule, tuple(extra))


def _valid_until(at: datetime, schedule: ListingSchedule) -> datetime:
    """When the listing in force at ``at`` next changes: the next 08:00 (an expiry) or the
    end of an expired option's grace, whichever comes first."""
    next_session = _expiry(listing_session(at) + _ONE_DAY)
    ends = [_expiry(day) + schedule.grace for day in _expired_in_grace(at, schedule)]
    return min([next_session, *ends])


class RollingCatalogue(Mapping[str, Instrument]):
    """The venue's catalogue as it rolls: a read-only ``Mapping[str, Instrument]`` whose
    every lookup answers at the time of its clock.

    Callers that keep one object for the life of a process (``CATALOGUE.get(symbol)``) see
    new expiries appear and old ones expire without a restart. Code that must decide the same
    way on a replay asks :meth:`at` with the time the input carries (a log-append time, an
    event time), which returns the immutable :class:`Catalogue` of that moment.
    """

    __slots__ = ("_clock", "_extra", "_last", "_schedule")

    def __init__(self, schedule: ListingSchedule = DEFAULT_SCHEDULE,
                 clock: Clock = venue_clock, extra: Iterable[Instrument] = ()) -> None:
        self._schedule = schedule
        self._clock = clock
        self._extra = tuple(extra)
        # (from, until, catalogue): the listing does not change in between, so a lookup
        # near the last one costs two comparisons; a time before it recomputes.
        self._last: tuple[datetime, datetime, Catalogue] | None = None

    @property
    def schedule(self) -> ListingSchedule:
        return self._schedule

    def now(self) -> datetime:
        """The venue's time, as this catalogue's clock gives it."""
        return _check_aware(self._clock())

    def at(self, when: datetime) -> Catalogue:
        """The immutable catalogue listed at ``when`` (see :func:`listings_at`)."""
        last = self._last  # comparing a naive time with it raises TypeError: never silent
        if last is not None and last[0] <= when < last[1]:
            return last[2]
        catalogue = listings_at(when, self._schedule, self._extra)
        self._last = (when, _valid_until(when, self._schedule), catalogue)
        return catalogue

    def current(self) -> Catalogue:
        """The catalogue listed now, by the clock."""
        return self.at(self._clock())

    def with_clock(self, clock: Clock) -> RollingCatalogue:
        """The same listings on another clock (a fixed one in tests)."""
        return RollingCatalogue(self._schedule, clock, self._extra)

    def with_instrument(self, instrument: Instrument) -> RollingCatalogue:
        """A copy that also lists ``instrument`` at all times (or replaces its id)."""
        kept = [i for i in self._extra if i.instrument_id != instrument.instrument_id]
        return RollingCatalogue(self._schedule, self._clock, [*kept, instrument])

    # -- Mapping, at the clock's time ---------------------------------------------------------
    def __getitem__(self, instrument_id: str) -> Instrument:
        return self.current()[instrument_id]

    def get(self, instrument_id: str, default: Instrument | None = None) -> Instrument | None:
        return self.current().get(instrument_id, default)

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self.current()

    def __iter__(self) -> Iterator[str]:
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())

    def keys(self) -> KeysView[str]:
        return self.current().keys()

    def values(self) -> ValuesView[Instrument]:
        """One snapshot's values: iterating never mixes two listings across 08:00."""
        return self.current().values()

    def items(self) -> ItemsView[str, Instrument]:
        return self.current().items()

    def spots(self) -> list[Instrument]:
        return self.current().spots()

    def options(self, underlying: str | None = None, expiry_date: date | None = None
                ) -> list[Instrument]:
        return self.current().options(underlying, expiry_date)

    def __repr__(self) -> str:
        return f"RollingCatalogue({self._schedule!r})"
