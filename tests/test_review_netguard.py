"""Security review: webhook addresses hiding a private IPv4 address inside an IPv6 one are refused."""

from __future__ import annotations

import pytest
from crm_workspace_automation import netguard


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254 (cloud metadata)
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo, client 10.0.0.1
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0.0.0.0/",
    ],
)
def test_private_addresses_in_any_spelling_are_refused(url):
    with pytest.raises(netguard.UnsafeURL, match="refused"):
        netguard.resolve(url)


def test_a_public_6to4_address_is_allowed():
    assert netguard.resolve("http://[2002:808:808::1]/").address == "2002:808:808::1"
