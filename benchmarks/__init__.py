"""The repository's benchmark scripts, run from its root as ``python -m benchmarks.<name>``.

Not the packaged ``coordinator bench`` command (``coordinator/bench/``): these scripts are not
installed and may import the test rig (``tests.rig``).
"""
