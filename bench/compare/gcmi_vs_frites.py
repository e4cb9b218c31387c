#!/usr/bin/env python3
"""deeper-mi cc against frites (mi_nd_gg) on the same data, side by side on this machine.

Workload (../shared/reference/benchmarks.md §3.3): Y is F x N standard normal; X = exp(W Y + e),
U x N, with 5% of units coupled to 1-3 features. Both implementations compute the bias-corrected
U x F GCMI matrix (bits) from the same .npy files; frites runs copnorm_nd once, then mi_nd_gg on
arrays tiled to (U*F, 1, N), which is its element-wise API and what its workflow does per
permutation. For permutations, deeper runs all P in one job and frites is timed on one permutation
(a permuted copy of Y, re-tiled), then extrapolated to P.

Usage: bench/compare/gcmi_vs_frites.py --deeper-mi build/release/apps/deeper-mi/deeper-mi
           [--units 2000] [--features 16] [--trials 500] [--perm 100] [--repeats 3] [--json out.json]
           [--precision auto|f64|f32] [--frites-units K]
--frites-units runs frites on the first K units only and scales its time by U / K (its cost is
linear in the number of pairs), for sizes whose tiled arrays would not fit in memory.
Needs numpy and frites (pip install frites); not part of the test run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from workloads import make_data


def run_deeper(binary, xpath, ypath, out, perm, seed, precision):
    cmd = [binary, "cc", xpath, ypath, "-o", out, "--quiet", "--seed", str(seed), "--precision", precision]
    if perm:
        cmd += ["--perm", str(perm), "--stats", "pvalues"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def frites_mi(x, y):
    from frites.core import copnorm_nd, mi_nd_gg
    units, trials = x.shape
    features = y.shape[0]
    start = time.perf_counter()
    cx = copnorm_nd(x, axis=-1)
    cy = copnorm_nd(y, axis=-1)
    copnorm_s = time.perf_counter() - start
    xt = np.repeat(cx, features, axis=0)[:, None, :]
    yt = np.tile(cy, (units, 1))[:, None, :]
    start = time.perf_counter()
    mi = mi_nd_gg(xt, yt, mvaxis=-2, traxis=-1, biascorrect=True, demeaned=True)
    mi_s = time.perf_counter() - start
    return mi.reshape(units, features), copnorm_s, mi_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deeper-mi", required=True)
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--features", type=int, default=16)
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--perm", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--frites-units", type=int, default=0)
    a = ap.parse_args()

    x, y = make_data(a.units, a.features, a.trials, a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        xpath, ypath = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(xpath, x.T.copy())  # trials first
        np.save(ypath, y.T.copy())
        out = os.path.join(tmp, "mi.npy")
        run_deeper(a.deeper_mi, xpath, ypath, out, 0, a.seed, a.precision)  # warm-up
        deeper_s = sorted(run_deeper(a.deeper_mi, xpath, ypath, out, 0, a.seed, a.precision) for _ in range(a.repeats))
        mi_deeper = np.load(out)
        deeper_perm_s = run_deeper(a.deeper_mi, xpath, ypath, out, a.perm, a.seed, a.precision) if a.perm else None

    k = a.frites_units if 0 < a.frites_units < a.units else a.units
    scale = a.units / k
    frites_mi(x[:8], y)  # warm-up (imports, first-call costs)
    runs = [frites_mi(x[:k], y) for _ in range(a.repeats)]
    mi_frites = runs[0][0]
    frites_s = sorted(scale * (c + m) for _, c, m in runs)
    frites_mi_only = sorted(scale * m for _, _, m in runs)
    mi_deeper = mi_deeper[:k]

    pairs = a.units * a.features
    med = lambda v: v[len(v) // 2]
    result = {
        "units": a.units, "features": a.features, "trials": a.trials, "permutations": a.perm,
        "precision": a.precision, "frites_units_run": k,
        "deeper_s": med(deeper_s), "frites_s": med(frites_s),
        "speedup_no_perm": med(frites_s) / med(deeper_s),
        "max_abs_diff_bits": float(np.max(np.abs(mi_deeper - mi_frites))),
        "deeper_pair_trials_per_s": pairs * a.trials / med(deeper_s),
        "frites_pair_trials_per_s": pairs * a.trials / med(frites_s),
    }
    if a.perm:
        # frites per permutation = one more mi_nd_gg on permuted, re-tiled data (copnorm once).
        frites_perm_s = med(frites_s) + a.perm * med(frites_mi_only)
        result.update({
            "deeper_perm_s": deeper_perm_s,
            "frites_perm_s_extrapolated": frites_perm_s,
            "speedup_perm": frites_perm_s / deeper_perm_s,
            "deeper_pair_trials_per_s_perm": pairs * a.trials * (a.perm + 1) / deeper_perm_s,
        })
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
