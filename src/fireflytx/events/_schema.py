"""The envelope's JSON schema: generated from ``EventEnvelope`` and committed beside it.

Consumers in other languages validate against the committed file; a test keeps it equal to what
the model generates. Regenerate it with ``python -m fireflytx.events._schema``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ._envelope import EventEnvelope

__all__ = ["SCHEMA_FILE", "envelope_schema", "generated_schema"]

SCHEMA_FILE = "envelope.schema.json"


def generated_schema() -> dict[str, Any]:
    """The schema as the model generates it now."""
    schema = EventEnvelope.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def envelope_schema() -> dict[str, Any]:
    """The committed schema shipped in the package."""
    text = resources.files("fireflytx.events").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _write() -> Path:
    path = Path(__file__).with_name(SCHEMA_FILE)
    path.write_text(json.dumps(generated_schema(), indent=2) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {_write()}")
