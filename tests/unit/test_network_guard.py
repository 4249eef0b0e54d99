import socket

import pytest

from tests.unit.conftest import NetworkBlockedError


def test_unit_suite_cannot_open_a_connection() -> None:
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("127.0.0.1", 9))
    sock = socket.socket()
    try:
        with pytest.raises(NetworkBlockedError):
            sock.connect(("127.0.0.1", 9))
    finally:
        sock.close()
