"""Performance benchmarks of visitrisk (not timed tests): ``python -m bench`` runs them all.

Each ``bench/bench_*.py`` module runs in its own process (so peak memory is its own) and
writes ``bench/results/<name>.json`` through :mod:`bench._measure`.
"""
