"""Write ``ticks_btc_eth.csv``: the sample file ``strikeflow md replay`` is tried with.

Generated, not downloaded: 1 440 trades of the seeded simulator (BTC and ETH from four venues,
one every 0.5 s of event time from 2026-01-02T00:00:00Z, so twelve minutes: twelve 1-minute
candles and two final 5-minute ones). The same seed always writes the same file.

    python -m streams.marketdata.samples.make_sample [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime
from pathlib import Path

from streams.marketdata.simulator import SimulatorConfig, generate_ticks
from topics.contracts import Tick

__all__ = ["SAMPLE", "write_sample"]

SAMPLE = Path(__file__).with_name("ticks_btc_eth.csv")
COLUMNS = ("ts_event", "venue", "symbol", "trade_id", "price", "qty", "side", "event_id")
CONFIG = SimulatorConfig(rate=2.0, count=1440, speed=1.0, seed=2026,
                         start=datetime(2026, 1, 2, tzinfo=UTC))


def write_sample(out: Path = SAMPLE) -> int:
    """Write the sample; returns the number of trades written."""
    rows = 0
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for tick in generate_ticks(CONFIG):
            assert isinstance(tick, Tick)
            writer.writerow([tick.ts_event.isoformat(timespec="microseconds").replace(
                "+00:00", "Z"), tick.venue, tick.symbol, tick.trade_id, format(tick.price, "f"),
                format(tick.qty, "f"), tick.side, tick.event_id])
            rows += 1
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE)
    args = parser.parse_args()
    print(f"wrote {write_sample(args.out)} trades to {args.out}")
