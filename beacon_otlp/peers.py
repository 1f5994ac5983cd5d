"""Which user owns the client end of a loopback TCP connection, as the kernel records it.

Linux lists every TCP socket of the network namespace in /proc/net/tcp (tcp6 for IPv6) with
the uid of the process that created it. The client's socket is the one whose local address is
our peer and whose remote address is us. A receiver can so accept an agent that runs as
another user (sudo -u, which drops the environment that carries the token) without that user
being handed the token on a command line, which every local user can read.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, Optional, Tuple

_TABLES = {socket.AF_INET: "/proc/net/tcp", socket.AF_INET6: "/proc/net/tcp6"}
_UID_FIELD = 7  # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid


def peer_uid(connection: socket.socket) -> Optional[int]:
    """The uid that owns the other end of `connection`; None where the kernel does not say
    (not Linux, not TCP over IP, the client already gone)."""
    table = _TABLES.get(connection.family)
    try:
        wanted = (
            _table_address(connection.family, connection.getpeername()),
            _table_address(connection.family, connection.getsockname()),
        )
        with open(table or "", encoding="ascii") as handle:
            next(handle, None)  # the header line
            for line in handle:
                fields = line.split()
                if len(fields) > _UID_FIELD and (fields[1], fields[2]) == wanted:
                    return int(fields[_UID_FIELD])
    except (OSError, ValueError):
        pass
    return None


def _table_address(family: int, address: Tuple[Any, ...]) -> str:
    """An (address, port, ...) pair as the table writes it: the address as the kernel holds it
    in memory, 32-bit words in host byte order, then the port, in hexadecimal."""
    packed = socket.inet_pton(family, address[0])
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words) + f":{address[1]:04X}"
