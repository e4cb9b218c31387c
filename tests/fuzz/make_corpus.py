#!/usr/bin/env python3
"""Writes the tiny seed corpus of the npy and safetensors fuzz targets (tests/fuzz/corpus/).

Plain Python, no numpy: each file is spelled out byte by byte, valid ones and broken ones (one
defect each), so that the fuzzer starts from every branch of the parsers. Run it from anywhere;
the output is committed, so this only needs re-running when the seeds change.
"""
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def npy(header: str, data: bytes, version: int = 1) -> bytes:
    prelude = 10 if version == 1 else 12
    pad = (-(prelude + len(header) + 1)) % 64
    h = (header + " " * pad + "\n").encode("latin1")
    length = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + length + h + data


def npy_dict(descr: str, shape: str, fortran: str = "False") -> str:
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def safetensors(header, data: bytes, length=None) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    raw = text.encode("utf-8")
    raw += b" " * ((-len(raw)) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


NPY = {
    "f32_2x3_v1.npy": npy(npy_dict("<f4", "(2, 3)"), struct.pack("<6f", 1, 2, 3, 4, 5, 6)),
    "u8_4_v2.npy": npy(npy_dict("|u1", "(4,)"), bytes([1, 2, 3, 4]), version=2),
    "bool_3_v3.npy": npy(npy_dict("|b1", "(3,)"), bytes([1, 0, 1]), version=3),
    "f64_scalar.npy": npy(npy_dict("<f8", "()"), struct.pack("<d", 2.5)),
    "i64_empty.npy": npy(npy_dict("<i8", "(0, 5)"), b""),
    "u16_2.npy": npy(npy_dict("<u2", "(2,)"), struct.pack("<2H", 7, 65535)),
    "bad_fortran.npy": npy(npy_dict("<f4", "(2, 2)", "True"), bytes(16)),
    "bad_bigendian.npy": npy(npy_dict(">f4", "(2,)"), bytes(8)),
    "bad_dtype.npy": npy(npy_dict("<c8", "(1,)"), bytes(8)),
    "bad_truncated.npy": npy(npy_dict("<f4", "(4,)"), bytes(10)),
    "bad_lying_shape.npy": npy(npy_dict("<i4", "(2,)"), bytes(12)),
    "bad_dict.npy": npy("{'descr': '<f4' 'shape': (1,)}", bytes(4)),
    "bad_missing_key.npy": npy("{'descr': '<f4', 'shape': (1,), }", bytes(4)),
    "bad_absurd_shape.npy": npy(npy_dict("<f4", "(4294967296, 4294967296)"), bytes(4)),
}

TWO = {"__metadata__": {"format": "pt"}, "w": tensor("F32", [2], 0, 8), "b": tensor("U8", [3], 8, 11)}
SAFETENSORS = {
    "valid_two.safetensors": safetensors(TWO, struct.pack("<2f", 1.5, -2) + bytes([1, 2, 3])),
    "valid_empty.safetensors": safetensors({}, b""),
    "valid_all_dtypes.safetensors": safetensors(
        {"a": tensor("F64", [1], 0, 8), "b": tensor("I64", [1], 8, 16), "c": tensor("I32", [1], 16, 20),
         "d": tensor("BF16", [1], 20, 22), "e": tensor("F16", [1], 22, 24), "f": tensor("U16", [1], 24, 26),
         "g": tensor("BOOL", [1], 26, 27), "h": tensor("U8", [0], 27, 27)}, bytes(27)),
    "bad_overlap.safetensors": safetensors({"a": tensor("U8", [4], 0, 4), "b": tensor("U8", [4], 2, 6)}, bytes(6)),
    "bad_hole.safetensors": safetensors({"a": tensor("U8", [2], 0, 2), "b": tensor("U8", [2], 3, 5)}, bytes(5)),
    "bad_out_of_range.safetensors": safetensors({"a": tensor("U8", [8], 0, 8)}, bytes(4)),
    "bad_shape_mismatch.safetensors": safetensors({"a": tensor("F32", [3], 0, 8)}, bytes(8)),
    "bad_dtype.safetensors": safetensors({"a": tensor("I8", [1], 0, 1)}, bytes(1)),
    "bad_json.safetensors": safetensors('{"a": {"dtype": "U8", "shape": [1]', bytes(1)),
    "bad_duplicate_key.safetensors": safetensors(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
        bytes(1)),
    "bad_header_length.safetensors": safetensors({"a": tensor("U8", [1], 0, 1)}, bytes(1), length=1 << 40),
    "bad_metadata.safetensors": safetensors({"__metadata__": {"k": 1}}, b""),
}

for target, files in (("npy", NPY), ("safetensors", SAFETENSORS)):
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    print(f"{folder}: {len(files)} files")
