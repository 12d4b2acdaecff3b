"""Supervision by systemd or upstart (`supervised`), as redis-server does it.

Room: telling the service manager how start-up and shutdown go. Imports: the standard
library.

- `supervised systemd` (a unit with `Type=notify`): sd_notify's protocol, datagrams to
  the socket `$NOTIFY_SOCKET` names (`@` for the abstract namespace): "STATUS=..." as
  the data opens, "READY=1" once the server accepts connections (with a status saying
  whether it waits for its primary), the replica's sync results, "STOPPING=1" when a
  shutdown begins -- the moments Redis 7.0 tells them. Without `$NOTIFY_SOCKET` the
  server says so in its log and is not supervised.
- `supervised upstart` (`expect stop`): the process stops itself (SIGSTOP) once its
  configuration is read, when `$UPSTART_JOB` is set, and upstart resumes it.
- `supervised auto`: upstart if `$UPSTART_JOB` is set, else systemd if `$NOTIFY_SOCKET`
  is, else neither. `no` (the default): neither.
A supervised server does not daemonize (`daemonize yes` is for running unsupervised).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Mapping

log = logging.getLogger("diskredis")


class Supervision:
    """The service manager this process reports to, if any (`mode`)."""

    def __init__(self, setting: str, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.setting = setting
        self.socket_path = env.get("NOTIFY_SOCKET", "")
        self.upstart_job = env.get("UPSTART_JOB", "")
        mode = setting
        if setting == "auto":
            mode = "upstart" if self.upstart_job else "systemd" if self.socket_path else ""
        elif setting == "no":
            mode = ""
        self.requested = mode
        # supervised for real: what start() will do needs what the environment gives
        ready = {"systemd": bool(self.socket_path), "upstart": bool(self.upstart_job)}
        self.mode = mode if ready.get(mode) else ""

    @property
    def supervised(self) -> bool:
        return bool(self.mode)

    def start(self) -> None:
        """redisIsSupervised, once logging is set up: say what supervises the server;
        upstart's stop, systemd's first status."""
        if self.requested == "upstart" and not self.mode:
            log.warning("upstart supervision requested, but UPSTART_JOB not found!")
        elif self.requested == "systemd" and not self.mode:
            log.warning("systemd supervision error: NOTIFY_SOCKET not found!")
        elif self.mode == "upstart":
            log.info("supervised by upstart, will stop to signal readiness.")
            os.environ.pop("UPSTART_JOB", None)
            os.kill(os.getpid(), signal.SIGSTOP)
        elif self.mode == "systemd" and self.notify("STATUS=diskredis is loading..."):
            log.info(
                "Supervised by systemd. Please make sure you set appropriate values for "
                "TimeoutStartSec and TimeoutStopSec in your service unit."
            )

    def notify(self, *lines: str) -> bool:
        """sd_notify: send `lines` (e.g. "READY=1") to systemd; False (and a log line)
        when they could not be sent. Nothing is sent when systemd does not supervise."""
        if self.mode != "systemd":
            return False
        path = self.socket_path
        address = "\0" + path[1:] if path.startswith("@") else path
        message = "".join(line + "\n" for line in lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto(message, address)
        except OSError as e:
            log.warning("systemd supervision error: sd_notify to %s: %s", path, e.strerror or e)
            return False
        return True

    def ready(self, replica: bool) -> None:
        """The server accepts connections."""
        if replica:
            self.notify(
                "STATUS=Ready to accept connections in read-only mode. Waiting for "
                "MASTER <-> REPLICA sync",
                "READY=1",
            )
        else:
            self.notify("STATUS=Ready to accept connections", "READY=1")

    def synced(self, partial: bool) -> None:
        """A replica's sync with its primary succeeded."""
        if partial:
            self.notify(
                "STATUS=MASTER <-> REPLICA sync: Partial Resynchronization accepted. Ready "
                "to accept connections in read-write mode."
            )
        else:
            self.notify(
                "STATUS=MASTER <-> REPLICA sync: Finished with success. Ready to accept "
                "connections in read-write mode."
            )

    def stopping(self) -> None:
        """A shutdown begins."""
        self.notify("STOPPING=1")


#: The process's supervision (set by `cli` at start-up; unsupervised until then).
current = Supervision("no", {})
