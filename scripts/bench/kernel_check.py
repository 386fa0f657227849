#!/usr/bin/env python3
"""The fused-kernel library's CUDA kernels against its CPU kernels (the reference), op by op, on
ONNX Runtime's CUDA and CPU EPs (Python onnxruntime-gpu; no Java needed):

    python3 scripts/bench/kernel_check.py LIBRARY          # libloraort_kernels.so, or the
                                                           # fused-kernels jar that holds it
Each op runs on random inputs of a few shapes (rows longer and shorter than a warp or a block,
attention-sized ones); float32 ops must agree within 1e-5 of the output's largest value, bfloat16
ops within one bfloat16 step of each element (the two sum in different orders before one rounding).
Prints one line per op and shape and exits 1 if any disagrees.
"""
import sys
import tempfile
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

DOMAIN = "dev.loraort"


def library(path):
    if not path.endswith(".jar"):
        return path
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("libloraort_kernels.so"))
        out = tempfile.NamedTemporaryFile(suffix=".so", delete=False)
        out.write(z.read(name))
        out.close()
        return out.name


def model(op, n_inputs, bf16):
    """Float inputs, cast to bf16 where the op takes bf16, the op, its output cast back to float."""
    nodes, names = [], []
    for i in range(n_inputs):
        x = f"x{i}"
        if bf16:
            nodes.append(helper.make_node("Cast", [x], [x + "b"], to=TensorProto.BFLOAT16))
            x += "b"
        names.append(x)
    nodes.append(helper.make_node(op, names, ["yb" if bf16 else "y"], domain=DOMAIN))
    if bf16:
        nodes.append(helper.make_node("Cast", ["yb"], ["y"], to=TensorProto.FLOAT))
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, None) for i in range(n_inputs)]
    g = helper.make_graph(nodes, op, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid(DOMAIN, 1)])


def session(m, lib, ep):
    so = ort.SessionOptions()
    so.add_session_config_entry("loraort.kernels.ep", "cuda" if ep == "cuda" else "cpu")
    so.add_session_config_entry("session.disable_cpu_ep_fallback", "1" if ep == "cuda" else "0")
    so.register_custom_ops_library(lib)
    providers = ["CUDAExecutionProvider"] if ep == "cuda" else ["CPUExecutionProvider"]
    return ort.InferenceSession(m.SerializeToString(), so, providers=providers)


def bf16_round(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def inputs(op, shape, rng):
    h = shape[-1]
    rows = int(np.prod(shape[:-1]))
    x = rng.standard_normal(shape).astype(np.float32)
    if op == "Softmax":
        return [x * 4]
    if op == "SoftmaxGrad":  # dY, and Y a softmax output
        e = np.exp(x - x.max(-1, keepdims=True))
        return [rng.standard_normal(shape).astype(np.float32) * 0.01, (e / e.sum(-1, keepdims=True)).astype(np.float32)]
    if op == "LayerNormalizationGrad":
        mean = x.mean(-1, keepdims=True).astype(np.float32)
        inv = (1 / np.sqrt(x.var(-1, keepdims=True) + 1e-5)).astype(np.float32)
        return [rng.standard_normal(shape).astype(np.float32), x, rng.standard_normal(h).astype(np.float32), mean, inv]
    return [rng.standard_normal(shape).astype(np.float32), x * 3]  # GELU's: dY, X


OPS = [  # op, inputs, bf16
    ("GeluGrad", 2, False),
    ("GeluTanhGrad", 2, False),
    ("LayerNormalizationGrad", 5, False),
    ("SoftmaxGrad", 2, False),
    ("SoftmaxGrad", 2, True),
    ("Softmax", 1, True),
]
SHAPES = [(3, 5, 17), (2, 4, 100, 77), (4, 1024), (2, 3, 3000), (8, 20, 512, 512)]


def main():
    lib = library(sys.argv[1])
    print("onnxruntime", ort.__version__, ort.get_available_providers())
    rng = np.random.default_rng(0)
    bad = 0
    for op, n, bf16 in OPS:
        m = model(op, n, bf16)
        cpu, cuda = session(m, lib, "cpu"), session(m, lib, "cuda")
        for shape in SHAPES:
            feeds = {f"x{i}": v for i, v in enumerate(inputs(op, shape, rng))}
            want = cpu.run(["y"], feeds)[0]
            got = cuda.run(["y"], feeds)[0]
            if bf16:
                # one bfloat16 step at the reference's magnitude (2^-7 relative, and the step of the
                # smallest normal near zero)
                step = np.maximum(np.abs(want), np.float32(2.0**-126)) * 2.0**-7
                err = np.abs(got - want)
                ok = bool(np.all(err <= step)) and np.array_equal(bf16_round(got), got)
                worst = float(np.max(err / step))
                same = float(np.mean(got == want))
                print(f"{op} bf16 {shape}: worst {worst:.2f} of a bf16 step, {same:.4f} equal{'' if ok else '  DIFFERS'}")
            else:
                worst = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-30))
                ok = worst <= 1e-5
                print(f"{op} float32 {shape}: worst {worst:.3g} of max{'' if ok else '  DIFFERS'}")
            bad += 0 if ok else 1
    print("all agree" if bad == 0 else f"{bad} disagree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
