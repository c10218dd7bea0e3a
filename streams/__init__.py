"""Faust app and agents per bounded context; pure domain code lives beside each agent."""
