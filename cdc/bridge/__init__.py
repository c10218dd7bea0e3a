"""The CDC bridge: Debezium's ``cdc.*`` change streams → typed events for settlement.

``envelope`` (decoding) and ``orders`` (apply-once logic) are pure; ``agents`` is the Faust
glue and is only imported by the worker's autodiscovery.
"""
