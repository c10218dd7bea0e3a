"""Resolve the Java services' jars from Maven Central into a cache outside the repo.

Each runtime has a small pom under ``infra/maven/<name>/``; Maven copies its runtime closure
into ``<cache>/jars/<name>``. The Debezium connector is published as a ``plugin`` tar.gz and is
unpacked under ``<cache>/jars/connect-plugins`` for Connect's ``plugin.path``. A marker file
holding the pom's hash makes later runs reuse the cache until the pom changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

from infra.settings import Settings

__all__ = ["DEBEZIUM_ARTIFACT", "RUNTIMES", "JarError", "classpath", "ensure_jars", "plugin_path"]

RUNTIMES = ("kafka", "connect", "elasticsearch")
DEBEZIUM_ARTIFACT = "io.debezium:debezium-connector-postgres:3.4.0.Final:tar.gz:plugin"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_POMS = Path(__file__).parent / "maven"


class JarError(RuntimeError):
    """Maven could not resolve a runtime."""


def _jar_dir(settings: Settings, runtime: str) -> Path:
    return settings.cache_dir / "jars" / runtime


def classpath(settings: Settings, runtime: str) -> str:
    return f"{_jar_dir(settings, runtime)}/*"


def plugin_path(settings: Settings) -> Path:
    return settings.cache_dir / "jars" / "connect-plugins"


def _mvn(args: list[str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(["mvn", "-B", "-q", *args], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise JarError(f"mvn {' '.join(args[:2])} failed; see {log}")


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_jars(settings: Settings) -> list[str]:
    """Resolve every runtime whose cache is missing or stale; return what was downloaded."""
    log = settings.data_dir / "logs" / "maven.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    fetched: list[str] = []
    for runtime in RUNTIMES:
        pom = _POMS / runtime / "pom.xml"
        target = _jar_dir(settings, runtime)
        marker = target / ".resolved"
        stamp = _fingerprint(pom.read_text())
        if marker.exists() and marker.read_text() == stamp:
            continue
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        _mvn(
            ["-f", str(pom), f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={target}"],
            log,
        )
        marker.write_text(stamp)
        fetched.append(runtime)

    plugins = plugin_path(settings)
    marker = plugins / ".resolved"
    if not (marker.exists() and marker.read_text() == _fingerprint(DEBEZIUM_ARTIFACT)):
        shutil.rmtree(plugins, ignore_errors=True)
        download = settings.cache_dir / "jars" / "downloads"
        download.mkdir(parents=True, exist_ok=True)
        _mvn([f"{_DEPENDENCY_PLUGIN}:copy", f"-Dartifact={DEBEZIUM_ARTIFACT}",
              f"-DoutputDirectory={download}"], log)
        plugins.mkdir(parents=True)
        for archive in download.glob("debezium-connector-postgres-*-plugin.tar.gz"):
            with tarfile.open(archive) as tar:
                tar.extractall(plugins, filter="data")
        marker.write_text(_fingerprint(DEBEZIUM_ARTIFACT))
        fetched.append("debezium")
    return fetched
