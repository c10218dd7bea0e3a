"""All venues' books of one symbol: feed health, the consolidated book, the index — pure.

One :class:`SymbolMarket` per symbol (the ``md.l2`` key) holds every venue's
:class:`~streams.marketdata.l2book.VenueBook` and decides, message by message:

* **feed health** per venue — ``live``, ``out_of_sync`` (its book is ignored until the next
  snapshot; a resync request goes out, repeated every ``stale_after_s`` while deltas keep
  arriving, in case the first one was lost) or ``stale`` (silent for ``stale_after_s``). Each
  transition is published once, as a :class:`~topics.contracts.FeedStateChanged`.
* **the consolidated book** — the levels of the venues we trust summed by price: live, and
  for a spot symbol not an outlier of the index (a venue quoting far from the others is more
  likely broken than right) — and each changed venue's own ladder, as
  :class:`~topics.contracts.BookUpdate` (``source`` is ``consolidated`` or the venue code).
  Levels of different venues may still cross (one venue's bid above another's ask): that is
  an arbitrage on the street, not an error, and it is shown.
* **the index** of a spot symbol's underlying (``BTC`` for ``BTC-USDT``): the median of live
  venues' mids without outliers (:mod:`streams.marketdata.index`), published when it changed.

Why time is event time: staleness and the publication rate are judged on the symbol's
watermark (the latest ``ts_event`` seen), not the wall clock, so the same input gives the same
output at any replay speed and in tests. A venue is found stale as soon as any other venue of
the symbol speaks; when all are silent nothing is published, and consumers judge the index by
its age. Every decision is taken per message, never per batch, so batch boundaries do not
change what is published; output event ids are per-symbol counters kept in the state.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from streams.marketdata.index import IndexResult, compute_index
from streams.marketdata.l2book import L2Verdict, VenueBook, from_us, to_us
from topics.contracts import BookUpdate, IndexPrice, L2Update
from topics.contracts.base import utc_now
from topics.contracts.marketdata import FeedStateChanged

__all__ = ["BookParams", "MarketOutput", "SymbolMarket", "underlying_of"]

STATE_FORMAT = 1
MarketOutput = BookUpdate | IndexPrice | FeedStateChanged
Status = Literal["live", "out_of_sync", "stale"]
_US = 1_000_000


def underlying_of(symbol: str) -> str | None:
    """``BTC`` for the spot symbol ``BTC-USDT``; ``None`` for anything else (options)."""
    parts = symbol.split("-")
    return parts[0] if len(parts) == 2 and parts[1] == "USDT" else None


@dataclass(frozen=True, slots=True)
class BookParams:
    """What :class:`SymbolMarket` is configured with (see ``MarketDataSettings``)."""

    stale_after_s: float = 5.0
    outlier_bps: Decimal = Decimal(50)
    min_venues: int = 2
    index_interval_s: float = 0.25
    book_interval_s: float = 0.25
    depth: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> BookParams:
        return cls(settings.stale_after_s, settings.outlier_bps, settings.min_venues,
                   settings.index_interval_s, settings.book_interval_s, settings.book_depth)


class SymbolMarket:
    """Feed :meth:`apply` the symbol's L2 updates in arrival order; :meth:`drain` the output."""

    def __init__(self, symbol: str, params: BookParams | None = None) -> None:
        self.symbol = symbol
        self.underlying = underlying_of(symbol)
        self.params = params or BookParams()
        self.venues: dict[str, VenueBook] = {}
        self.announced: dict[str, Status] = {}
        self.last_reason: dict[str, str] = {}
        self.requested_us: dict[str, int] = {}
        self.watermark_us = 0
        self.feed_seq = 0
        self.book_seq = 0
        self.book_us: int | None = None
        self.dirty: set[str] = set()  # venues whose ladder changed since the last book
        self.book_dirty = False  # the consolidated book changed since the last book
        self.index_seq = 0
        self.index_us: int | None = None
        self.index_key: list[Any] | None = None
        self.index_dirty = True
        self._out: list[MarketOutput] = []

    # -- input --------------------------------------------------------------------------------
    def apply(self, update: L2Update) -> L2Verdict:
        if update.symbol != self.symbol:
            raise ValueError(f"L2 for {update.symbol} given to the {self.symbol} market")
        ts_us = to_us(update.ts_event)
        if ts_us > self.watermark_us:
            self.watermark_us = ts_us
        venue = update.venue
        book = self.venues.get(venue)
        if book is None:
            book = self.venues[venue] = VenueBook()
        verdict = book.apply(update, ts_us)
        if verdict in (L2Verdict.SNAPSHOT, L2Verdict.APPLIED, L2Verdict.GAP, L2Verdict.CROSSED):
            self.dirty.add(venue)
            self.book_dirty = self.index_dirty = True
        self._health(venue, verdict, update)
        self._publish(update.event_id)
        return verdict

    def _status(self, book: VenueBook) -> Status:
        if self.watermark_us - book.last_us > self.params.stale_after_s * _US:
            return "stale"
        return "live" if book.in_sync else "out_of_sync"

    def _health(self, venue: str, verdict: L2Verdict, update: L2Update) -> None:
        for name in sorted(self.venues):
            book = self.venues[name]
            status = self._status(book)
            before = self.announced.get(name)
            if name != venue:  # only time moved for the others: they can only go stale
                if status == "stale" and before != "stale":
                    self._feed(name, "stale", "silent", book.seq, None, update.event_id)
                continue
            if status == "out_of_sync":
                reason = {L2Verdict.GAP: "gap", L2Verdict.CROSSED: "crossed",
                          L2Verdict.NO_SNAPSHOT: "no_snapshot"}.get(verdict)
                if reason is None:  # ignored while out of sync
                    reason = "resumed" if before == "stale" else self.last_reason.get(name, "gap")
                again = (before == "out_of_sync" and self.watermark_us - self.requested_us.get(
                    name, 0) >= self.params.stale_after_s * _US)
                if before != "out_of_sync" or again:
                    self._feed(name, status, reason, book.seq, update.seq, update.event_id)
            elif status != before:
                reason = ("snapshot" if verdict is L2Verdict.SNAPSHOT
                          else "silent" if status == "stale" else "resumed")
                self._feed(name, status, reason, book.seq, None, update.event_id)

    def _feed(self, venue: str, status: Status, reason: str, last_seq: int | None,
              received_seq: int | None, cause: str) -> None:
        self.feed_seq += 1
        self.announced[venue] = status
        self.last_reason[venue] = reason
        if status == "out_of_sync":
            self.requested_us[venue] = self.watermark_us
        self.book_dirty = self.index_dirty = True
        self._out.append(FeedStateChanged(
            event_id=f"{self.symbol}:feed:{self.feed_seq}", ts_event=from_us(self.watermark_us),
            causation_id=cause, venue=venue, symbol=self.symbol, state=status,
            reason=reason,  # type: ignore[arg-type]
            resync_requested=status == "out_of_sync", last_seq=last_seq,
            received_seq=received_seq))

    # -- output -------------------------------------------------------------------------------
    def _due(self, last_us: int | None, interval_s: float) -> bool:
        return last_us is None or self.watermark_us - last_us >= interval_s * _US

    def _publish(self, cause: str) -> None:
        if (self.book_dirty or self.dirty) and self._due(self.book_us, self.params.book_interval_s):
            self._book(cause)
        if (self.underlying is not None and self.index_dirty
                and self._due(self.index_us, self.params.index_interval_s)):
            self._index(cause)

    def _candidates(self) -> tuple[IndexResult | None, dict[str, str]]:
        """The index of live venues' mids, and why each other venue is left out."""
        prices: dict[str, Decimal] = {}
        exclusions: dict[str, str] = {}
        for venue in sorted(self.venues):
            book = self.venues[venue]
            status = self._status(book)
            mid = book.mid()
            if status != "live":
                exclusions[venue] = status
            elif mid is None:
                exclusions[venue] = "one_sided"
            else:
                prices[venue] = mid
        result = compute_index(prices, self.params.outlier_bps, self.params.min_venues)
        if result is not None:
            exclusions |= {v: "outlier" for v in result.outliers}
        return result, exclusions

    def _trusted(self) -> list[str]:
        """The venues of the consolidated book: live ones, without the index's outliers."""
        live = [v for v in sorted(self.venues) if self._status(self.venues[v]) == "live"]
        if self.underlying is None:
            return live
        result, _ = self._candidates()
        outliers = set(result.outliers) if result is not None else set()
        return [v for v in live if v not in outliers]

    def _book(self, cause: str) -> None:
        # Built without pydantic's per-field validation (model_construct): every level comes
        # from a validated L2 update (price > 0, size > 0 -- zero sizes are deleted -- at most
        # 9 decimals), and sums and products of those stay valid, while validating ~40
        # decimals a book would be most of this agent's time. The tests decode the output
        # through the catalogue.
        self.book_seq += 1
        ts = from_us(self.watermark_us)
        made = utc_now()
        depth = self.params.depth
        bids: defaultdict[Decimal, Decimal] = defaultdict(Decimal)
        asks: defaultdict[Decimal, Decimal] = defaultdict(Decimal)
        for venue in self._trusted():
            book = self.venues[venue]
            for price, size in book.bids.items():
                bids[price] += size
            for price, size in book.asks.items():
                asks[price] += size
        top_bids = sorted(bids.items(), reverse=True)[:depth]
        top_asks = sorted(asks.items())[:depth]
        self._out.append(BookUpdate.model_construct(
            event_id=f"{self.symbol}:consolidated:{self.book_seq}", ts_event=ts, ts_init=made,
            causation_id=cause, last_price=None, symbol=self.symbol, source="consolidated",
            seq=self.book_seq,
            bids=top_bids, asks=top_asks,
            notional_bid=sum((p * q for p, q in top_bids), Decimal(0))))
        for venue in sorted(self.dirty):
            book = self.venues[venue]
            vb, va = book.top(depth)
            self._out.append(BookUpdate.model_construct(
                event_id=f"{self.symbol}:{venue}:{self.book_seq}", ts_event=ts, ts_init=made,
                causation_id=cause, last_price=None, symbol=self.symbol, source=venue,
                seq=max(book.seq or 0, 0),
                bids=vb, asks=va, notional_bid=sum((p * q for p, q in vb), Decimal(0))))
        self.dirty.clear()
        self.book_dirty = False
        self.book_us = self.watermark_us

    def _index(self, cause: str) -> None:
        self.index_dirty = False
        result, exclusions = self._candidates()
        if result is None:
            return
        key = [str(result.price), list(result.used),
               [[v, r] for v, r in sorted(exclusions.items())]]
        if key == self.index_key:
            return
        self.index_key = key
        self.index_seq += 1
        self.index_us = self.watermark_us
        assert self.underlying is not None
        self._out.append(IndexPrice(
            event_id=f"{self.underlying}:index:{self.index_seq}",
            ts_event=from_us(self.watermark_us), causation_id=cause,
            underlying=self.underlying, price=result.price, venues_used=list(result.used),
            venues_excluded=sorted(exclusions),
            exclusions=exclusions))  # type: ignore[arg-type]

    def drain(self) -> list[MarketOutput]:
        """What :meth:`apply` decided to publish since the last drain, in order."""
        out, self._out = self._out, []
        return out

    # -- persistence: one JSON-able dict ------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT, "symbol": self.symbol,
            "venues": {v: b.to_state() for v, b in self.venues.items()},
            "announced": self.announced, "last_reason": self.last_reason,
            "requested_us": self.requested_us, "watermark_us": self.watermark_us,
            "feed_seq": self.feed_seq, "book_seq": self.book_seq, "book_us": self.book_us,
            "dirty": sorted(self.dirty), "book_dirty": self.book_dirty,
            "index_seq": self.index_seq, "index_us": self.index_us,
            "index_key": self.index_key, "index_dirty": self.index_dirty,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], params: BookParams | None = None) -> SymbolMarket:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"market state format {state.get('format')!r} is not "
                             f"{STATE_FORMAT}: the table was written by another version")
        market = cls(state["symbol"], params)
        market.venues = {v: VenueBook.from_state(b) for v, b in state["venues"].items()}
        market.announced = dict(state["announced"])
        market.last_reason = dict(state["last_reason"])
        market.requested_us = dict(state["requested_us"])
        market.watermark_us = state["watermark_us"]
        market.feed_seq, market.book_seq = state["feed_seq"], state["book_seq"]
        market.book_us, market.dirty = state["book_us"], set(state["dirty"])
        market.book_dirty = state["book_dirty"]
        market.index_seq, market.index_us = state["index_seq"], state["index_us"]
        market.index_key, market.index_dirty = state["index_key"], state["index_dirty"]
        return market
