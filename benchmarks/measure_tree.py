"""Run a command and measure what its whole process tree costs: wall time, CPU seconds of every process in the tree
(run processes that `dagster dev` starts in sessions of their own included), and peak RSS (of one process, and of
the tree at once). /usr/bin/time misses the grandchildren that are killed rather than reaped; this samples /proc.

    .venv/bin/python benchmarks/measure_tree.py -- make demo-real

Samples every 0.5 s: a process that starts and ends between two samples is missed (none of the graph's runs is
that short). CPU is read from /proc/<pid>/stat (utime + stime of the process itself) at each process's last sample.
"""

import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _processes() -> dict[int, tuple[int, float, int, str]]:
    """pid -> (ppid, cpu seconds, rss bytes, name) of every process readable now."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                raw = handle.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        ppid, utime, stime, rss = int(fields[1]), int(fields[11]), int(fields[12]), int(fields[21])
        found[int(entry)] = (ppid, (utime + stime) / TICK, rss * PAGE, name)
    return found


class TreeSampler:
    """CPU seconds and peak RSS of a process and every process it starts, sampled while ``sample()`` is called."""

    def __init__(self, root_pid: int) -> None:
        self.tree: set[int] = {root_pid}
        self.cpu: dict[int, float] = {}
        self.peak_one = self.peak_tree = 0

    def sample(self) -> None:
        now = _processes()
        for pid, (ppid, _, _, _) in now.items():  # children of the tree join it (a fork seen at any depth)
            if ppid in self.tree:
                self.tree.add(pid)
        alive = [pid for pid in self.tree if pid in now]
        for pid in alive:
            self.cpu[pid] = now[pid][1]
        rss = [now[pid][2] for pid in alive]
        self.peak_one, self.peak_tree = max(self.peak_one, max(rss, default=0)), max(self.peak_tree, sum(rss))

    def summary(self) -> str:
        return (
            f"CPU {sum(self.cpu.values()):.0f} s over {len(self.cpu)} processes; peak RSS "
            f"{self.peak_one / 2**30:.2f} GiB in one process, {self.peak_tree / 2**30:.2f} GiB for the tree at once"
        )


def main() -> int:
    command = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    sampler = TreeSampler(process.pid)
    while process.poll() is None:
        sampler.sample()
        time.sleep(0.5)
    print(f"MEASURED wall {time.perf_counter() - started:.0f} s; {sampler.summary()}", file=sys.stderr)
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
