#!/usr/bin/env bash
# Install what StrikeFlow needs on a fresh Debian machine, then the project itself:
#   - Debian packages: Java 17, Maven, PostgreSQL 15, Prometheus with promtool and
#     Alertmanager, Redis, Chromium (only those missing);
#   - a virtualenv in .venv with the project and its dev tools.
# Kafka, Kafka Connect + Debezium and Elasticsearch jars come later, from Maven Central, on the
# first `strikeflow infra up`. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
# `infra up` runs these binaries itself under supervisord, with its own config and data dir;
# the tests run promtool (`promtool test rules`).
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || missing+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
# Redis holds the gateways' shared rate limits; Chromium runs the web client's browser test.
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u)
  # The packages enable and start their own systemd services (the system-wide Prometheus on
  # :9090 scraping a node exporter, Alertmanager on :9093/:9094). StrikeFlow does not use
  # them: stop and disable them where systemd runs.
  if [ -d /run/systemd/system ]; then
    for unit in prometheus prometheus-alertmanager redis-server; do
      if [[ " ${missing[*]} " == *" $unit "* ]]; then
        $sudo systemctl disable --now "$unit.service" || true
      fi
    done
  fi
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "StrikeFlow needs Python 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.strikeflow-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi
# the matching core is compiled (setup.py): an edit of its sources rebuilds the extension,
# or the previous build would keep running
for src in streams/matching/engine.py streams/matching/book.py; do
  if [ "$src" -nt "$stamp" ]; then
    .venv/bin/pip install -q -e . --no-deps
    touch "$stamp"
    break
  fi
done
echo "ready: .venv/bin/strikeflow --help"
