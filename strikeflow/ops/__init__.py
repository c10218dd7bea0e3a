"""What operators run: consumer lag, dead letters (list, show, replay), guarded offset resets,
one health table, and the exporter that turns lag and the ledger's balance into metrics."""
