"""Settlement: the acceptance service for simplified options (hedge through a venue adapter,
book the ledger) and option expiry (cash settlement at the index TWAP).

Pure: :mod:`hedging`, :mod:`machine`, :mod:`expiry`; the venue adapter in :mod:`venue`;
Faust glue in :mod:`agents`.
"""
