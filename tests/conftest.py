"""What each suite may touch:

- tests/unit: pure code and files in the repo. No network: any socket connect fails the test.
- tests/integration: real HTTP to a local AWS emulator (moto server on 127.0.0.1), one per session.
- tests/infra: one in-process CDK synth per session; assertions, cdk-nag and cfn-lint on it.

Sample CloudTrail events live in tests/events/*.json and are read through `load_event`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "events"
POLICIES_DIR = Path(__file__).parent / "policies"
REPO_ROOT = Path(__file__).parent.parent


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/<name>.json (tests may mutate it)."""
    with (EVENTS_DIR / f"{name}.json").open() as handle:
        return copy.deepcopy(json.load(handle))


@pytest.fixture
def event() -> Any:
    return load_event
