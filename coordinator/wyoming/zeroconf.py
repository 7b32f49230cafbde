"""Announcing the Wyoming port over mDNS (``_wyoming._tcp``), so Home Assistant offers to add it.

The service type and record are the ones ``wyoming.zeroconf`` registers. That helper always
announces on every interface and never withdraws the record; this one announces only where the
port listens and withdraws it on shutdown, so Home Assistant does not keep offering a server that
is gone.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from coordinator.service.connections import is_loopback

logger = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
# Where wyoming.zeroconf sends its probe to learn the address other hosts reach us at (a UDP
# "connect" sends nothing; it only picks the outgoing interface).
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
NAME_PREFIX = "orpheus"
LOOPBACK = "127.0.0.1"


def default_name() -> str:
    return f"{NAME_PREFIX}-{socket.gethostname()}"


def _reachable_address() -> str:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((MDNS_GROUP, MDNS_PORT))
        return str(probe.getsockname()[0])
    finally:
        probe.close()


class Announcer:
    """One ``_wyoming._tcp`` record for the port ``host`` listens on."""

    def __init__(self, host: str, name: str | None = None) -> None:
        self.name = name or default_name()
        self._host = host
        self._zeroconf: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    async def register(self, port: int) -> None:
        address = self._bound_address()
        if address is None:  # every interface (0.0.0.0, a host name): announce where we are reached
            address = _reachable_address()
            self._zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only)
        else:  # one address: announce there only (a loopback server stays off the network)
            self._zeroconf = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(address)],
            port=port,
        )
        await self._zeroconf.async_register_service(self._info)
        logger.info("zeroconf: announced %s at %s:%d", self.name, address, port)

    def _bound_address(self) -> str | None:
        """The one IPv4 address the port listens on, or None when it listens on all of them."""
        if is_loopback(self._host):
            return LOOPBACK
        try:
            address = ipaddress.IPv4Address(self._host)
        except ValueError:
            return None
        return None if address.is_unspecified else str(address)

    async def unregister(self) -> None:
        if self._zeroconf is None:
            return
        if self._info is not None:
            await self._zeroconf.async_unregister_service(self._info)
        await self._zeroconf.async_close()
        self._zeroconf = self._info = None
