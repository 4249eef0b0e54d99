"""How the Lambdas write log lines: Powertools' JSON, with every non-ASCII character escaped.

Powertools' default serializer keeps non-ASCII characters as they are (`ensure_ascii=False`). A
lone surrogate in a caller-controlled value (a user name, a user agent) then cannot be encoded
as UTF-8 on the way to stdout, and the logging module drops the whole line. Escaped, the line
survives and still reads back to the same value.
"""

from __future__ import annotations

import json
from typing import Any


def json_line(record: Any) -> str:
    """One log record as compact JSON, ASCII only (the Logger's `json_serializer`)."""
    return json.dumps(record, default=str, separators=(",", ":"), ensure_ascii=True)
