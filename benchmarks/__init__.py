"""fireflytx benchmarks: `python -m benchmarks` (or `nox -s bench`) writes results/latest.{json,md}."""
