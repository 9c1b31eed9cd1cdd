"""Ports for test and development stacks come from below the kernel's ephemeral range, so no
outgoing connection can take one between the choice and the server's bind."""

import socket

import pytest

from tradelab_devstack.ports import LOWEST_PORT, ephemeral_low, free_port, free_port_range

pytestmark = pytest.mark.integration


def test_a_range_is_free_and_below_the_ports_outgoing_connections_get() -> None:
    base = free_port_range(5)
    assert base >= LOWEST_PORT
    assert base + 5 <= ephemeral_low()
    listening = []
    try:
        for port in range(base, base + 5):  # every one of them can be listened on
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listening.append(sock)
            sock.bind(("127.0.0.1", port))
            sock.listen()
    finally:
        for sock in listening:
            sock.close()


def test_a_port_taken_is_never_chosen() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        held = taken.getsockname()[1]
        chosen = {free_port() for _ in range(200)}
    assert held not in chosen
    assert all(LOWEST_PORT <= port < ephemeral_low() for port in chosen)
