"""What the machine is and how busy other processes keep it."""
import os
import resource
import time

CONTENDED_CORES = 0.3  # other processes' average use, in cores, above which a run is flagged


def cpu_model():
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def loadavg():
    with open("/proc/loadavg", encoding="utf-8") as f:
        return [float(x) for x in f.read().split()[:3]]


def busy_seconds():
    """CPU time all processes spent busy (user, nice, system, irq, softirq) since boot; steal is not busy."""
    with open("/proc/stat", encoding="utf-8") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_seconds():
    """CPU time of this process and of its children that have been waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class Monitor:
    """Others' CPU use = all busy time minus ours, averaged over wall time. Exact only between
    children (a running child's time is not yet ours), which is when check() is called."""

    def __init__(self):
        self.start = (time.monotonic(), busy_seconds(), own_seconds())
        self.max_load = loadavg()[0]

    def others_cores(self):
        wall0, busy0, own0 = self.start
        wall = time.monotonic() - wall0
        if wall <= 0:
            return 0.0
        return max(0.0, (busy_seconds() - busy0 - (own_seconds() - own0)) / wall)

    def check(self):
        self.max_load = max(self.max_load, loadavg()[0])
        return self.others_cores()


def idle_sample(seconds=3.0):
    """Others' CPU use while this process only sleeps."""
    monitor = Monitor()
    time.sleep(seconds)
    return monitor.check()


def describe():
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "loadavg_before": loadavg()}
