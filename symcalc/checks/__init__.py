"""Checks every stage shares: explicit evaluation, the one central difference, zero tests."""
