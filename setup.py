"""Compiles the matching core's hot modules with mypyc when the project is installed.

``pip install -e ".[dev]"`` (``make setup``) runs this through setuptools; mypyc (from the
pinned ``mypy`` in ``[build-system] requires``) turns ``streams/matching/engine.py`` and
``streams/matching/book.py`` into C extensions placed beside the sources. The ``.py`` files
stay the source of truth: Python imports the extension when it is there and the source when
it is not (delete the ``.so`` files, or install with ``STRIKEFLOW_NO_MYPYC=1``), with the
same behaviour either way (``tests/unit/streams/matching/test_compiled.py`` checks it).
``benchmarks/matching_core.py`` prints which one it ran.

The compiled code itself lives in one shared library inside the package
(``streams/matching/native__mypyc.cpython-311-*.so``; the ``engine``/``book`` extensions are
thin shims onto it).
After editing ``engine.py`` or ``book.py``, rebuild (``.venv/bin/pip install -e . --no-deps``,
or ``.venv/bin/python setup.py build_ext --inplace``): until then the previous build runs.
Typing rules the compiled modules follow are in :mod:`streams.matching.engine`'s docstring.
"""

from __future__ import annotations

import os

from setuptools import setup

#: The modules where the matching time goes (py-spy: the engine's command handlers and the
#: sweep, and the book's levels); the rest of the package stays interpreted.
COMPILED = ["streams/matching/book.py", "streams/matching/engine.py"]

ext_modules = []
if os.environ.get("STRIKEFLOW_NO_MYPYC", "") in ("", "0"):
    from mypyc.build import mypycify

    ext_modules = mypycify(
        [
            # Only these files are type-checked strictly; imported project modules are read
            # for their types without reporting their own findings.
            "--follow-imports=silent",
            "--ignore-missing-imports",
            *COMPILED,
        ],
        opt_level="3",
        # the shared library goes inside the package (streams/matching/native__mypyc…so):
        # at the project root it would be importable only with the root on sys.path, and
        # the installed `strikeflow` command, run from anywhere, could not import the engine
        group_name="streams.matching.native",
    )

setup(ext_modules=ext_modules)
