"""Modbus RTU master over a shared serial port (functions 03, 06 and 16).

Just enough Modbus for temperature controllers: read holding registers (03),
write one register (06), write several registers (16).  Frames are
``address, function, data..., CRC-16`` with the CRC (polynomial 0xA001
reflected, initial value 0xFFFF) sent low byte first.

Design decisions
----------------
* **One lock per port**: every request-then-reply runs under ``port.lock``, so
  several controllers on one RS-485 line (different addresses) never interleave.
* **Length-driven reads**: the reply length follows from its first three bytes
  (``03`` → byte count + 5, ``06``/``16`` → 8, exception → 5), so a read never
  waits for the 3.5-character silence a real Modbus master uses; each read has a
  timeout and a silent slave raises :class:`InstrumentTimeout`.
* **Retries only for reads**: a read (03) that times out or arrives garbled is
  repeated up to ``retries`` times; writes are never repeated automatically, as
  a write may have been executed even when its reply was lost.
* **Exception replies** (function | 0x80, code) raise
  :class:`InstrumentRejected` with the Modbus meaning of the code.
* A reply with a wrong CRC, address or function raises :class:`ProtocolError`;
  the stale bytes are discarded before the next request (the port clears its
  input buffer on write).
"""

from __future__ import annotations

import struct

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    ProtocolError,
)

READ_HOLDING = 0x03
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10

EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address (no such register on this model)",
    3: "illegal data value (out of range, or not writable in this mode)",
    4: "slave device failure",
    5: "acknowledge (command accepted, still processing)",
    6: "slave device busy",
}


def crc16(data: bytes) -> bytes:
    """Modbus CRC-16 of ``data``, as the two bytes sent on the wire (low byte first)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def frame(address: int, pdu: bytes) -> bytes:
    """A complete RTU frame: address + PDU + CRC."""
    body = bytes([address]) + pdu
    return body + crc16(body)


class ModbusRtu:
    """Modbus RTU master for one slave address on a shared :class:`SerialPort`.

    Parameters
    ----------
    port : SerialPort
        From :func:`photoreactor.devices.common.transport.open_serial` (or a test fake).
    address : int
        Slave address 1–247.
    name : str
        Device name used in errors.
    timeout_s : float
        Read timeout for each reply (wall seconds, like any serial timeout).
    retries : int
        Extra attempts for reads after a timeout or garbled reply.
    """

    def __init__(self, port, address: int, *, name: str = "modbus", timeout_s: float = 0.5,
                 retries: int = 2):
        if not 1 <= int(address) <= 247:
            raise ValueError(f"{name}: Modbus address must be 1–247, not {address!r}")
        self.port = port
        self.address = int(address)
        self.name = name
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)

    # -- public operations -------------------------------------------------
    def read_registers(self, start: int, count: int) -> list[int]:
        """Read ``count`` holding registers from ``start`` (function 03), as unsigned ints."""
        if not 1 <= count <= 125:
            raise ValueError(f"{self.name}: can read 1–125 registers at once, not {count}")
        pdu = struct.pack(">BHH", READ_HOLDING, start, count)
        reply = self._with_retries(lambda: self._transact(pdu, READ_HOLDING))
        nbytes = reply[2]
        if nbytes != 2 * count:
            raise ProtocolError(self.name, f"asked for {count} register(s) at {start}, reply "
                                f"carries {nbytes} bytes", [(frame(self.address, pdu), reply)])
        return list(struct.unpack(f">{count}H", reply[3:3 + nbytes]))

    def write_register(self, register: int, value: int) -> None:
        """Write one register (function 06); the reply must echo the request."""
        pdu = struct.pack(">BHH", WRITE_SINGLE, register, value & 0xFFFF)
        reply = self._transact(pdu, WRITE_SINGLE)
        if reply[1:6] != pdu:
            raise ProtocolError(self.name, f"write of register {register} not echoed",
                                [(frame(self.address, pdu), reply)])

    def write_registers(self, start: int, values: list[int]) -> None:
        """Write consecutive registers (function 16); the reply echoes start and count."""
        data = b"".join(struct.pack(">H", v & 0xFFFF) for v in values)
        pdu = struct.pack(">BHHB", WRITE_MULTIPLE, start, len(values), len(data)) + data
        reply = self._transact(pdu, WRITE_MULTIPLE)
        if reply[1:6] != pdu[:5]:
            raise ProtocolError(self.name, f"write of {len(values)} register(s) at {start} "
                                f"not acknowledged", [(frame(self.address, pdu), reply)])

    # -- plumbing -----------------------------------------------------------
    def _with_retries(self, attempt):
        last = None
        for _ in range(self.retries + 1):
            try:
                return attempt()
            except (InstrumentTimeout, ProtocolError) as exc:
                last = exc
        raise last

    def _transact(self, pdu: bytes, function: int) -> bytes:
        request = frame(self.address, pdu)
        dev, t = self.name, self.timeout_s
        with self.port.lock:
            self.port.write(request, device=dev)
            head = self.port.read_exact(3, timeout=t, device=dev, request=request)
            if head[1] & 0x80:
                rest_len = 2
            elif head[1] == READ_HOLDING:
                rest_len = head[2] + 2
            elif head[1] in (WRITE_SINGLE, WRITE_MULTIPLE):
                rest_len = 5
            else:
                raise ProtocolError(dev, f"reply with unexpected function 0x{head[1]:02x}",
                                    [(request, head)])
            reply = head + self.port.read_exact(rest_len, timeout=t, device=dev, request=request)
        if crc16(reply[:-2]) != reply[-2:]:
            raise ProtocolError(dev, "reply failed its CRC check (line noise or wrong baud "
                                "rate/parity)", [(request, reply)])
        if reply[0] != self.address:
            raise ProtocolError(dev, f"reply from address {reply[0]}, expected {self.address}",
                                [(request, reply)])
        if reply[1] == function | 0x80:
            code = reply[2]
            meaning = EXCEPTION_CODES.get(code, "unknown exception code")
            raise InstrumentRejected(dev, f"Modbus exception {code} ({meaning})",
                                     [(request, reply)])
        if reply[1] != function:
            raise ProtocolError(dev, f"reply to function 0x{function:02x} carries function "
                                f"0x{reply[1]:02x}", [(request, reply)])
        return reply
