"""Run moto in server mode as a child process on loopback, and always stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

REGION = "us-east-1"
# Dummy credentials: the emulator accepts anything, and these can never sign a real request.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
START_TIMEOUT_SECONDS = 30.0


class EmulatorError(RuntimeError):
    """The local AWS emulator did not start; the message says why and where its log is."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def aws_environment(endpoint: str) -> dict[str, str]:
    """What boto3 needs to talk to the emulator, and nothing that could reach a real account."""
    return {
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def _wait_ready(endpoint: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"moto server exited with code {process.returncode}; see its log {log.name}"
            )
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise EmulatorError(f"moto server did not answer within {START_TIMEOUT_SECONDS:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def moto_server(extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start `python -m moto.server` on 127.0.0.1 with AWS managed policies; yield its endpoint."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **aws_environment(endpoint),
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with tempfile.NamedTemporaryFile(prefix="grantguard-moto-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(endpoint, process, log)
            yield endpoint
        finally:
            _stop(process)
    os.unlink(log.name)
