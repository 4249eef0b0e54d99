#!/usr/bin/env python3
"""GrantGuard CDK app: settings from context -> stack -> cdk-nag AwsSolutions -> synth."""

import sys

from aws_cdk import App

from infra.app import create
from infra.config import ConfigError

app = App()
try:
    create(app)
except ConfigError as error:
    print(f"GrantGuard: {error}", file=sys.stderr)
    sys.exit(1)
app.synth()
