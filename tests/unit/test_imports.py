"""The package's layering, read from the source: who may import AWS SDKs, and which way data flows.

- Only `grantguard.adapters` talks to AWS (boto3/botocore). `grantguard.demo` is the local
  harness that builds the emulator's resources; nothing on the Lambda's path imports it.
- The pure core (scoring, grants, domain, events, context, decision, evaluate, outcome, alerts)
  imports no AWS SDK, no Powertools, no `os` (so it cannot read the environment) and no
  runtime layer.
- Data flows one way: adapters know no service, the service knows no handler, the handler knows
  no CLI, and no package module imports moto (the demo runs it as a separate process).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "lambdas" / "grantguard"
AWS_SDKS = {"boto3", "botocore", "aioboto3", "aiobotocore", "s3transfer"}
PURE_CORE = (  # every stage of test_architecture.STAGES, and the modules they share
    "grantguard.scoring",
    "grantguard.grants",
    "grantguard.settings",
    "grantguard.org",
    "grantguard.evaluate",
    "grantguard.outcome",
    "grantguard.revert",
    "grantguard.decision",
    "grantguard.alerts.alert",
    "grantguard.alerts.sections",
    "grantguard.alerts.sns",
    "grantguard.alerts.text",
    "grantguard.context",
    "grantguard.decision",
    "grantguard.evaluate",
    "grantguard.outcome",
    "grantguard.alerts",
)
RUNTIME_LAYERS = (
    "grantguard.adapters",
    "grantguard.service",
    "grantguard.handler",
    "grantguard.commands",
    "grantguard.cli",
    "grantguard.demo",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str = "grantguard.x", is_package: bool = False) -> set[str]:
    """Every module a source imports, lazy imports included, relative ones resolved."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def package_imports() -> dict[str, set[str]]:
    result = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        name = module_name(path)
        result[name] = imports_of(path.read_text(), name, path.name == "__init__.py")
    return result


def under(name: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(allowed: tuple[str, ...], forbidden: tuple[str, ...] | set[str]) -> list[str]:
    return sorted(
        f"{module} imports {imported}"
        for module, imported_set in package_imports().items()
        if not under(module, allowed)
        for imported in imported_set
        if under(imported, forbidden)
    )


def test_the_import_reader_sees_plain_lazy_and_relative_imports() -> None:
    source = (
        "import boto3\ndef f():\n    from botocore.config import Config\nfrom . import domain\n"
    )
    found = imports_of(source, "grantguard.service")
    assert {"boto3", "botocore.config", "grantguard", "grantguard.domain"} <= found
    assert imports_of("from ..domain import Grant", "grantguard.adapters.iam") >= {
        "grantguard.domain",
        "grantguard.domain.Grant",
    }


def test_the_walk_covers_the_whole_package() -> None:
    modules = package_imports()
    for expected in ("grantguard.handler", "grantguard.service", "grantguard.adapters.iam"):
        assert expected in modules
    assert any(m.startswith("grantguard.scoring.") for m in modules)


def test_only_adapters_and_the_demo_harness_import_aws_sdks() -> None:
    assert violations(("grantguard.adapters", "grantguard.demo"), AWS_SDKS) == []


def test_no_package_module_imports_moto() -> None:
    assert violations((), {"moto"}) == []


def test_pure_core_imports_no_aws_no_powertools_no_environment_and_no_runtime_layer() -> None:
    forbidden = {*AWS_SDKS, "aws_lambda_powertools", "aws_xray_sdk", "os", *RUNTIME_LAYERS}
    pure = {m: i for m, i in package_imports().items() if under(m, PURE_CORE)}
    assert any(m.startswith("grantguard.scoring") for m in pure)
    found = sorted(
        f"{module} imports {name}"
        for module, imported in pure.items()
        for name in imported
        if under(name, forbidden)
    )
    assert found == []


@pytest.mark.parametrize(
    ("layer", "must_not_know"),
    [
        (
            "grantguard.adapters",
            ("grantguard.service", "grantguard.handler", "grantguard.settings"),
        ),
        ("grantguard.service", ("grantguard.handler", "grantguard.commands", "grantguard.demo")),
        ("grantguard.handler", ("grantguard.commands", "grantguard.cli", "grantguard.demo")),
        (
            "grantguard.settings",
            ("grantguard.adapters", "grantguard.service", "grantguard.handler"),
        ),
    ],
)
def test_data_flows_one_way(layer: str, must_not_know: tuple[str, ...]) -> None:
    found = sorted(
        f"{module} imports {name}"
        for module, imported in package_imports().items()
        if under(module, (layer,))
        for name in imported
        if under(name, must_not_know)
    )
    assert found == []


def test_importing_the_handler_needs_no_environment_no_network_and_loads_no_demo() -> None:
    probe = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise SystemExit('network used at import: %r' % (a[1:],))\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import grantguard.handler\n"
        "bad = [m for m in sys.modules if m.startswith(('moto', 'grantguard.demo', "
        "'grantguard.commands'))]\n"
        "assert not bad, bad\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
