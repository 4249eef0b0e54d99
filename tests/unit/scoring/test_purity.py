"""grantguard.scoring is pure: no AWS SDK, no Powertools, no environment reads (ast walk)."""

from __future__ import annotations

import ast
from pathlib import Path

import grantguard.scoring

FORBIDDEN_MODULES = ("boto3", "botocore", "aws_lambda_powertools", "moto", "os")
FORBIDDEN_NAMES = ("environ", "getenv", "putenv")
PACKAGE_DIR = Path(grantguard.scoring.__file__).parent


def violations(source: str, filename: str = "<test>") -> list[str]:
    """Every forbidden import or environment access in `source`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        for module in modules:
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{node.lineno} imports {module}")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            found.append(f"{filename}:{node.lineno} reads {node.attr}")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{filename}:{node.lineno} uses {node.id}")
    return found


def test_every_scoring_module_is_pure() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 8
    problems = [v for f in files for v in violations(f.read_text(), f.name)]
    assert problems == []


def test_the_walk_catches_each_kind_of_violation() -> None:
    source = (
        "import boto3\n"
        "from botocore.client import Config\n"
        "from aws_lambda_powertools import Logger\n"
        "import os.path\n"
        "x = sys.modules['os'].environ\n"
        "from os import getenv\n"
    )
    assert len(violations(source)) == 6
    assert violations("import json\nfrom pathlib import Path\n") == []
