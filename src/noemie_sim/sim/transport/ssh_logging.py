"""asyncssh's debug logging, paid for only when it is on.

asyncssh describes every packet it sends or receives (its type's name, its size) and formats
the arguments of every level-1 debug message before it asks the logger whether anything is
logged at all: on a run's SFTP traffic, about a hundred thousand packets and as many SFTP
debug lines for a month of 50 PS, 3 % of the run's time spent on text nobody reads.
:func:`install` makes both checks first: a packet is described only at asyncssh's debug level
3 (``asyncssh.set_debug_level(3)``), the only level at which its description is logged, and a
message's arguments are formatted only when its logger is enabled for its level. What is
logged, when it is, does not change.
"""

from __future__ import annotations

from typing import Any

from asyncssh.logging import SSHLogger
from asyncssh.packet import SSHPacketLogger

#: asyncssh logs a packet's description at this debug level and above (SSHLogger.packet)
PACKET_DEBUG_LEVEL = 3


def install() -> None:
    """Guard asyncssh's packet descriptions and debug messages (module docstring); done once
    per process, whoever calls it."""
    if getattr(SSHPacketLogger, "_noemie_guarded", False):
        return
    describe = SSHPacketLogger._log_packet
    format_and_log = SSHLogger.log

    def _log_packet(self: SSHPacketLogger, *args: Any) -> None:
        if SSHLogger._debug_level >= PACKET_DEBUG_LEVEL:
            describe(self, *args)

    def log(self: SSHLogger, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            format_and_log(self, level, msg, *args, **kwargs)

    SSHPacketLogger._log_packet = _log_packet  # type: ignore[method-assign, assignment]
    SSHLogger.log = log  # type: ignore[method-assign]
    SSHPacketLogger._noemie_guarded = True  # type: ignore[attr-defined]
