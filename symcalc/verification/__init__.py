"""Checking claims: hand derivations against the derived truth, never trusting text."""
