"""What the benchmarks read about their own processes and ports (standard library only): a free loopback
port, a process's CPU ticks and its resident memory from /proc. Shared by perf/bench.py and
perf/cluster/bench.py."""
import os
import socket

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" of comm, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    return int(fields[11]) + int(fields[12])


def status_kb(pid, key):
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM, ...); None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None
