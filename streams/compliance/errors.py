"""The compliance package's one base exception."""

from __future__ import annotations

__all__ = ["ComplianceError"]


class ComplianceError(ValueError):
    """A value handed to compliance's domain code is malformed (a programming or input error:
    the agent dead-letters the message that carried it). Refusals are not errors: the gates
    return a :class:`~streams.compliance.kyc.GateResult` and screening returns cases."""
