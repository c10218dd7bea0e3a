"""The REST routes, one module per area; :mod:`gateway.app` mounts them under ``/api/v1``."""
