"""Builds the GrantGuard app from CDK context: settings -> stack -> cdk-nag. No AWS calls."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import check_region, load_config
from infra.member import MANAGEMENT_STACK_NAME, GrantGuardMemberStack
from infra.stack import STACK_NAME, GrantGuardStack


def create(app: App, environ: Mapping[str, str] | None = None) -> GrantGuardStack:
    """The stack for `app`, with AwsSolutions checks registered; raises ConfigError on bad input.

    Context comes from cdk.json and `-c key=value` overrides. The account is CDK_DEFAULT_ACCOUNT
    when the CLI resolved one, otherwise the template stays account-agnostic. In organization
    mode with a managementAccount, the app also holds the GrantGuardManagement stack.
    """
    environ = os.environ if environ is None else environ
    context: dict[str, Any] = dict(app.node.get_all_context() or {})
    config = load_config(context)
    region = check_region(context, environ)
    stack = GrantGuardStack(
        app,
        STACK_NAME,
        config=config,
        env=Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"), region=region),
    )
    management = config.organization.management_account
    if config.organization.enabled and management:
        # StackSets never deploy to the management account: it gets the member stack by hand.
        GrantGuardMemberStack(
            app,
            MANAGEMENT_STACK_NAME,
            config=config,
            env=Environment(account=management, region=region),
        )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
