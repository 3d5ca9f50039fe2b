# The raw-copy limit's two ends, one process each: `receive DST` listens on 127.0.0.1 (prints its
# port), writes what arrives to DST in 4 MiB writes and fsyncs it; `send SRC PORT` reads SRC in
# 4 MiB reads and sends them. Each prints one JSON line at the end: CLOCK_MONOTONIC times (shared by
# every process of the machine) of the first byte sent / of the fsync done, bytes, and its own CPU
# seconds over the copy.
import json
import os
import resource
import socket
import sys
import time

CHUNK = 4 * 1024 * 1024


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_all(fd, view):
    while len(view) > 0:
        view = view[os.write(fd, view):]


def receive(dst):
    server = socket.create_server(('127.0.0.1', 0))
    print(server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    cpu0 = cpu()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    total = 0
    eof = False
    while not eof:
        filled = 0
        while filled < CHUNK:
            n = conn.recv_into(view[filled:])
            if n == 0:
                eof = True
                break
            filled += n
        write_all(fd, view[:filled])
        total += filled
    os.fsync(fd)
    os.close(fd)
    end = time.monotonic()
    print(json.dumps({'end': end, 'bytes': total, 'cpuSec': cpu() - cpu0}), flush=True)


def send(src, port):
    sock = socket.create_connection(('127.0.0.1', int(port)))
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    with open(src, 'rb', buffering=0) as f:
        cpu0 = cpu()
        start = time.monotonic()
        while True:
            n = f.readinto(buf)
            if not n:
                break
            sock.sendall(view[:n])
            total += n
    sock.shutdown(socket.SHUT_WR)
    sock.close()
    print(json.dumps({'start': start, 'bytes': total, 'cpuSec': cpu() - cpu0}), flush=True)


if sys.argv[1] == 'receive':
    receive(sys.argv[2])
else:
    send(sys.argv[2], sys.argv[3])
