"""systemd's notify protocol (READY, WATCHDOG, STATUS, STOPPING) over $NOTIFY_SOCKET.

The protocol is one datagram per message; a dependency is not worth it for that.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    """Sends state to systemd when run as a Type=notify unit; does nothing otherwise."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace socket
        self.address = address or None

    @property
    def enabled(self) -> bool:
        """True when systemd is listening."""
        return self.address is not None

    def send(self, **fields: str) -> None:
        """Send KEY=value lines, e.g. send(READY="1", STATUS="polling 4 sources")."""
        if self.address is None:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(message)
        except OSError as error:
            log.warning("cannot notify systemd: %s", error)

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of WATCHDOG_USEC), or None if no watchdog."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and int(pid) != os.getpid()):
            return None
        return int(usec) / 2_000_000
