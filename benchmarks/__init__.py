"""Performance measurements, reported as ratios against a baseline measured in the same run.

Each ``benchmarks/bench_*.py`` module exposes ``run(full: bool = False) -> list[dict]``;
every dict has ``name``, ``value``, ``unit``, ``baseline``, ``ratio`` and ``note``.
``python -m benchmarks [NAME ...] [--full]`` runs them and prints one table.
Wall-clock times are never asserted in tests: machines are noisy, ratios less so.
"""
