"""Versioned, numbered revisions: forward and backward steps in raw SQL."""
