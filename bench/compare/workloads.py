"""Workloads shared by the side-by-side comparison scripts in bench/compare/."""
import numpy as np


def make_data(units, features, trials, seed):
    """benchmarks.md §3.3: Y standard normal (F x N); X = exp(W Y + e) (U x N), 5% of units coupled to 1-3 features."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((features, trials))
    w = np.zeros((units, features))
    coupled = rng.choice(units, size=max(1, units // 20), replace=False)
    for u in coupled:
        k = min(int(rng.integers(1, 4)), features)
        w[u, rng.choice(features, size=k, replace=False)] = rng.uniform(0.3, 1.0, size=k)
    x = np.exp(w @ y + 0.5 * rng.standard_normal((units, trials)))
    return x, y


# ---------------------------------------------------------------------------------------------
# Google Benchmark JSON and peer timing, shared by the *_vs_torch.py scripts.

GBENCH_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def gbench_iterations(doc):
    """Google Benchmark JSON (a dict) -> {name: record} of the per-iteration rows.

    The name loses a trailing "/manual_time" or "/real_time"; each record is the benchmark's dict plus
    "ms" (real_time in milliseconds). Aggregates (mean, median, ...) and rows with error_occurred
    are left out; the errored ones are returned apart as {name: error_message}.
    Raises ValueError when doc has no "benchmarks" list."""
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ValueError("not Google Benchmark JSON (no 'benchmarks' list)")
    rows, errors = {}, {}
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or "name" not in b:
            continue
        name = b["name"]
        for suffix in ("/manual_time", "/real_time"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        unit = GBENCH_UNIT_MS.get(b.get("time_unit", "ns"))
        if unit is None or "real_time" not in b:
            raise ValueError(f"benchmark '{b['name']}' has no usable real_time / time_unit")
        rows[name] = dict(b, ms=float(b["real_time"]) * unit)
    return rows, errors


def run_gbench(cmd):
    """Runs a Google Benchmark program whose cmd includes --benchmark_format=json.

    Returns (parsed JSON, stderr text). Raises FileNotFoundError / PermissionError when the program
    cannot be started, RuntimeError (with its last stderr line) when it fails or prints no JSON."""
    import json
    import subprocess
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"{cmd[0]} exited with status {proc.returncode}: {last}")
    try:
        return json.loads(proc.stdout), proc.stderr
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{cmd[0]} printed no JSON on stdout ({e})") from e


def call_times_ms(torch, fn, cuda, warmup, repeats):
    """Milliseconds of each of `repeats` calls of fn() after `warmup` calls.

    On CUDA each call is bracketed by CUDA events on the current stream (so host-side gaps between
    its kernels count, as they do in a training step); on the CPU by time.perf_counter."""
    import time
    for _ in range(warmup):
        fn()
    if cuda:
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        if cuda:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def median_ms(torch, fn, cuda, warmup, repeats):
    """Median milliseconds of fn() over `repeats` calls after `warmup` calls (call_times_ms)."""
    import statistics
    return statistics.median(call_times_ms(torch, fn, cuda, warmup, repeats))
