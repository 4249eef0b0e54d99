"""Everything on-call reads: grant alerts, the posture digest, SNS packing and text safety.

Pure: no AWS imports, no environment reads. `text` is the one text-safety module (and holds the
one subject limit); `alert` renders a grant's outcome, `digest` the daily posture check, `sns`
packs either into one SNS Publish message. Every JSON body carries `schema_version`
(`SCHEMA_VERSION`, bumped when a field is removed or changes meaning).
"""

from __future__ import annotations

from grantguard.alerts.alert import render_alert
from grantguard.alerts.text import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "render_alert"]
