"""Driver for scripts/bench-kernels (run it through that script, which sets up the venv).

    bench_kernels.py KERNELBENCH                  run everything, print the table
    bench_kernels.py numpy THREADS M N K          one numpy measurement (internal)

Every measurement runs in its own process: ours through the `kernelbench` executable, numpy
through this file with OPENBLAS_NUM_THREADS set. Each prints one line
"name<TAB>threads<TAB>best GFLOP/s<TAB>median GFLOP/s<TAB>repetitions" after verifying its
result. Around each process we read /proc/stat and our children's CPU time: whatever else the
machine did meanwhile is reported as "other load" (in cores) and rows above 0.2 are flagged.
"""
import os
import resource
import subprocess
import sys
import time

# (M, N, K): C (M, N) = A (M, K) * B (K, N).
SHAPES = [
    (1024, 1024, 1024),
    (32, 1024, 384),
    (32, 2048, 768),
    (2048, 8000, 256),
    (32, 1024, 256),
    (1, 1024, 256),
]
THREADS = [1, 2]
CONTENDED = 0.2  # cores' worth of other processes' CPU time during a measurement


def numpy_measure(threads, m, n, k):
    import numpy as np

    rng = np.random.default_rng(42)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = a @ b
    rows = rng.integers(0, m, 256)
    cols = rng.integers(0, n, 256)
    want = np.einsum("ij,ji->i", a[rows].astype(np.float64), b[:, cols].astype(np.float64))
    err = np.abs(c[rows, cols] - want) / (1 + np.abs(want))
    if not (err.max() <= 1e-4 * max(1, k / 1024)):
        print(f"numpy verification failed: {err.max()}")
        sys.exit(1)
    # Same policy as kernelbench: one warm-up, then until 0.6 s (at least 3, at most 2000: a
    # product of 0.1 ms is timed over the whole 0.6 s, not over 5 ms that a moment of the
    # shared machine can spoil).
    np.matmul(a, b, out=c)
    times = []
    start = time.perf_counter()
    while len(times) < 2000 and (len(times) < 3 or time.perf_counter() - start < 0.6):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    times.sort()
    flops = 2.0 * m * n * k
    print(f"numpy {m}x{k}x{n}\t{threads}\t{flops / times[0] * 1e-9}\t"
          f"{flops / times[len(times) // 2] * 1e-9}\t{len(times)}")


def cpu_jiffies():
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def measure(cmd, env=None):
    """Runs one measurement process; returns (its stdout, other processes' load in cores)."""
    hz = os.sysconf("SC_CLK_TCK")
    busy0, total0 = cpu_jiffies()
    own0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    busy1, total1 = cpu_jiffies()
    own1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")
    own = (own1.ru_utime - own0.ru_utime) + (own1.ru_stime - own0.ru_stime)
    return out.stdout, max(0.0, (busy1 - busy0) / hz - own) / wall


def run(cmd, env=None):
    """Runs one measurement; returns (name, threads, best, median, n, other_load_cores)."""
    stdout, other = measure(cmd, env)
    name, threads, best, median, n = stdout.strip().splitlines()[-1].split("\t")
    return name, int(threads), float(best), float(median), int(n), other


def cpu_name():
    """Model name plus family/model numbers (virtual machines often hide the exact model:
    family 23 is Zen 1/2, 25 is Zen 3/4, 6 is Intel)."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    return (f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')}, "
            f"model {info.get('model', '?')})")


def vector_level():
    """The -march level Package.swift picks: VECTOR_ISA, else x86-64-v4 on a machine with
    AVX-512 (F, BW, CD, DQ, VL), else x86-64-v3."""
    if os.environ.get("VECTOR_ISA"):
        return os.environ["VECTOR_ISA"]
    flags = next((line.split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    wanted = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    return "x86-64-v4" if wanted <= set(flags) else "x86-64-v3"


def main(kernelbench):
    import numpy as np
    import threadpoolctl

    blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    blas_desc = ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                          for i in blas) or "unknown"
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs")
    print(f"loadavg before: {open('/proc/loadavg').read().split()[:3]}")
    print(f"ours: kernelbench, swift build -c release (Kernels: -Xcc -march={vector_level()}, -Ounchecked)")
    print(f"peer: numpy {np.__version__}, BLAS {blas_desc}; threads via OPENBLAS_NUM_THREADS")
    print("timing: best and median GFLOP/s over N runs after one warm-up (N: until 0.6 s, 3..2000)")
    print()

    peak = {}
    rows = []
    for threads in THREADS:
        name, _, best, median, n, other = run([kernelbench, "peak", str(threads)])
        peak[threads] = best
        rows.append((f"FMA peak (register-only)", threads, (best, median, n), None, other))
        for m, n_, k in SHAPES:
            ours = run([kernelbench, "gemm", str(threads), str(m), str(n_), str(k)])
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
            peer = run([sys.executable, __file__, "numpy", str(threads), str(m), str(n_), str(k)], env)
            rows.append((f"{m}x{k} * {k}x{n_}", threads, ours[2:5], peer[2:5], max(ours[5], peer[5])))

    header = (f"{'product (MxK * KxN)':<26}{'thr':>4}  {'ours best (med, N)':>22} {'%peak':>6}  "
              f"{'numpy best (med, N)':>22} {'%peak':>6}  {'other load':>10}  {'ours/numpy':>10}")
    print(header)
    print("-" * len(header))
    contended = False
    for label, threads, ours, peer, other in rows:
        flag = "*" if other > CONTENDED else " "
        contended |= other > CONTENDED
        o = f"{ours[0]:7.1f} ({ours[1]:6.1f}, {ours[2]:2d})"
        op = f"{100 * ours[0] / peak[threads]:5.0f}%"
        if peer is None:
            print(f"{label:<26}{threads:>4}  {o:>22} {op:>6}  {'':>22} {'':>6}  {other:9.2f}{flag}  {'':>10}")
            continue
        p = f"{peer[0]:7.1f} ({peer[1]:6.1f}, {peer[2]:2d})"
        pp = f"{100 * peer[0] / peak[threads]:5.0f}%"
        print(f"{label:<26}{threads:>4}  {o:>22} {op:>6}  {p:>22} {pp:>6}  {other:9.2f}{flag}  "
              f"{ours[0] / peer[0]:10.2f}")
    print()
    print(f"loadavg after: {open('/proc/loadavg').read().split()[:3]}")
    if contended:
        print(f"* contended: other processes used more than {CONTENDED} cores on average during "
              "that row; its figures are unreliable")
    print("GFLOP/s = 2*M*N*K / time; %peak = best / FMA peak on the same thread count; "
          "ratio = best / best")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "numpy":
        numpy_measure(*[int(x) for x in sys.argv[2:]])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
