"""The client's address through trusted proxies: the right-most untrusted forwarded hop."""

from ipaddress import ip_network

import pytest

from tradelab_gateway.ratelimit.client_address import MAX_HOPS, client_address
from tradelab_gateway.settings import GatewaySettings

PROXIES = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


def test_peer_is_the_client_when_no_proxy_is_trusted() -> None:
    assert client_address("10.1.1.1", ["203.0.113.9"], ()) == "10.1.1.1"


def test_forwarded_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address("198.51.100.7", ["203.0.113.9"], PROXIES) == "198.51.100.7"


def test_trusted_peer_without_header_is_the_client() -> None:
    assert client_address("10.1.1.1", [], PROXIES) == "10.1.1.1"


def test_right_most_untrusted_hop_is_the_client() -> None:
    # The client wrote "1.2.3.4" itself; the first proxy appended the real peer 203.0.113.9.
    header = ["1.2.3.4, 203.0.113.9, 10.0.0.5"]
    assert client_address("10.0.0.6", header, PROXIES) == "203.0.113.9"


def test_several_header_lines_read_as_one_list() -> None:
    lines = ["1.2.3.4", "203.0.113.9", "10.0.0.5"]
    assert client_address("10.0.0.6", lines, PROXIES) == "203.0.113.9"


def test_every_hop_trusted_gives_the_left_most() -> None:
    assert client_address("10.0.0.6", ["10.9.9.9, 10.0.0.5"], PROXIES) == "10.9.9.9"


def test_malformed_hop_stops_at_the_nearest_trusted_address() -> None:
    assert client_address("10.0.0.6", ["203.0.113.9, junk, 10.0.0.5"], PROXIES) == "10.0.0.5"


def test_ipv6_hops_are_compared_as_ipv6() -> None:
    header = ["2001:db8::1, fd00::2"]
    assert client_address("fd00::3", header, PROXIES) == "2001:db8::1"


def test_only_the_last_hops_are_walked() -> None:
    trusted_chain = ", ".join(["10.0.0.1"] * (MAX_HOPS + 5))
    header = [f"203.0.113.9, {trusted_chain}"]
    assert client_address("10.0.0.6", header, PROXIES) == "10.0.0.1"


def test_unknown_peer_is_named_unknown() -> None:
    assert client_address(None, ["203.0.113.9"], PROXIES) == "unknown"


def test_proxies_setting_parses_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["127.0.0.1/32", "fd00::/8"]')
    assert GatewaySettings().trusted_proxies == (ip_network("127.0.0.1/32"), ip_network("fd00::/8"))


def test_old_trust_forwarded_for_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUST_FORWARDED_FOR", "true")
    with pytest.raises(ValueError, match="GATEWAY_TRUSTED_PROXIES"):
        GatewaySettings()
