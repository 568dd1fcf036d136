"""Benchmarks, run on demand (``python -m bench.search`` etc.); they print figures and ratios."""
