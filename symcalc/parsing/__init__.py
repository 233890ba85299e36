"""The safe text and LaTeX grammar (no eval, no sympify of text)."""
