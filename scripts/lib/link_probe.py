#!/usr/bin/env python3
"""Probes of a NetnsCluster's links, run inside a rank's namespace (`ip netns exec`); each prints
one JSON object.

  ping ADDRESS --count N --interval S   ICMP echo round trips: {"rtt_ms": [...], "lost": n}
  receive --port P                      prints "listening", then takes one TCP connection to its
                                        end: {"bytes", "intact", "seconds"} (first byte to end)
  send ADDRESS --port P --seconds S     one TCP stream for S seconds: {"bytes"}

The stream repeats a seeded random pattern whose length (4 MiB + 4093 bytes) no TCP window and no
frame divides, and the receiver compares every byte with it ("intact"): a frame changed, lost,
doubled or reordered on the way shows.  (A hash would cost these 2 cores more than the links.)

Round trips are timed from just before the request is sent to the kernel's receive timestamp of
the reply, so this process's own scheduling delays add little.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import struct
import time

SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("qq")
ECHO_REQUEST, ECHO_REPLY = 8, 0
CHUNK = 1 << 20
PATTERN = random.Random(1).randbytes((4 << 20) + 4093)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(identifier: int, sequence: int) -> bytes:
    payload = bytes(range(48))
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, identifier, sequence)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + payload), identifier,
                       sequence) + payload


def received_at(ancillary: list) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return seconds + nanoseconds * 1e-9
    return time.time()


def await_reply(sock: socket.socket, identifier: int, sequence: int,
                deadline: float) -> float | None:
    """The receive time of echo reply `sequence`, or None when it does not come in time."""
    while (left := deadline - time.time()) > 0:
        if not select.select([sock], [], [], left)[0]:
            return None
        packet, ancillary, _, _ = sock.recvmsg(2048, socket.CMSG_SPACE(TIMESPEC.size))
        icmp = packet[(packet[0] & 0x0F) * 4:]  # after the IP header
        if len(icmp) >= 8:
            kind, _, _, got_id, got_sequence = struct.unpack_from("!BBHHH", icmp)
            if (kind, got_id, got_sequence) == (ECHO_REPLY, identifier, sequence):
                return received_at(ancillary)
    return None


def ping(address: str, count: int, interval: float) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    identifier = os.getpid() & 0xFFFF
    rtts, lost = [], 0
    for sequence in range(count):
        request = echo_request(identifier, sequence)
        sent = time.time()
        sock.sendto(request, (address, 0))
        reply = await_reply(sock, identifier, sequence, sent + 1.0)
        if reply is None:
            lost += 1
        else:
            rtts.append(round((reply - sent) * 1e3, 4))
        time.sleep(max(0.0, sent + interval - time.time()))
    return {"rtt_ms": rtts, "lost": lost}


def receive(port: int) -> dict:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(1)
    print("listening", flush=True)
    connection, _ = server.accept()
    expected = PATTERN + PATTERN[:CHUNK]  # what follows any offset into the pattern, contiguous
    buffer = memoryview(bytearray(CHUNK))
    received, intact, first = 0, True, None
    while count := connection.recv_into(buffer):
        first = first or time.monotonic()
        offset = received % len(PATTERN)
        intact = intact and buffer[:count].tobytes() == expected[offset:offset + count]
        received += count
    seconds = time.monotonic() - first if first else 0.0
    return {"bytes": received, "intact": intact, "seconds": seconds}


def send(address: str, port: int, seconds: float) -> dict:
    sent = 0
    with socket.create_connection((address, port), timeout=30) as connection:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            connection.sendall(PATTERN)
            sent += len(PATTERN)
    return {"bytes": sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    ping_parser = commands.add_parser("ping")
    ping_parser.add_argument("address")
    ping_parser.add_argument("--count", type=int, default=10)
    ping_parser.add_argument("--interval", type=float, default=0.01)
    receive_parser = commands.add_parser("receive")
    receive_parser.add_argument("--port", type=int, required=True)
    send_parser = commands.add_parser("send")
    send_parser.add_argument("address")
    send_parser.add_argument("--port", type=int, required=True)
    send_parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    if args.command == "ping":
        result = ping(args.address, args.count, args.interval)
    elif args.command == "receive":
        result = receive(args.port)
    else:
        result = send(args.address, args.port, args.seconds)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
