"""The contract's checks (docs/graph-contract.md section 6): they run on every export and raise on failure."""
import numpy as np

RTOL, ATOL = 1e-4, 1e-5


class CheckFailed(RuntimeError):
    pass


def compare(names, got, ref, rtol=RTOL, atol=ATOL):
    """Per output: max abs error, its ratio to the reference's max |value|, and allclose."""
    rows = []
    for n, a, b in zip(names, got, ref):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            rows.append(dict(name=n, ok=False, error=f"shape {list(a.shape)} vs torch {list(b.shape)}"))
            continue
        d = float(np.abs(a - b).max()) if a.size else 0.0
        ref_max = float(np.abs(b).max()) if b.size else 0.0
        rows.append(dict(name=n, ok=bool(np.allclose(a, b, rtol=rtol, atol=atol)) and bool(np.isfinite(a).all()),
                         max_abs=d, rel_to_max=d / (ref_max + 1e-30)))
    return rows


def require(rows, what):
    bad = [r for r in rows if not r["ok"]]
    if bad:
        raise CheckFailed(f"{what}: ORT and torch disagree on {[r['name'] for r in bad]}: {bad[:3]}")
    return dict(ok=True, outputs=len(rows), worst_rel_to_max=max(r.get("rel_to_max", 0.0) for r in rows))


def standard_ops_only(model, path):
    from .tracing import op_domains
    domains, functions = op_domains(model)
    if set(domains) != {"ai.onnx"} or functions:
        raise CheckFailed(f"{path}: ops outside ai.onnx {domains} or local functions ({functions})")
    return dict(domains=sorted(domains), nodes=sum(domains.values()))


def ort_session(path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(sess, feed):
    names = [i.name for i in sess.get_inputs()]
    missing = [n for n in names if n not in feed]
    if missing:
        raise CheckFailed(f"graph inputs without a value: {missing}")
    return sess.run(None, {n: feed[n] for n in names})
