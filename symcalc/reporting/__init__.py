"""Reports: the template context, figures, the LaTeX build."""
