"""Export each topic's contract as JSON Schema, for producers written in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from topics.catalogue import CATALOGUE, MAX_PAYLOAD_BYTES

__all__ = ["export_schemas"]

#: pydantic writes JSON Schema 2020-12 (``prefixItems`` for tuples, ``$defs``).
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def export_schemas(out_dir: Path) -> list[Path]:
    """One ``<topic>.schema.json`` per topic with a contract.

    The limits the decoders enforce are in the schemas, so a producer validating against them
    is not dead-lettered later: decimals as strings with their decimals and integer digits
    (pattern, ``maxDecimalPlaces``, ``maxIntegerDigits``), timestamps with an offset between
    1970 and 2200 (``formatMinimum``/``formatExclusiveMaximum``), integers within 64 bits, ids
    without control characters; the payload's size limit is in the description. Rules across
    fields (a limit order needs a price, a candle's low <= high) are in the descriptions only.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in CATALOGUE:
        if spec.contract is None:
            continue
        schema = spec.contract.json_schema(mode="validation")
        schema["$schema"] = DIALECT
        schema["$id"] = f"strikeflow:{spec.name}"
        schema["description"] = (f"{spec.description}. Key: {spec.key}. At most "
                                 f"{MAX_PAYLOAD_BYTES} bytes of UTF-8 JSON.")
        path = out_dir / f"{spec.name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
