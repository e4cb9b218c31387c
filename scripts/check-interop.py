#!/usr/bin/env python3
"""Checks that deeper's .npy and safetensors files interoperate with numpy, safetensors and PyTorch.

Usage: scripts/check-interop.py BUILD_DIR [--keep DIR] [--framework auto|torch|numpy]

Not part of the test run (it needs numpy and the safetensors package: `pip install numpy
safetensors`; PyTorch is used when it is importable). It drives BUILD_DIR's formats_interop_tool
(built from tests/formats/interop/ if missing) and checks, in both directions:

  deeper -> Python  the tool writes .npy files (every dtype, v1/v2/v3, scalar, empty, 3-d) and a
                    safetensors file (every dtype, metadata); numpy's np.load and
                    safetensors.torch.load_file (or safetensors.numpy without torch) read them,
                    and every value, dtype, shape and the metadata must be as written.
  Python -> deeper  numpy (np.save, format versions 1.0/2.0/3.0) and safetensors.torch.save_file
                    (or safetensors.numpy.save_file) write random arrays; the tool's `dump` must
                    report the same dtype, shape and bytes, and the tool's `copy` (deeper's reader,
                    then deeper's writer) must give a file that Python loads back equal.
  rejections        Fortran-order, big-endian and complex arrays written by numpy must be refused
                    with a message that says so.

Prints one line per check and a summary; exits 1 if any check failed.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import safetensors
    from safetensors import safe_open
    import safetensors.numpy as st_numpy
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"check-interop: error: {e}; install with `pip install numpy safetensors`")

# Element i of every array the tool generates (tests/formats/interop/formats_interop_tool.cpp).
def expected_value(i: int, dtype: str) -> float:
    if dtype == "bool":
        return 1.0 if i % 3 == 0 else 0.0
    if dtype == "u8":
        return float((i * 7) % 23)
    if dtype == "u16":
        return float((i * 1000) % 65536)
    if dtype in ("i32", "i64"):
        return float((i * 7) % 23 - 11)
    return float((i * 7) % 23 - 11) + 0.5 * (i % 2)


NUMPY_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "i32": "int32", "i64": "int64",
                "u8": "uint8", "u16": "uint16", "bool": "bool"}
# What the tool's `generate` writes: file -> (dtype, shape, format version).
GENERATED_NPY = {f"gen_{d}_3x5.npy": (d, (3, 5), 1) for d in NUMPY_DTYPES}
GENERATED_NPY.update({
    "gen_f32_scalar.npy": ("f32", (), 1),
    "gen_f64_0x4.npy": ("f64", (0, 4), 1),
    "gen_i64_2x3x4.npy": ("i64", (2, 3, 4), 1),
    "gen_f32_7_v2.npy": ("f32", (7,), 2),
    "gen_f32_7_v3.npy": ("f32", (7,), 3),
})
GENERATED_ST = {f"t_{d}": (d, (3, 5)) for d in ["u8", "f32", "bf16", "f64", "f16", "i32", "i64", "u16", "bool"]}
GENERATED_ST.update({"t_scalar": ("f32", ()), "t_empty": ("f32", (0, 2))})
GENERATED_METADATA = {"format": "pt", "written_by": "deeper"}


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name: str, ok: bool, detail: str = ""):
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}{': ' + detail if detail else ''}")

    def run(self, name, fn):
        try:
            ok, detail = fn()
        except Exception as e:  # a crash in a check is a failed check, reported with the reason
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.check(name, ok, detail)


def find_tool(build: pathlib.Path) -> pathlib.Path:
    def search():
        return sorted(build.rglob("formats_interop_tool"))
    found = [p for p in search() if p.is_file()]
    if not found:
        print(f"building formats_interop_tool in {build}")
        subprocess.run(["cmake", "--build", str(build), "--target", "formats_interop_tool"], check=True)
        found = [p for p in search() if p.is_file()]
    if not found:
        sys.exit(f"check-interop: error: no formats_interop_tool in {build}")
    return found[0]


class Tool:
    def __init__(self, path: pathlib.Path):
        self.path = path

    def run(self, *args, check=True):
        r = subprocess.run([str(self.path), *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"formats_interop_tool {' '.join(map(str, args))} failed: {r.stderr.strip()}")
        return r

    def dump(self, path):
        return json.loads(self.run("dump", path).stdout)


def expected_array(dtype: str, shape) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    values = np.array([expected_value(i, dtype) for i in range(n)], dtype=np.float64)
    return values.astype(NUMPY_DTYPES[dtype]).reshape(shape)


# --- framework adapters: torch when present, numpy otherwise ------------------------------------

class NumpyFramework:
    name = "safetensors.numpy"
    dtypes = ["f32", "f64", "f16", "i32", "i64", "u8", "u16", "bool"]  # numpy has no bfloat16

    def load(self, path):
        return st_numpy.load_file(str(path))

    def save(self, tensors, path, metadata):
        st_numpy.save_file(tensors, str(path), metadata=metadata)

    def random(self, dtype, shape, rng):
        return random_numpy(dtype, shape, rng)

    def to_bytes(self, t):
        return np.ascontiguousarray(t).tobytes()

    def dtype_name(self, t):
        return {v: k for k, v in NUMPY_DTYPES.items()}[str(t.dtype)]

    def shape(self, t):
        return tuple(t.shape)

    def as_float64(self, t):
        return np.asarray(t).astype(np.float64)


class TorchFramework:
    name = "safetensors.torch"

    def __init__(self, torch):
        import safetensors.torch as st_torch
        self.torch, self.st = torch, st_torch
        self.map = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16,
                    "i32": torch.int32, "i64": torch.int64, "u8": torch.uint8, "bool": torch.bool}
        if hasattr(torch, "uint16"):
            self.map["u16"] = torch.uint16
        self.dtypes = list(self.map)

    def load(self, path):
        return self.st.load_file(str(path))

    def save(self, tensors, path, metadata):
        self.st.save_file(tensors, str(path), metadata=metadata)

    def random(self, dtype, shape, rng):
        torch = self.torch
        if dtype == "bf16":
            return torch.from_numpy(random_numpy("f32", shape, rng)).to(torch.bfloat16)
        if dtype == "u16":  # torch has few uint16 kernels; build it from bytes
            return torch.from_numpy(random_numpy("u16", shape, rng).view(np.int16)).view(torch.uint16)
        return torch.from_numpy(random_numpy(dtype, shape, rng))

    def to_bytes(self, t):
        t = t.contiguous().reshape(-1)
        if t.dtype in (self.torch.bfloat16, getattr(self.torch, "uint16", None)):
            t = t.view(self.torch.int16)
        return t.numpy().tobytes()

    def dtype_name(self, t):
        return {v: k for k, v in self.map.items()}[t.dtype]

    def shape(self, t):
        return tuple(t.shape)

    def as_float64(self, t):
        if t.dtype == getattr(self.torch, "uint16", None):
            return np.frombuffer(self.to_bytes(t), dtype=np.uint16).astype(np.float64).reshape(tuple(t.shape))
        return t.to(self.torch.float64).numpy()


def random_numpy(dtype: str, shape, rng) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype in ("u8", "u16", "i32", "i64"):
        info = np.iinfo(NUMPY_DTYPES[dtype])
        return rng.integers(info.min, info.max, size=shape, dtype=NUMPY_DTYPES[dtype], endpoint=True)
    return rng.standard_normal(size=shape).astype(NUMPY_DTYPES[dtype])


# --- the checks ---------------------------------------------------------------------------------

def check_deeper_npy_in_numpy(c: Checker, tool: Tool, folder: pathlib.Path):
    for name, (dtype, shape, version) in GENERATED_NPY.items():
        def one(name=name, dtype=dtype, shape=shape, version=version):
            path = folder / name
            raw = path.read_bytes()
            if raw[6] != version:
                return False, f"format version {raw[6]}, expected {version}"
            a = np.load(path, allow_pickle=False)
            want = expected_array(dtype, shape)
            if a.dtype != want.dtype or a.shape != want.shape:
                return False, f"numpy read {a.dtype} {a.shape}, expected {want.dtype} {want.shape}"
            if not np.array_equal(a, want):
                return False, "values differ"
            return True, ""
        c.run(f"deeper -> numpy.load      {name} ({dtype} {shape}, v{version}.0)", one)


def check_deeper_safetensors_in_python(c: Checker, fw, folder: pathlib.Path):
    path = folder / "gen.safetensors"
    loaded = {}

    def load():
        loaded.update(fw.load(path))
        missing = set(GENERATED_ST) - set(loaded) - ({"t_bf16"} if "bf16" not in fw.dtypes else set())
        return not missing, f"missing tensors {sorted(missing)}"
    if "bf16" not in fw.dtypes:
        # safetensors.numpy cannot make a bfloat16 array: read the others one by one.
        def load():  # noqa: F811 - the numpy variant
            with safe_open(str(path), framework="np") as f:
                for k in f.keys():
                    if k != "t_bf16":
                        loaded[k] = f.get_tensor(k)
            return set(loaded) == set(GENERATED_ST) - {"t_bf16"}, f"tensors {sorted(loaded)}"
    c.run(f"deeper -> {fw.name}.load_file gen.safetensors", load)
    for key, (dtype, shape) in GENERATED_ST.items():
        if dtype not in fw.dtypes:
            print(f"  skip  deeper -> {fw.name} {key}: {fw.name} has no {dtype}")
            continue

        def one(key=key, dtype=dtype, shape=shape):
            t = loaded[key]
            if fw.dtype_name(t) != dtype or fw.shape(t) != tuple(shape):
                return False, f"read {fw.dtype_name(t)} {fw.shape(t)}, expected {dtype} {shape}"
            want = expected_array("f32" if dtype == "bf16" else dtype, shape).astype(np.float64)
            return bool(np.array_equal(fw.as_float64(t), want)), "values differ"
        c.run(f"deeper -> {fw.name}        {key} ({dtype} {shape})", one)

    def metadata():
        with safe_open(str(path), framework="np") as f:
            got = f.metadata()
        return got == GENERATED_METADATA, f"metadata {got}"
    c.run("deeper -> safe_open.metadata() gen.safetensors", metadata)


def check_numpy_npy_in_deeper(c: Checker, tool: Tool, folder: pathlib.Path):
    rng = np.random.default_rng(7)
    shapes = [(4, 3), (), (0, 2), (2, 3, 5), (17,)]
    for dtype in NUMPY_DTYPES:
        for version in (1, 2, 3):
            for shape in shapes:
                def one(dtype=dtype, version=version, shape=shape):
                    a = random_numpy(dtype, shape, rng)
                    src = folder / f"np_{dtype}_{version}_{'x'.join(map(str, shape)) or 'scalar'}.npy"
                    with open(src, "wb") as f:
                        np.lib.format.write_array(f, a, version=(version, 0))
                    d = tool.dump(src)
                    if d["dtype"] != dtype or tuple(d["shape"]) != shape:
                        return False, f"deeper read {d['dtype']} {d['shape']}"
                    if bytes.fromhex(d["hex"]) != a.tobytes():
                        return False, "deeper read different bytes"
                    out = src.with_name("copy_" + src.name)
                    tool.run("copy", src, out)
                    b = np.load(out, allow_pickle=False)
                    if b.dtype != a.dtype or b.shape != a.shape or b.tobytes() != a.tobytes():
                        return False, "numpy read deeper's copy differently"
                    return True, ""
                c.run(f"numpy v{version}.0 -> deeper -> numpy  {dtype} {shape}", one)

    def rejected(label, array, fortran_text):
        def one():
            path = folder / f"reject_{label}.npy"
            np.save(path, array)
            r = tool.run("dump", path, check=False)
            return r.returncode == 1 and fortran_text in r.stderr, r.stderr.strip()
        c.run(f"numpy {label} -> deeper refuses it", one)
    rejected("fortran-order", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), "Fortran-order")
    rejected("big-endian", np.arange(3, dtype=">f4"), "big-endian")
    rejected("complex64", np.zeros(3, dtype=np.complex64), "unsupported dtype '<c8'")


def check_python_safetensors_in_deeper(c: Checker, tool: Tool, fw, folder: pathlib.Path):
    rng = np.random.default_rng(11)
    tensors = {}
    for i, dtype in enumerate(fw.dtypes):
        tensors[f"layer{i}.{dtype}"] = fw.random(dtype, (3, 2 + i), rng)
    tensors["scalar"] = fw.random("f32", (), rng)
    tensors["empty"] = fw.random("i64", (0, 3), rng)
    metadata = {"format": "pt" if fw.name.endswith("torch") else "np", "epoch": "3", "note": "h\u00e9llo"}
    src = folder / "python.safetensors"
    fw.save(tensors, src, metadata)

    dumped = {}

    def dump():
        d = tool.dump(src)
        dumped.update({t["name"]: t for t in d["tensors"]})
        return d["metadata"] == metadata and set(dumped) == set(tensors), f"metadata {d['metadata']}, names {sorted(dumped)}"
    c.run(f"{fw.name}.save_file -> deeper: names and __metadata__", dump)
    for key, t in tensors.items():
        def one(key=key, t=t):
            d = dumped[key]
            if d["dtype"] != fw.dtype_name(t) or tuple(d["shape"]) != fw.shape(t):
                return False, f"deeper read {d['dtype']} {d['shape']}"
            return bytes.fromhex(d["hex"]) == fw.to_bytes(t), "deeper read different bytes"
        c.run(f"{fw.name}.save_file -> deeper   {key}", one)

    def round_trip():
        out = folder / "python_copy.safetensors"
        tool.run("copy", src, out)
        back = fw.load(out)
        with safe_open(str(out), framework="np") as f:
            got_meta = f.metadata()
        if got_meta != metadata or set(back) != set(tensors):
            return False, f"metadata {got_meta}, names {sorted(back)}"
        for key, t in tensors.items():
            if fw.dtype_name(back[key]) != fw.dtype_name(t) or fw.to_bytes(back[key]) != fw.to_bytes(t):
                return False, f"tensor {key} differs"
        return True, ""
    c.run(f"{fw.name} -> deeper copy -> {fw.name}.load_file (all tensors, metadata)", round_trip)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", type=pathlib.Path, help="a configured deeper build folder")
    ap.add_argument("--keep", type=pathlib.Path, help="write the files here and keep them")
    ap.add_argument("--framework", choices=["auto", "torch", "numpy"], default="auto")
    args = ap.parse_args()

    tool = Tool(find_tool(args.build))
    fw = NumpyFramework()
    if args.framework in ("auto", "torch"):
        try:
            import torch
            fw = TorchFramework(torch)
        except ImportError:
            if args.framework == "torch":
                sys.exit("check-interop: error: --framework torch but torch is not importable")
    versions = f"numpy {np.__version__}, safetensors {safetensors.__version__}"
    if isinstance(fw, TorchFramework):
        versions += f", torch {fw.torch.__version__}"
    print(f"check-interop: {tool.path} against {versions} ({fw.name})")

    folder = pathlib.Path(tempfile.mkdtemp(prefix="deeper-interop-")) if args.keep is None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    c = Checker()
    try:
        tool.run("generate", folder / "gen")
        print("deeper writes, Python reads:")
        check_deeper_npy_in_numpy(c, tool, folder / "gen")
        check_deeper_safetensors_in_python(c, fw, folder / "gen")
        print("Python writes, deeper reads (and writes back):")
        check_numpy_npy_in_deeper(c, tool, folder)
        check_python_safetensors_in_deeper(c, tool, fw, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"interop: {c.passed} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
