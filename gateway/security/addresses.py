"""Where the switch may send a client's callbacks: not to itself, its host or its private network.

A callback URL is tenant input the switch later fetches from inside its network (SSRF). Unless an
operator allows it (``MOSPAY_ALLOW_PRIVATE_CALLBACKS``), a URL whose host is, or resolves to, a
loopback, link-local, private, unspecified, multicast or reserved address is refused.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


def internal_address(url, resolve=socket.getaddrinfo):
    """The internal address ``url``'s host is or resolves to, or ``None`` when it is public (or unknown)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in resolve(host, None)}
        except (OSError, UnicodeError, ValueError):
            return None  # not resolvable now: nothing to reach yet (deliveries check what they connect to)
    for address in sorted(addresses, key=str):
        if _is_internal(getattr(address, "ipv4_mapped", None) or address):
            return str(address)
    return None


def _is_internal(address):
    return (address.is_loopback or address.is_link_local or address.is_private or address.is_unspecified
            or address.is_multicast or address.is_reserved)
