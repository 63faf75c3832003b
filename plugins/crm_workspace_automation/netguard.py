"""Where a webhook may be sent: http(s) only, and never to this host's own or private networks.

A URL is checked when it is subscribed and again at every delivery *after* its host name
is resolved, and the request then goes to exactly the address that was checked (the
connection is pinned to it), so a name that resolves to a public address at subscribe time
and to 127.0.0.1 later (DNS rebinding) is refused at delivery. Refused: loopback
(127.0.0.0/8, ::1), link-local (169.254.0.0/16 with the cloud metadata address
169.254.169.254, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10),
unspecified (0.0.0.0, ::), multicast and reserved addresses, also when written as an
IPv4-mapped IPv6 address. The admin-only setting ``webhooks_allow_private`` lifts the
address rule (for a receiver on the same host or network, and for tests); the scheme rule
always holds.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from crm_workspace.errors import CrmError


class UnsafeURL(CrmError):
    """A webhook URL this workspace refuses to send to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the resolved, checked IP the connection goes to


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return name
    if not ip.is_global:
        return "non-public"
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of an http(s) URL, or ``UnsafeURL`` saying what is wrong."""
    text = str(url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"not a valid URL: {text!r} ({error})") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(f"only http:// and https:// URLs can receive webhooks, not {scheme or 'no scheme'}: {text!r}")
    host = parts.hostname
    if not host:
        raise UnsafeURL(f"the URL names no host: {text!r}")
    if parts.username or parts.password:
        raise UnsafeURL("put no user name or password in a webhook URL: the signature authenticates deliveries")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(url: str, *, allow_private: bool = False) -> Target:
    """Check ``url`` and resolve its host; ``UnsafeURL`` if any address it resolves to is refused."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeURL(f"cannot resolve the host {host!r}: {error}") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeURL(f"the host {host!r} has no address")
    if not allow_private:
        for address in addresses:
            why = _forbidden(ipaddress.ip_address(address.split("%")[0]))
            if why:
                raise UnsafeURL(
                    f"refused: {host} resolves to {address}, a {why} address"
                    " (an admin may allow private receivers with the webhooks_allow_private setting)"
                )
    return Target(scheme, host, port, path, addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST ``body`` to the checked address; no redirects followed; at most 2 KB of the answer kept."""
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = kind(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        answer = conn.getresponse()
        text = answer.read(2048).decode("utf-8", "replace")
        return Response(answer.status, text)
    finally:
        conn.close()
