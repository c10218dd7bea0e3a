"""The composition root: the ``strikeflow`` command, the main job (demo) and the fault drill.

Nothing in the bounded contexts (streams, cdc, sinks, analytics, dashboards) imports from here;
this package wires them together. The layers are checked by import-linter (``make lint``).
"""
