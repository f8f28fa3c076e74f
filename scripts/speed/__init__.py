"""The sections of benchmark_speed.py, one module each, and what they share (shared.py).

How each section measures is in docs/benchmarks.md ("How each section is measured").
"""
