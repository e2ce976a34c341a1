"""An RFC 2217 server for one serial port (a pty), after pyserial's ``rfc2217_server.py``.

    python tests/transports/rfc2217_bridge.py /dev/pts/N

listens on 127.0.0.1 at a free TCP port, prints that port on stdout, and serves one client at
a time with :class:`serial.rfc2217.PortManager` until it is ended (by its pid). A pty has no
modem lines, so the port reports them idle and ignores RTS, DTR and break instead of failing.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading

import serial
import serial.rfc2217

logger = logging.getLogger("rfc2217_bridge")


class PtyPort(serial.Serial):
    """A pyserial port on a pty: modem lines read as idle, set as no-ops (a pty has none)."""

    cts = property(lambda self: True)
    dsr = property(lambda self: True)
    ri = property(lambda self: False)
    cd = property(lambda self: True)

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass


class Redirector:
    """Shovels bytes between one TCP client and the port, through the RFC 2217 filter."""

    def __init__(self, port: serial.Serial, client: socket.socket) -> None:
        self.port = port
        self.client = client
        self.alive = True
        self._write_lock = threading.Lock()
        self.manager = serial.rfc2217.PortManager(port, self, logger=logger)

    def write(self, data: bytes) -> None:
        """What the PortManager calls to send to the client."""
        with self._write_lock:
            self.client.sendall(data)

    def serve(self) -> None:
        reader = threading.Thread(target=self._port_to_client, daemon=True)
        reader.start()
        try:
            while self.alive:
                data = self.client.recv(4096)
                if not data:
                    break
                self.port.write(b"".join(self.manager.filter(data)))
        except OSError as error:
            logger.info("client gone: %s", error)
        self.alive = False
        reader.join()

    def _port_to_client(self) -> None:
        try:
            while self.alive:
                data = self.port.read(max(1, self.port.in_waiting))
                if data:  # PortManager.escape's doubling of IAC, without its byte-at-a-time loop
                    self.write(data.replace(b"\xff", b"\xff\xff"))
        except (OSError, serial.SerialException) as error:
            logger.info("stopped relaying: %s", error)
        self.alive = False


def main(path: str) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    port = PtyPort(path, timeout=0.05)
    listener = socket.create_server(("127.0.0.1", 0))
    sys.stdout.write(f"{listener.getsockname()[1]}\n")
    sys.stdout.flush()
    while True:
        client, _ = listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with client:
            Redirector(port, client).serve()


if __name__ == "__main__":
    main(sys.argv[1])
