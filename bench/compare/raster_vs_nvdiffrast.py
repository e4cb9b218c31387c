#!/usr/bin/env python3
"""deeper's rasterizer ops (bench_raster) against nvdiffrast, side by side on the same GPU.

Protocol (shared/reference/benchmarks.md §3.1): the same mesh, batch and resolution for both, each
timed with CUDA events after a warm-up, the median (and p10/p90) of --repeats.

Mesh and poses: bench/raster_mesh.h's displaced sphere cap (68 x 68 vertices: 4,624 vertices, 8,978
triangles, shared indices) and its B posed copies in clip space, rebuilt here with the same formulas
(double precision, rounded to float32 at the same points, the float32 transform in the same order),
so nvdiffrast gets the clip-space vertices bench_raster rasterizes, bit for bit (checked against
the C++ at B = 8, 64 px). --export DIR writes them as .npy
(pos_B{B}_R{R}.npy: B x V x 4 float32, tri.npy: T x 3 int32) for any other peer.

nvdiffrast side (RasterizeCudaContext, instanced mode: pos B x V x 4, tri T x 3):
  rasterize          dr.rasterize(ctx, pos, tri, (R, R))
  interpolate        dr.interpolate(attr, rast, tri), attr B x V x 3 (random, as bench_raster)
  interpolate_fwd_bwd  interpolate + backward of sum(w * out) to attr and pos (through rast)
  antialias          dr.antialias(color, rast, pos, tri), color B x R x R x 3 (interpolated attr)
  antialias_fwd_bwd  antialias + backward of sum(w * out) to color and pos
deeper side: bench_raster's ms_per_batch for the same names, from --bench-json FILE
(bench_raster --device=cuda --benchmark_format=json) or by running --bench PATH with that flag.
The table gives both times and the ratio nvdiffrast / deeper (> 1: deeper is faster). Also, in the
same run, nvdiffrast's triangle-id coverage (fraction of covered pixels) per case, to be checked
against bench_raster's frame coverage (~80%).

nvdiffrast is not installed on the GPU machine and is never installed by this script (it is a
research/evaluation-only licence: keep a source copy outside the repository). To provide it there:
  pip install --no-build-isolation --no-deps /path/to/nvdiffrast    (builds the torch extension,
                                                                     TORCH_CUDA_ARCH_LIST=9.0)
or put its source folder on PYTHONPATH (the CUDA extension then compiles at the first call, which
needs ninja and the CUDA toolkit). Without it the script exits 2 with a message.

Usage:
  bench/compare/raster_vs_nvdiffrast.py --bench build/release/bench/bench_raster [--batches 256,1024]
      [--res 64,112,224] [--repeats 20] [--warmup 3] [--json OUT.json] [--export DIR]
  bench/compare/raster_vs_nvdiffrast.py --bench-json bench_raster.json ...
  bench/compare/raster_vs_nvdiffrast.py --dry-run
--dry-run checks the script's own logic without a GPU or nvdiffrast: mesh sizes and winding, the
projection (every vertex in front of the camera, the mesh inside and filling the frame), the
bench_raster JSON parsing on a synthetic record, the timing statistics and the table.
Exit status: 0 success, 1 runtime error, 2 usage error or a missing requirement (torch, CUDA,
nvdiffrast).
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import call_times_ms, gbench_iterations  # noqa: E402

OPS = ("rasterize", "interpolate", "interpolate_fwd_bwd", "antialias", "antialias_fwd_bwd")


def fail(message, code=2):
    print(f"raster_vs_nvdiffrast: error: {message}", file=sys.stderr)
    sys.exit(code)


# ---- the workload: bench/raster_mesh.h in numpy

def sphere_cap_mesh(np, n=68):
    """(xyz V x 3 float32, tri T x 3 int32): bench/raster_mesh.h sphere_cap_mesh."""
    radius, span = 100.0, 50.0 * math.pi / 180.0
    r, c = np.meshgrid(np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64), indexing="ij")
    u = 2.0 * c / (n - 1) - 1.0
    v = 1.0 - 2.0 * r / (n - 1)
    ax, ay = u * span, v * span
    rho = radius * (1.0 + 0.03 * np.sin(5.0 * u) * np.sin(4.0 * v))
    xyz = np.stack([rho * np.sin(ax) * np.cos(ay), rho * np.sin(ay), rho * np.cos(ax) * np.cos(ay) - radius], axis=-1)
    xyz = xyz.reshape(-1, 3).astype(np.float32)
    tris = []
    for row in range(n - 1):
        for col in range(n - 1):
            a = row * n + col
            b, d = a + 1, a + n
            e = d + 1
            tris += [(a, e, b), (a, d, e)]
    return xyz, np.asarray(tris, dtype=np.int32)


def projection_matrix(np, fov_y_degrees, width, height, near, far):
    """kernels/raster/camera.cpp projection_matrix(from_fov_y(...)), row-major float32."""
    f = 0.5 * height / math.tan(0.5 * fov_y_degrees * math.pi / 180.0)
    w, h, n, fa = float(width), float(height), near, far
    cx, cy = 0.5 * width, 0.5 * height
    m = [2 * f / w, 0, 1 - 2 * cx / w, 0,
         0, 2 * f / h, 2 * cy / h - 1, 0,
         0, 0, -(fa + n) / (fa - n), -2 * fa * n / (fa - n),
         0, 0, -1, 0]
    return np.asarray(m, dtype=np.float64).astype(np.float32).reshape(4, 4)


def posed_clip_positions(np, xyz, batch, height, width):
    """bench/raster_mesh.h posed_clip_positions: B x V x 4 float32."""
    m = projection_matrix(np, 24.0, width, height, 50.0, 2000.0)
    x, y, z = (xyz[:, k].astype(np.float64) for k in range(3))
    out = np.empty((batch, xyz.shape[0], 4), dtype=np.float32)
    for b in range(batch):
        yaw = 35.0 * math.pi / 180.0 * math.sin(1.7 * b)
        pitch = 15.0 * math.pi / 180.0 * math.cos(2.3 * b)
        tx, ty = 4.0 * math.sin(0.9 * b), 4.0 * math.cos(1.3 * b)
        x1 = math.cos(yaw) * x + math.sin(yaw) * z
        z1 = -math.sin(yaw) * x + math.cos(yaw) * z
        y2 = math.cos(pitch) * y - math.sin(pitch) * z1
        z2 = math.sin(pitch) * y + math.cos(pitch) * z1
        p = [(x1 + tx).astype(np.float32), (y2 + ty).astype(np.float32), (z2 - 450.0).astype(np.float32)]
        for row in range(4):  # float32, ((m0 x + m1 y) + m2 z) + m3 as transform_points
            acc = m[row, 0] * p[0]
            acc = acc + m[row, 1] * p[1]
            acc = acc + m[row, 2] * p[2]
            out[b, :, row] = acc + m[row, 3]
    return out


def check_workload(np, xyz, tri, pos):
    """Sanity of the posed copies: in front of the camera, inside the frame, counter-clockwise."""
    if xyz.shape != (4624, 3) or tri.shape != (8978, 3):
        raise RuntimeError(f"mesh has {xyz.shape[0]} vertices and {tri.shape[0]} triangles, expected 4624 and 8978")
    w = pos[..., 3]
    if not (w > 0).all():
        raise RuntimeError("a vertex lies behind the camera")
    ndc = pos[..., :2] / w[..., None]
    if np.abs(ndc).max() >= 1.0:
        raise RuntimeError(f"the mesh leaves the frame (max |ndc| {np.abs(ndc).max():.3f})")
    extent = ndc.max(axis=1) - ndc.min(axis=1)  # B x 2, in units of half frames
    if extent.min() < 1.2:
        raise RuntimeError(f"the mesh fills too little of the frame ({extent.min() / 2:.2f})")
    a, b, c = (ndc[:, tri[:, k]] for k in range(3))
    cross = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    return float((cross > 0).mean())


# ---- deeper's numbers

def parse_bench_raster(records):
    """{(op, B, R): ms_per_batch} from Google Benchmark JSON records of bench_raster."""
    out = {}
    pattern = re.compile(r"^(\w+)/B:(\d+)/R:(\d+)")
    for name, rec in gbench_iterations(records)[0].items():
        m = pattern.match(name)
        if not m or m.group(1) not in OPS:
            continue
        out[(m.group(1), int(m.group(2)), int(m.group(3)))] = float(rec.get("ms_per_batch", rec["ms"]))
    return out


def run_bench_raster(path, batches, resolutions):
    cases = "|".join(f"B:{b}/R:{r}" for b in batches for r in resolutions)
    cmd = [path, "--device=cuda", "--benchmark_format=json", f"--benchmark_filter=({'|'.join(OPS)})/({cases})$"]
    print("running:", " ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        fail(f"bench_raster exited {res.returncode}: {res.stderr.strip()[-500:]}", 1)
    return json.loads(res.stdout)


# ---- timing and the table

def summarize(times_ms):
    s = sorted(times_ms)
    q = lambda f: s[min(len(s) - 1, max(0, int(round(f * (len(s) - 1)))))]
    return {"median": statistics.median(s), "p10": q(0.1), "p90": q(0.9), "n": len(s)}


def table(rows):
    lines = [f"{'op':<22}{'B':>6}{'R':>6}{'deeper ms':>12}{'nvdiffrast ms':>15}{'p10-p90':>18}{'nvdr/deeper':>13}"]
    for r in rows:
        d = f"{r['deeper_ms']:.3f}" if r.get("deeper_ms") is not None else "-"
        ratio = f"{r['nvdiffrast']['median'] / r['deeper_ms']:.2f}" if r.get("deeper_ms") else "-"
        spread = f"{r['nvdiffrast']['p10']:.3f}-{r['nvdiffrast']['p90']:.3f}"
        lines.append(f"{r['op']:<22}{r['B']:>6}{r['R']:>6}{d:>12}{r['nvdiffrast']['median']:>15.3f}{spread:>18}{ratio:>13}")
    return "\n".join(lines)


def time_nvdiffrast(torch, dr, ctx, pos_np, tri_np, res, repeats, warmup):
    dev = torch.device("cuda")
    gen = torch.Generator(device="cpu").manual_seed(1)
    pos = torch.from_numpy(pos_np).to(dev)
    tri = torch.from_numpy(tri_np).to(dev)
    b, v = pos_np.shape[0], pos_np.shape[1]
    attr = torch.rand((b, v, 3), generator=gen).to(dev)
    w_img = torch.rand((b, res, res, 3), generator=gen).to(dev) * 2 - 1

    def rasterize():
        return dr.rasterize(ctx, pos, tri, (res, res))[0]

    rast = rasterize()
    color = dr.interpolate(attr, rast, tri)[0].contiguous()

    def interpolate():
        return dr.interpolate(attr, rast, tri)[0]

    def interpolate_fwd_bwd():
        p = pos.detach().requires_grad_(True)
        a = attr.detach().requires_grad_(True)
        r = dr.rasterize(ctx, p, tri, (res, res))[0]
        out = dr.interpolate(a, r, tri)[0]
        (out * w_img).sum().backward()

    def antialias():
        return dr.antialias(color, rast, pos, tri)

    def antialias_fwd_bwd():
        p = pos.detach().requires_grad_(True)
        col = color.detach().requires_grad_(True)
        out = dr.antialias(col, rast, p, tri)
        (out * w_img).sum().backward()

    fns = dict(rasterize=rasterize, interpolate=interpolate, interpolate_fwd_bwd=interpolate_fwd_bwd,
               antialias=antialias, antialias_fwd_bwd=antialias_fwd_bwd)
    results = {}
    for name, fn in fns.items():
        results[name] = summarize(call_times_ms(torch, fn, True, warmup, repeats))
    coverage = float((rast[..., 3] > 0).float().mean().item())
    return results, coverage


def dry_run(np):
    xyz, tri = sphere_cap_mesh(np)
    pos = posed_clip_positions(np, xyz, 8, 64, 64)
    front = check_workload(np, xyz, tri, pos)
    if front < 0.95:
        raise RuntimeError(f"only {front:.1%} of the triangles face the camera")
    synthetic = {"benchmarks": [
        {"name": "rasterize/B:8/R:64/manual_time", "run_type": "iteration", "real_time": 2.5, "time_unit": "ms",
         "ms_per_batch": 2.4},
        {"name": "antialias_fwd_bwd/B:8/R:64/manual_time", "run_type": "iteration", "real_time": 1500.0,
         "time_unit": "us"},
        {"name": "rasterize/B:8/R:64/manual_time_mean", "run_type": "aggregate", "real_time": 9.0},
        {"name": "texture/B:8/R:64/manual_time", "run_type": "iteration", "real_time": 1.0, "time_unit": "ms"}]}
    parsed = parse_bench_raster(synthetic)
    expected = {("rasterize", 8, 64): 2.4, ("antialias_fwd_bwd", 8, 64): 1.5}
    if parsed != expected:
        raise RuntimeError(f"bench_raster JSON parsing gave {parsed}, expected {expected}")
    stats = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    if stats["median"] != 3.0 or stats["p10"] != 1.0 or stats["p90"] != 5.0:
        raise RuntimeError(f"summary statistics wrong: {stats}")
    rows = [dict(op="rasterize", B=8, R=64, deeper_ms=2.4, nvdiffrast=dict(median=3.6, p10=3.5, p90=3.7))]
    text = table(rows)
    if "1.50" not in text:
        raise RuntimeError("table ratio missing:\n" + text)
    print(f"dry run: mesh {xyz.shape[0]} vertices, {tri.shape[0]} triangles, {front:.1%} front-facing; "
          f"clip-space batch {pos.shape}; JSON parsing, statistics and table OK")
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--bench", help="path of bench_raster (run with --device=cuda --benchmark_format=json)")
    ap.add_argument("--bench-json", help="bench_raster's JSON output, instead of running it")
    ap.add_argument("--batches", default="256,1024")
    ap.add_argument("--res", default="64,112,224")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--export", help="write the workload (.npy) into this folder")
    ap.add_argument("--dry-run", action="store_true", help="check the script's logic without a GPU or nvdiffrast")
    args = ap.parse_args()
    try:
        batches = [int(x) for x in args.batches.split(",") if x]
        resolutions = [int(x) for x in args.res.split(",") if x]
    except ValueError:
        fail(f"--batches and --res take comma-separated integers, got '{args.batches}' and '{args.res}'")
    if not batches or not resolutions or min(batches + resolutions) < 1 or args.repeats < 1 or args.warmup < 0:
        fail("batches, resolutions and --repeats must be positive, --warmup non-negative")
    try:
        import numpy as np
    except ImportError:
        fail("numpy is needed")
    if args.dry_run:
        try:
            dry_run(np)
        except RuntimeError as e:
            fail(str(e), 1)
        return 0
    if not args.bench and not args.bench_json:
        fail("give --bench PATH (bench_raster) or --bench-json FILE, or --dry-run")
    try:
        import torch
    except ImportError:
        fail("PyTorch is not importable (needed for nvdiffrast)")
    if not torch.cuda.is_available():
        fail("CUDA is not usable from PyTorch")
    try:
        import nvdiffrast.torch as dr
    except ImportError as e:
        fail(f"nvdiffrast is not installed ({e}); it is never installed by this script: build it from a source copy "
             "kept outside the repository (pip install --no-build-isolation --no-deps /path/to/nvdiffrast, "
             "TORCH_CUDA_ARCH_LIST=9.0) or put its folder on PYTHONPATH")
    if args.bench_json:
        with open(args.bench_json) as f:
            ours = parse_bench_raster(json.load(f))
    else:
        ours = parse_bench_raster(run_bench_raster(args.bench, batches, resolutions))
    xyz, tri = sphere_cap_mesh(np)
    ctx = dr.RasterizeCudaContext()
    rows, meta = [], {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                      "nvdiffrast": getattr(sys.modules.get("nvdiffrast"), "__version__", "?")}
    for b in batches:
        for r in resolutions:
            pos = posed_clip_positions(np, xyz, b, r, r)
            check_workload(np, xyz, tri, pos)
            if args.export:
                os.makedirs(args.export, exist_ok=True)
                np.save(os.path.join(args.export, f"pos_B{b}_R{r}.npy"), pos)
                np.save(os.path.join(args.export, "tri.npy"), tri)
            results, coverage = time_nvdiffrast(torch, dr, ctx, pos, tri, r, args.repeats, args.warmup)
            for op in OPS:
                rows.append(dict(op=op, B=b, R=r, deeper_ms=ours.get((op, b, r)), nvdiffrast=results[op],
                                 nvdiffrast_coverage=coverage))
            del pos
            torch.cuda.empty_cache()
    print(f"{meta['gpu']}, torch {meta['torch']}, nvdiffrast {meta['nvdiffrast']}")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
