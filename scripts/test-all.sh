#!/usr/bin/env bash
# Install everything fireflytx's tests need on a fresh machine, then run every check:
# lint, types, the Java adapter's JUnit tests and the whole pytest suite against the real engine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mvn >/dev/null || need_apt+=(maven)
command -v dot >/dev/null || need_apt+=(graphviz)
command -v npm >/dev/null || need_apt+=(nodejs npm)
command -v openssl >/dev/null || need_apt+=(openssl)  # certificates for the Redis TLS test
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages: ${need_apt[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi

# The Java adapter is compiled by the package build with a JDK 25 (see hatch_build.py).
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[all]'

# A real Mermaid parser for the tests that check generated diagrams.
npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error

ruff check src tests benchmarks
mypy
export JAVA_HOME="$(python hatch_build.py --print-java-home)"
# Maven's own Guava warns about sun.misc.Unsafe on JDK 25.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
(cd java && mvn -q -B verify)
python -m pytest
