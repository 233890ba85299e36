"""The derivation engine: one walker, the matrix engine, fast differentiation, the public derivatives."""
