"""The compiled matching core (mypyc, see ``setup.py``) behaves exactly as its Python source.

``pip install -e .`` compiles ``engine.py`` and ``book.py`` in place and Python then imports
the extensions; these tests run the same command streams through the modules this process
imported (compiled when built) and through the ``.py`` sources in a child process that is
kept from loading the extensions, and require identical events and snapshots.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import streams.matching.book
import streams.matching.engine
from streams.matching import EngineConfig, MatchingEngine, event_to_dict
from tests.unit.streams.matching.harness import IID
from tests.unit.streams.matching.strategies import build_commands, random_actions

ROOT = Path(__file__).resolve().parents[4]
SEEDS = range(12)

# Runs in the child: a finder placed first on sys.meta_path answers for the two compiled
# modules with their .py files, so the extension modules are never loaded there.
_CHILD = """
import importlib.util, json, sys
from pathlib import Path

ROOT = Path(sys.argv[1])
SOURCES = {"streams.matching.engine", "streams.matching.book"}


class SourceOnly:
    def find_spec(self, name, path=None, target=None):
        if name in SOURCES:
            return importlib.util.spec_from_file_location(
                name, ROOT / (name.replace(".", "/") + ".py"))
        return None


sys.meta_path.insert(0, SourceOnly())
sys.path.insert(0, str(ROOT))
import streams.matching.engine as engine
from tests.unit.streams.matching.test_compiled import run_streams

assert engine.__file__.endswith(".py"), engine.__file__
print(json.dumps(run_streams([int(s) for s in sys.argv[2:]])))
"""


def run_streams(seeds: list[int]) -> list[Any]:
    """Events (as dicts) and the final snapshot of one engine per seeded stream."""
    results = []
    for seed in seeds:
        engine = MatchingEngine(EngineConfig(IID))
        commands = build_commands(random_actions(seed))
        events = [event_to_dict(e) for e in engine.process_many(commands)]
        results.append({"events": events, "snapshot": engine.to_snapshot()})
    return json.loads(json.dumps(results))


def test_compiled_modules_match_their_source() -> None:
    here = run_streams(list(SEEDS))
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT), *map(str, SEEDS)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    source = json.loads(child.stdout)
    assert sum(len(r["events"]) for r in here) > 500, "streams too short to compare"
    for seed, mine, theirs in zip(SEEDS, here, source, strict=True):
        assert mine == theirs, f"seed {seed}: compiled and source engines differ"


def test_which_modules_are_compiled_is_reported() -> None:
    """Either both hot modules are extensions (built) or both are sources (not built)."""
    kinds = {m.__file__.endswith(".py") for m in (streams.matching.engine, streams.matching.book)}
    assert len(kinds) == 1
