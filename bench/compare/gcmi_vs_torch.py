#!/usr/bin/env python3
"""deeper-mi cc on the GPU against the PyTorch GEMM baseline, side by side on the same .npy inputs.

The baseline is ../shared/reference/benchmarks.md §3.3 "PyTorch/CuPy GEMM baseline (GPU)" for
univariate cc with P permutations:
  1. ranks by a stable argsort per row; 2. scatter the table t_k = Phi^-1(k / (N + 1)) (float64 on
  the host, then the GEMM dtype); 3. the same for Y; 4. R = (Zx.bf16 @ Zy.bf16^T).float() / S_N with
  S_N from the same rounded table; 5. MI = -0.5 log2(1 - R^2) - c(N).
  Permutations: the permuted Zy rows are stacked in chunks (C permutations -> C*F rows), the units
  are chunked, and only the running amax over units per (permutation, feature) and the exceedance
  counts per pair are kept (T = r^2, monotone in MI).
Timed with CUDA events after a warm-up on the same shapes (median, p10, p90 of --repeats).
deeper-mi runs `cc --device cuda --precision bf16|f32 --perm P --stats pvalues` on the same files;
its time is the process wall time (file reads, copnorm, H2D, kernels, D2H, writes), the median of
--repeats after one warm-up run.

Reported (JSON on stdout, also --json FILE): pair-trials/s = U*F*N*(P+1)/t for both and their
ratio; max |dMI| between them; p-value agreement. deeper-mi draws its permutations from its own
Philox generator (kernels/gcmi/permutations.h), which this script does not reproduce: unless
--perm-file gives the torch side deeper's P x N int32 indices, the p-values are compared as two
Monte-Carlo estimates of the same p (max |dp|, the fraction within 4 binomial SDs, and agreement of
the decisions p <= alpha among pairs whose p is farther than 4 SDs from alpha).

Usage (GPU machine, no network; torch and numpy needed, CuPy not used):
  bench/compare/gcmi_vs_torch.py --deeper-mi build/release/apps/deeper-mi/deeper-mi \
      [--units 65536] [--features 64] [--trials 1000] [--perm 1000] [--precision bf16|f32]
      [--repeats 5] [--seed 7] [--perm-file PERMS.npy] [--json out.json]
  bench/compare/gcmi_vs_torch.py --dry-run [--deeper-mi ...]
--dry-run: a tiny size (U 64, F 4, N 100, P 20) with torch on the CPU (float32 matmul) and
deeper-mi (if given) on --device cpu, to check the script without a GPU. Exits 2 with a message
when torch is not importable (it is large; this script never installs it).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from workloads import make_data


def torch_baseline(torch, x, y, perms, dtype, device, unit_chunk, perm_chunk):
    """The GEMM baseline; returns (MI (U, F), exceed (U, F), null max MI (P,)) as torch tensors."""
    units, n = x.shape
    features = y.shape[0]
    k = torch.arange(1, n + 1, dtype=torch.float64, device=device)
    table = torch.special.ndtri(k / (n + 1)).to(dtype)
    s_n = float((table.double() ** 2).sum())
    c_n = float(torch.special.digamma(torch.tensor((n - 1) / 2, dtype=torch.float64))
                - torch.special.digamma(torch.tensor((n - 2) / 2, dtype=torch.float64))) / (2 * math.log(2))

    def copnorm(a):
        order = torch.argsort(a, dim=1, stable=True)
        z = torch.empty(a.shape, dtype=dtype, device=device)
        z.scatter_(1, order, table.expand(a.shape[0], n))
        return z

    zx, zy = copnorm(x), copnorm(y)
    r = (zx @ zy.T).float() / s_n
    r2_obs = r * r
    mi = -0.5 * torch.log2(torch.clamp(1 - r2_obs, min=2.0 ** -24)) - c_n
    num_perm = perms.shape[0]
    exceed = torch.zeros((units, features), dtype=torch.int32, device=device)
    max_r2 = torch.zeros((num_perm,), dtype=torch.float32, device=device)
    for p0 in range(0, num_perm, perm_chunk):
        pc = perms[p0:p0 + perm_chunk]                       # (C, N)
        zy_p = zy[:, pc].permute(1, 0, 2).reshape(-1, n)       # (C*F, N): y o pi for each permutation
        chunk_max = torch.zeros((pc.shape[0], features), dtype=torch.float32, device=device)
        for u0 in range(0, units, unit_chunk):
            rp = (zx[u0:u0 + unit_chunk] @ zy_p.T).float() / s_n
            r2p = (rp * rp).view(rp.shape[0], pc.shape[0], features)  # (Uc, C, F)
            exceed[u0:u0 + unit_chunk] += (r2p >= r2_obs[u0:u0 + unit_chunk, None, :]).sum(1, dtype=torch.int32)
            chunk_max = torch.maximum(chunk_max, r2p.amax(0))
        max_r2[p0:p0 + pc.shape[0]] = chunk_max.amax(1)
    null_max = -0.5 * torch.log2(torch.clamp(1 - max_r2, min=2.0 ** -24)) - c_n
    return mi, exceed, null_max


def timed(torch, fn, repeats, cuda):
    """Median, p10, p90 seconds of fn() after one warm-up; CUDA events on the GPU."""
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * (len(times) - 1) + 0.5))]
    return out, {"median_s": pick(0.5), "p10_s": pick(0.1), "p90_s": pick(0.9)}


def run_deeper(binary, xpath, ypath, tmp, device, precision, perm, seed, repeats):
    out = os.path.join(tmp, "mi.npy")
    stats = os.path.join(tmp, "stats")
    cmd = [binary, "cc", xpath, ypath, "-o", out, "--quiet", "--device", device, "--precision", precision,
           "--seed", str(seed), "--perm", str(perm), "--stats", "pvalues", "--out-dir", stats]
    subprocess.run(cmd, check=True)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append(time.perf_counter() - t0)
    times.sort()
    # One more run with --verbose for deeper-mi's own phase timings (read, upload, copnorm, kernel, ...).
    verbose = subprocess.run([c for c in cmd if c != "--quiet"] + ["--verbose"], check=True, capture_output=True,
                             text=True)
    phases = [line for line in verbose.stderr.splitlines() if " s," in line or "s, write outputs" in line]
    result = {"phases": phases, "mi": np.load(out), "median_s": times[len(times) // 2], "p10_s": times[0], "p90_s": times[-1],
              "command": " ".join(cmd)}
    if perm:
        result["p"] = np.load(os.path.join(stats, "p_values.npy"))
        result["null_max"] = np.load(os.path.join(stats, "null_max.npy"))
    return result


def compare_p(p_a, p_b, perm, alpha, same_permutations):
    d = np.abs(p_a - p_b)
    out = {"max_abs_dp": float(d.max())}
    if same_permutations:
        out["identical_fraction"] = float(np.mean(d < 0.5 / (perm + 1)))
        return out
    p = np.clip((p_a + p_b) / 2, 1.0 / (perm + 1), 1.0)
    sd = np.sqrt(p * (1 - p) / perm + 1e-30)
    out["within_4sd_fraction"] = float(np.mean(d <= 4 * sd + 1.0 / (perm + 1)))
    clear = np.abs(p - alpha) > 4 * sd
    out["decisions_agree_clear_pairs"] = float(np.mean((p_a[clear] <= alpha) == (p_b[clear] <= alpha))) if clear.any() else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deeper-mi")
    ap.add_argument("--units", type=int, default=65536)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--perm", type=int, default=1000)
    ap.add_argument("--precision", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--perm-file", help="P x N int32 .npy of permutation indices for the torch side")
    ap.add_argument("--unit-chunk", type=int, default=16384)
    ap.add_argument("--perm-chunk", type=int, default=16)
    ap.add_argument("--json")
    ap.add_argument("--dry-run", action="store_true", help="tiny size, torch on the CPU, deeper-mi --device cpu")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("gcmi_vs_torch.py: PyTorch is not importable here; run it on the GPU machine (PyTorch 2.x) "
              "or in an environment with torch installed (this script never installs it)", file=sys.stderr)
        return 2

    cuda = not a.dry_run
    if cuda and not torch.cuda.is_available():
        print("gcmi_vs_torch.py: no CUDA device visible to PyTorch; use --dry-run for the CPU check", file=sys.stderr)
        return 2
    if a.dry_run:
        a.units, a.features, a.trials, a.perm, a.repeats = 64, 4, 100, 20, 2
    device = torch.device("cuda" if cuda else "cpu")
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[a.precision] if cuda else torch.float32

    x, y = make_data(a.units, a.features, a.trials, a.seed)
    if a.perm_file:
        perms_np = np.load(a.perm_file).astype(np.int64)
        if perms_np.shape != (a.perm, a.trials):
            print(f"gcmi_vs_torch.py: {a.perm_file} has shape {perms_np.shape}, expected ({a.perm}, {a.trials})", file=sys.stderr)
            return 2
    else:
        rng = np.random.default_rng(a.seed + 1)
        perms_np = np.stack([rng.permutation(a.trials) for _ in range(a.perm)]) if a.perm else np.zeros((0, a.trials), np.int64)
    xt = torch.tensor(x, dtype=torch.float32, device=device)
    yt = torch.tensor(y, dtype=torch.float32, device=device)
    perms = torch.tensor(perms_np, dtype=torch.int64, device=device)
    (mi_t, exceed_t, null_max_t), torch_time = timed(
        torch, lambda: torch_baseline(torch, xt, yt, perms, dtype, device, a.unit_chunk, a.perm_chunk), a.repeats, cuda)
    pair_trials = a.units * a.features * a.trials * (a.perm + 1)
    result = {
        "units": a.units, "features": a.features, "trials": a.trials, "permutations": a.perm,
        "precision": a.precision if cuda else "f32 (cpu dry run)", "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch_version": torch.__version__, "torch": torch_time,
        "torch_pair_trials_per_s": pair_trials / torch_time["median_s"],
    }
    if a.deeper_mi:
        with tempfile.TemporaryDirectory() as tmp:
            xpath, ypath = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
            np.save(xpath, np.ascontiguousarray(x.T))  # trials first
            np.save(ypath, np.ascontiguousarray(y.T))
            d = run_deeper(a.deeper_mi, xpath, ypath, tmp, "cuda" if cuda else "cpu",
                           a.precision if cuda else "f32", a.perm, a.seed, a.repeats)
        mi_torch = mi_t.double().cpu().numpy()
        result.update({
            "deeper_command": d["command"],
            "deeper": {k: d[k] for k in ("median_s", "p10_s", "p90_s")},
            "deeper_phases": d["phases"],
            "deeper_pair_trials_per_s": pair_trials / d["median_s"],
            "deeper_over_torch": torch_time["median_s"] / d["median_s"],
            "max_abs_dmi_bits": float(np.max(np.abs(d["mi"] - mi_torch))),
        })
        if a.perm:
            p_torch = (1.0 + exceed_t.double().cpu().numpy()) / (1.0 + a.perm)
            result["p_values"] = compare_p(d["p"], p_torch, a.perm, a.alpha, bool(a.perm_file))
            q = lambda v: float(np.quantile(v, 1 - a.alpha))
            result["null_max_quantile_deeper"] = q(d["null_max"])
            result["null_max_quantile_torch"] = q(null_max_t.double().cpu().numpy())
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
