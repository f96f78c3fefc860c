"""What a process group is doing, read from /proc: its members and the sockets they listen on."""

import os
import socket

from lab.processes import pids

TCP_LISTEN = "0A"


def group_members(pgid: int) -> list[int]:
    members = []
    for pid in pids():
        entry = str(pid)
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # the command name may contain spaces; the fields after it do not
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    # IPv6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def listening_sockets(pgid: int) -> list[tuple[str, str, int]]:
    """(protocol, address, port) of every TCP socket listening, and every UDP
    socket bound, by a member of the process group."""
    inodes = set().union(*(socket_inodes(pid) for pid in group_members(pgid)))
    found = []
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{protocol}") as table:
            for line in list(table)[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], int(parts[9])
                if inode in inodes and (protocol.startswith("udp") or state == TCP_LISTEN):
                    found.append((protocol, *_address(local)))
    return found
