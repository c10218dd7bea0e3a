"""Export each topic's contract as JSON Schema, for producers written in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from topics.catalogue import CATALOGUE

__all__ = ["export_schemas"]


def export_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in CATALOGUE:
        if spec.contract is None:
            continue
        schema = spec.contract.json_schema(mode="validation")
        schema["$id"] = f"strikeflow:{spec.name}"
        schema["description"] = f"{spec.description}. Key: {spec.key}."
        path = out_dir / f"{spec.name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
