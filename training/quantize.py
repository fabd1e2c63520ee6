"""Stage 5: int8 dynamic quantization of the exported fp32 graph with the onnx package alone (onnxruntime's Python
quantizer is not available here).

Every MatMul (and the Gemm of the tied output projection) whose second input is a constant 2-D weight W [K, N] becomes, as onnxruntime's dynamic quantization
would write it:
    A_q, a_scale, a_zp = DynamicQuantizeLinear(A)                  (uint8, per tensor, computed at run time)
    Y_int = MatMulInteger(A_q, W_q, a_zp, 0)                        (W_q int8, symmetric, per output column)
    Y = Cast(Y_int, float) * (a_scale * w_scale)                    (w_scale [N])
The embedding Gather keeps its fp32 table (it is also the tied output projection's source, which is quantized
through its own transposed initializer).
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("SD_WORK", os.path.join(HERE, "work"))


def quantize(src, dst, min_elems=4096):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    new_inits = []
    n_q = 0
    for node in g.node:
        W = None
        if node.op_type == "MatMul" and node.input[1] in inits:
            W = numpy_helper.to_array(inits[node.input[1]])
        elif node.op_type == "Gemm" and len(node.input) == 2 and node.input[1] in inits:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("transB", 0) == 1 and attrs.get("transA", 0) == 0 and attrs.get("alpha", 1.0) == 1.0:
                W = numpy_helper.to_array(inits[node.input[1]]).T   # tied output projection [K, N]
        if W is not None:
            if W.ndim == 2 and W.size >= min_elems and W.dtype == np.float32:
                name = node.output[0] + "_q"
                absmax = np.abs(W).max(axis=0)
                scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
                Wq = np.clip(np.rint(W / scale), -127, 127).astype(np.int8)
                wq_name, ws_name, wz_name = name + "_W", name + "_Wscale", name + "_Wzp"
                new_inits += [numpy_helper.from_array(Wq, wq_name), numpy_helper.from_array(scale, ws_name),
                              numpy_helper.from_array(np.zeros(W.shape[1], np.int8), wz_name)]
                a = node.input[0]
                new_nodes += [
                    helper.make_node("DynamicQuantizeLinear", [a], [name + "_Aq", name + "_As", name + "_Az"],
                                     name=name + "_dql"),
                    helper.make_node("MatMulInteger", [name + "_Aq", wq_name, name + "_Az", wz_name],
                                     [name + "_Yi"], name=name + "_mmi"),
                    helper.make_node("Cast", [name + "_Yi"], [name + "_Yf"], to=TensorProto.FLOAT,
                                     name=name + "_cast"),
                    helper.make_node("Mul", [name + "_As", ws_name], [name + "_S"], name=name + "_scale"),
                    helper.make_node("Mul", [name + "_Yf", name + "_S"], [node.output[0]], name=name + "_out"),
                ]
                n_q += 1
                continue
        new_nodes.append(node)
    used = set()
    for node in new_nodes:
        used.update(node.input)
    keep_inits = [i for i in g.initializer if i.name in used] + new_inits
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(keep_inits)
    m.producer_name = "superdraft-training (int8 dynamic quantization)"
    onnx.checker.check_model(m)
    tmp = dst + ".tmp"
    onnx.save(m, tmp)
    os.replace(tmp, dst)
    return n_q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(WORK, "export", "model_fp32.onnx"))
    ap.add_argument("--dst", default=os.path.join(WORK, "export", "model_int8.onnx"))
    args = ap.parse_args()
    if not os.path.isfile(args.src):
        sys.exit(f"quantize: missing {args.src}; run the export stage first")
    t0 = time.time()
    n = quantize(args.src, args.dst)
    print(f"quantize: {n} MatMuls -> int8; {os.path.getsize(args.src)/1e6:.1f} MB -> "
          f"{os.path.getsize(args.dst)/1e6:.1f} MB in {time.time()-t0:.0f}s")


if __name__ == "__main__":
    main()
