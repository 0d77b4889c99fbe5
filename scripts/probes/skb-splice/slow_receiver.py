"""Sends as fast as it can, for SECONDS or until CAP_MIB, through PORT to a receiver that reads
64 KiB every 10 ms, and prints what was sent and how far the machine's MemAvailable fell: with TCP's
flow control end to end, the sender is held back; without it, the bytes pile up in the kernel."""
import socket
import sys
import threading
import time

port, receiver_port, seconds, cap_mib = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])


def mem_available_kib():
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", receiver_port))
server.listen(1)


def receive_slowly():
    conn, _ = server.accept()
    while conn.recv(65536):
        time.sleep(0.01)


threading.Thread(target=receive_slowly, daemon=True).start()
before = mem_available_kib()
sender = socket.create_connection(("127.0.0.1", port))
sender.setblocking(False)
chunk, sent, start, lowest = b"x" * 65536, 0, time.monotonic(), before
while time.monotonic() - start < seconds and sent < cap_mib << 20:
    try:
        sent += sender.send(chunk)
    except BlockingIOError:
        time.sleep(0.001)
    lowest = min(lowest, mem_available_kib()) if sent % (16 << 20) < 65536 else lowest
lowest = min(lowest, mem_available_kib())
print(f"{sent / 2**20:.0f} MiB sent in {time.monotonic() - start:.1f} s, MemAvailable fell {(before - lowest) / 1024:.0f} MiB")
