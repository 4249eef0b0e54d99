"""`grantguard backtest`: CloudTrail history through the responder's judgement, read-only.

records (pure): raw trail bytes -> candidate grant records -> EventBridge envelopes.
judge: the one module that turns an envelope into a verdict (later: the shared `evaluate`).
summary, suggestions, report (pure): what people see.
sources: local trail folders; S3, LookupEvents and Athena readers live in adapters/history.py.
"""
