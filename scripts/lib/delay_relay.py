#!/usr/bin/env python3
"""A switch with a propagation delay, in user space, for kernels without netem (NetnsCluster
starts it in place of its bridge).  It holds a raw AF_PACKET socket on each switch-side veth
end: a frame a host sends arrives there, waits its port's delay, and leaves by the port of the
host that owns its destination MAC address (learnt from the source addresses it sees;
broadcast, multicast and unknown addresses go to every other port).  Leaving by a veth end goes
through that end's egress qdisc, so the download's tbf shapes it as it shaped the bridge's.

Packet rate: the sockets exchange GSO super-frames (PACKET_VNET_HDR, a virtio_net_hdr before
each frame) as the veths carry them, up to 64 KiB of TCP segments in one frame with its
checksum left to the receiver's side, so a Python loop moves 1 Gbit/s in ~2000 frames a second.

Timing: a frame is due at its kernel arrival time (SO_TIMESTAMPNS, taken as the veth delivers
it) plus its port's delay, so that the time the relay takes to read it is not added; frames from
one port never overtake each other.  The relay runs at real-time priority where it may (like the
kernel's own forwarding, it must not wait for a core behind the ranks) and sleeps in select()
until the next frame is due, with no timer slack.

Usage: delay_relay.py --parent PID DEVICE:DELAY_MS ...  It prints "ready" and its scheduling
("realtime", "nice -10" or "normal") once every socket is bound, ends with its parent (or SIGTERM) and ignores SIGINT (the parent's cleanup ends it).
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import heapq
import itertools
import os
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23  # our own sends would come back as PACKET_OUTGOING otherwise
SO_TIMESTAMPNS = 35
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
PR_SET_PDEATHSIG, PR_SET_TIMERSLACK = 1, 29
VNET_HDR_BYTES = 10  # struct virtio_net_hdr
FRAME_BUFFER = 256 << 10  # above the largest GSO frame a veth passes on (64 KiB)
SOCKET_BUFFER = 16 << 20  # bytes queued in the kernel per socket while the relay is busy
TIMESPEC = struct.Struct("qq")
DEVICE_GONE = {errno.ENETDOWN, errno.ENODEV, errno.ENXIO}  # the cluster is being removed


@dataclass
class Port:
    device: str
    delay_s: float  # added to what arrives here (what the port's host sends)
    sock: socket.socket
    last_due: float = 0.0  # frames of one port leave in the order they came


def open_port(device: str, delay_ms: float) -> Port:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, SOCKET_BUFFER)
    sock.bind((device, ETH_P_ALL))
    sock.setblocking(False)
    return Port(device, delay_ms / 1e3, sock)


def arrival_time(ancillary: list, read_at: float) -> float:
    """The kernel's receive timestamp (CLOCK_REALTIME), or the time it was read when absent."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return seconds + nanoseconds * 1e-9
    return read_at


class Relay:
    def __init__(self, ports: list[Port]) -> None:
        self.ports = ports
        self.by_socket = {port.sock: index for index, port in enumerate(ports)}
        self.owner: dict[bytes, int] = {}  # MAC address -> the port its host is on
        self.pending: list[tuple[float, int, int, bytes]] = []  # (due, order, port, frame)
        self.order = itertools.count()

    def run(self) -> None:
        sockets = [port.sock for port in self.ports]
        while True:
            timeout = max(0.0, self.pending[0][0] - time.time()) if self.pending else None
            readable, _, _ = select.select(sockets, [], [], timeout)
            for sock in readable:
                self.read(self.by_socket[sock])
            self.send_due()

    def read(self, index: int) -> None:
        """Queues every frame waiting on port `index`."""
        port = self.ports[index]
        ancillary_bytes = socket.CMSG_SPACE(TIMESPEC.size)
        while True:
            try:
                frame, ancillary, flags, _ = port.sock.recvmsg(FRAME_BUFFER, ancillary_bytes)
            except BlockingIOError:
                return
            read_at = time.time()
            if flags & socket.MSG_TRUNC or len(frame) < VNET_HDR_BYTES + 14:
                continue
            # Counted from the kernel's timestamp, the wait to be read is not added; trusted only
            # within the last delay, a clock step cannot hold a frame longer than that.
            due = min(read_at, max(arrival_time(ancillary, read_at), read_at - port.delay_s))
            due = max(due + port.delay_s, port.last_due)
            port.last_due = due
            source_mac = frame[VNET_HDR_BYTES + 6:VNET_HDR_BYTES + 12]
            if not source_mac[0] & 1:
                self.owner[source_mac] = index
            heapq.heappush(self.pending, (due, next(self.order), index, frame))

    def send_due(self) -> None:
        now = time.time()
        while self.pending and self.pending[0][0] <= now:
            _, _, source, frame = heapq.heappop(self.pending)
            for index in self.destinations(frame, source):
                try:
                    self.ports[index].sock.send(frame)
                except OSError as error:  # a full queue drops the frame, as a switch does
                    if error.errno in DEVICE_GONE:
                        raise
            now = time.time()

    def destinations(self, frame: bytes, source: int) -> list[int]:
        destination_mac = frame[VNET_HDR_BYTES:VNET_HDR_BYTES + 6]
        owner = self.owner.get(destination_mac)
        if owner is not None and not destination_mac[0] & 1:
            return [] if owner == source else [owner]
        return [index for index in range(len(self.ports)) if index != source]


def prepare_process(parent: int) -> str:
    """Ends with the parent, leaves Ctrl-C to it, and waits for no core and no timer slack;
    returns the scheduling it got ("realtime", "nice -10" or "normal")."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the line above
        sys.exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "realtime"
    except PermissionError:
        pass
    try:
        os.nice(-10)
        return "nice -10"
    except PermissionError:
        return "normal"


def parse_port(text: str) -> tuple[str, float]:
    device, _, delay = text.rpartition(":")
    if not device or float(delay) < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not DEVICE:DELAY_MS")
    return device, float(delay)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parent", type=int, required=True, help="end when this process ends")
    parser.add_argument("ports", nargs="+", type=parse_port, metavar="DEVICE:DELAY_MS")
    args = parser.parse_args()
    scheduling = prepare_process(args.parent)
    relay = Relay([open_port(device, delay) for device, delay in args.ports])
    print(f"ready {scheduling}", flush=True)
    try:
        relay.run()
    except OSError as error:
        if error.errno in DEVICE_GONE:
            return 0
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
