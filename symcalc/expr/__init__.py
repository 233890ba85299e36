"""Expressions: the named functions, declared structure, vectorization, densities."""
