"""The test suite mirrors the package (tests/<package>/), plus routes/ for the
independent-route suites and security/ for the hostile-input suites.

This file's folder is put on sys.path by pytest, so every test module can import the
shared helpers beside it (``helpers_numeric``, ``cases_explicit``).
"""
