#!/usr/bin/env python3
"""GrantGuard CDK app: settings from context -> stack -> cdk-nag AwsSolutions -> synth."""

import os
import sys
from pathlib import Path

try:
    from aws_cdk import App
except ModuleNotFoundError:  # `cdk` run from a shell without the venv on PATH: use the venv.
    VENV_PYTHON = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
    if VENV_PYTHON.exists() and Path(sys.executable) != VENV_PYTHON:
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.exit("GrantGuard: aws-cdk-lib is not installed; run `make install` first")

from infra.app import create
from infra.config import ConfigError

app = App()
try:
    create(app)
except ConfigError as error:
    sys.exit(f"GrantGuard: {error}")
app.synth()
