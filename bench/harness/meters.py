"""CPU seconds and peak memory of processes: what a step's per-payment CPU and RSS figures read."""

import resource
from pathlib import Path

import psutil


class CpuMeter:
    """CPU seconds of a process tree: live processes' own time plus what their parents reaped.

    For each process: user + system + children_user + children_system, summed over the
    root and every live descendant. A child that exits moves its time into its parent's
    children_* counters, so short-lived processes (pgbench's backends) are not lost.
    ``keep`` filters descendants (a shared PostgreSQL: only this database's sessions).
    """

    def __init__(self, root_pid, keep=None):
        self.root_pid = root_pid
        self.keep = keep

    def processes(self):
        try:
            root = psutil.Process(self.root_pid)
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        if self.keep is not None:
            children = [c for c in children if self._keep(c)]
        return [root, *children]

    def _keep(self, process):
        try:
            return self.keep(process)
        except psutil.Error:
            return False

    def seconds(self):
        total = 0.0
        for process in self.processes():
            try:
                t = process.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total


def children_cpu():
    """CPU seconds of this process's finished children (wrk, pgbench)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy():
    """CPU seconds the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


def vm_hwm_kib(pid):
    """Peak resident set size of a process since it started (VmHWM), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mib(pids):
    """Peak RSS per process in MiB, keyed by pid as text (0 for a process already gone)."""
    return {str(pid): round((vm_hwm_kib(pid) or 0) / 1024, 1) for pid in pids}
