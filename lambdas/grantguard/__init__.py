"""GrantGuard: detect, score and undo dangerous IAM user policy attachments."""

__version__ = "0.1.0"
