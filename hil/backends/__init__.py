"""Implementations of the Backend contract; each registers itself in hil.backend."""
