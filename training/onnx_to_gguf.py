"""Converts a Qwen2 replica (training/replica.py: onnx/model.onnx or onnx/model_q4.onnx) to GGUF for llama.cpp, with
the same weights, so that the benchmark can run the peer on them (superdraft bench --peer).

    /usr/bin/python3 training/onnx_to_gguf.py MODEL_DIR [--variant q4|fp32] [--out FILE.gguf]

Weights: fp32 MatMul initializers W [K, N] (x @ W) become F32 tensors [N rows of K]; q4 MatMulNBits (bits 4, block
32, per output column blocks along K) map block for block onto ggml's 4-bit types without requantizing: symmetric
blocks (no zero points: 8 implied) onto Q4_0 (value = d·(q − 8), d = scale), asymmetric ones onto Q4_1 (value =
d·q + m, d = scale, m = −scale·zero point). Only the nibble order differs (MatMulNBits packs elements 2i, 2i+1 in
byte i; ggml packs j and j+16) and d, m are stored as float16 (relative rounding ≤ 2^-11). The embedding table stays
F32, as in the ONNX graph. Names follow llama.cpp's qwen2 architecture (token_embd, blk.N.attn_q …, output).

Tokenizer metadata comes from the model's tokenizer.json (byte-level BPE: tokenizer.ggml.model "gpt2", pre "qwen2",
tokens, token types, merges); ids the tokenizer lacks (embedding rows beyond it) are "[PADn]" unused tokens, as
llama.cpp requires one token per embedding row. Writes to a temporary file and renames it (nothing half-written).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_UNUSED = 1, 3, 5


class ConvertError(Exception):
    pass


def load_initializers(onnx_path):
    import onnx
    from onnx import numpy_helper

    if not os.path.exists(onnx_path):
        raise ConvertError(f"{onnx_path} does not exist")
    model = onnx.load(onnx_path, load_external_data=True)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = {n.name: n for n in model.graph.node}
    return inits, nodes


def repack_q4(B, scales, zp, K, N):
    """MatMulNBits B [N, nb, 16] (+ scales [N·nb], packed zero points) → ggml Q4_0 / Q4_1 blocks [N, nb]."""
    nb = K // 32
    B = B.reshape(N, nb, 16)
    q = np.empty((N, nb, 32), dtype=np.uint8)
    q[..., 0::2] = B & 0x0F
    q[..., 1::2] = B >> 4
    qs = (q[..., :16] | (q[..., 16:] << 4)).astype(np.uint8)  # ggml: byte j = element j | element j+16 << 4
    d = scales.reshape(N, nb).astype(np.float16)
    if zp is None:
        blocks = np.empty((N, nb), dtype=[("d", "<f2"), ("qs", "u1", 16)])
        blocks["d"], blocks["qs"] = d, qs
        return gguf.Q4_0, blocks.tobytes()
    zpb = zp.reshape(N, -1)
    z = np.empty((N, zpb.shape[1] * 2), dtype=np.uint8)
    z[:, 0::2], z[:, 1::2] = zpb & 0x0F, zpb >> 4
    z = z[:, :nb].astype(np.float32)
    blocks = np.empty((N, nb), dtype=[("d", "<f2"), ("m", "<f2"), ("qs", "u1", 16)])
    blocks["d"], blocks["m"], blocks["qs"] = d, (-scales.reshape(N, nb) * z).astype(np.float16), qs
    return gguf.Q4_1, blocks.tobytes()


def linear_tensor(inits, name):
    """(ggml type, dims, bytes) of the linear layer `name` (replica naming), fp32 MatMul or MatMulNBits."""
    if name + ".weight_Q4" in inits:
        B, s = inits[name + ".weight_Q4"], inits[name + ".weight_scales"]
        N, nb = B.shape[0], B.shape[1]
        K = nb * 32
        gtype, data = repack_q4(B, s, inits.get(name + ".weight_zp"), K, N)
        return gtype, [K, N], data
    w = inits.get("onnx::MatMul_" + name)
    if w is None:
        raise ConvertError(f"no weight for {name} (expected {name}.weight_Q4 or onnx::MatMul_{name}: a replica from training/replica.py)")
    K, N = w.shape
    return gguf.F32, [K, N], np.ascontiguousarray(w.T, dtype=np.float32).tobytes()


def f32(inits, name):
    if name not in inits:
        raise ConvertError(f"initializer {name} is missing (a replica from training/replica.py?)")
    a = np.ascontiguousarray(inits[name], dtype=np.float32)
    return list(reversed(a.shape)), a.tobytes()


def tokenizer_metadata(w, model_dir, n_vocab, cfg):
    path = os.path.join(model_dir, "tokenizer.json")
    try:
        tok = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConvertError(f"{path}: {e}")
    model = tok.get("model", {})
    if model.get("type") != "BPE":
        raise ConvertError(f"{path}: a byte-level BPE tokenizer is needed (model type {model.get('type')})")
    tokens = [None] * n_vocab
    types = [TOKEN_UNUSED] * n_vocab
    for t, i in model["vocab"].items():
        if i >= n_vocab:
            raise ConvertError(f"{path}: token id {i} is beyond the embedding's {n_vocab} rows")
        tokens[i], types[i] = t, TOKEN_NORMAL
    for a in tok.get("added_tokens", []):
        i = a["id"]
        if i >= n_vocab:
            raise ConvertError(f"{path}: added token id {i} is beyond the embedding's {n_vocab} rows")
        tokens[i], types[i] = a["content"], TOKEN_CONTROL if a.get("special") else TOKEN_NORMAL
    for i, t in enumerate(tokens):
        if t is None:
            tokens[i] = f"[PAD{i}]"
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "qwen2")
    w.add_array("tokenizer.ggml.tokens", gguf.STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", gguf.INT32, types)
    w.add_array("tokenizer.ggml.merges", gguf.STRING, merges)
    eos = cfg.get("eos_token_id")
    if isinstance(eos, list):
        eos = eos[0]
    if eos is not None and eos < n_vocab:
        w.add_u32("tokenizer.ggml.eos_token_id", eos)
        w.add_u32("tokenizer.ggml.padding_token_id", eos)
    bos = cfg.get("bos_token_id")
    if bos is not None and bos < n_vocab:
        w.add_u32("tokenizer.ggml.bos_token_id", bos)
    w.add_bool("tokenizer.ggml.add_bos_token", False)


def convert(model_dir, variant="q4", out=None):
    cfg_path = os.path.join(model_dir, "config.json")
    try:
        cfg = json.load(open(cfg_path))
    except (OSError, ValueError) as e:
        raise ConvertError(f"{cfg_path}: {e}")
    if cfg.get("model_type") != "qwen2":
        raise ConvertError(f"{cfg_path}: model_type {cfg.get('model_type')!r}; this converter handles qwen2 replicas")
    onnx_name = {"q4": "model_q4.onnx", "fp32": "model.onnx"}.get(variant)
    if onnx_name is None:
        raise ConvertError(f"--variant {variant}: expected q4 or fp32")
    inits, _ = load_initializers(os.path.join(model_dir, "onnx", onnx_name))
    h, L, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    w = gguf.GGUFWriter()
    w.add_string("general.architecture", "qwen2")
    w.add_string("general.name", cfg.get("_name_or_path", "qwen2 replica") + f" [{variant}]")
    w.add_u32("general.alignment", gguf.ALIGNMENT)
    w.add_u32("qwen2.context_length", cfg["max_position_embeddings"])
    w.add_u32("qwen2.embedding_length", h)
    w.add_u32("qwen2.block_count", L)
    w.add_u32("qwen2.feed_forward_length", cfg["intermediate_size"])
    w.add_u32("qwen2.attention.head_count", cfg["num_attention_heads"])
    w.add_u32("qwen2.attention.head_count_kv", cfg["num_key_value_heads"])
    w.add_f32("qwen2.rope.freq_base", cfg.get("rope_theta", 10000.0))
    w.add_f32("qwen2.attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-6))
    types = set()

    def lin(gname, oname):
        gtype, dims, data = linear_tensor(inits, oname)
        types.add(gtype)
        w.add_tensor(gname, dims, gtype, data)

    def vec(gname, oname):
        dims, data = f32(inits, oname)
        w.add_tensor(gname, dims, gguf.F32, data)

    emb = inits.get("model.embed_tokens.weight")
    if emb is None:
        raise ConvertError("initializer model.embed_tokens.weight is missing (a replica from training/replica.py?)")
    if emb.shape != (V, h):
        raise ConvertError(f"embedding shape {emb.shape} differs from config.json's ({V}, {h})")
    vec("token_embd.weight", "model.embed_tokens.weight")
    for i in range(L):
        b = f"model/layers.{i}"
        vec(f"blk.{i}.attn_norm.weight", f"{b}/input_layernorm.weight")
        for g, o in (("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj")):
            lin(f"blk.{i}.{g}.weight", f"{b}/self_attn/{o}")
            vec(f"blk.{i}.{g}.bias", f"{b}/self_attn/{o}.bias")
        lin(f"blk.{i}.attn_output.weight", f"{b}/self_attn/o_proj")
        vec(f"blk.{i}.ffn_norm.weight", f"{b}/post_attention_layernorm.weight")
        lin(f"blk.{i}.ffn_gate.weight", f"{b}/mlp/gate_proj")
        lin(f"blk.{i}.ffn_up.weight", f"{b}/mlp/up_proj")
        lin(f"blk.{i}.ffn_down.weight", f"{b}/mlp/down_proj")
    vec("output_norm.weight", "model/norm.weight")
    lin("output.weight", "lm_head")
    # general.file_type: 0 all F32, 2 mostly Q4_0, 3 mostly Q4_1
    w.add_u32("general.file_type", 3 if gguf.Q4_1 in types else 2 if gguf.Q4_0 in types else 0)
    tokenizer_metadata(w, model_dir, V, cfg)
    out = out or os.path.join(model_dir, f"model-{variant}.gguf")
    tmp = out + ".tmp"
    try:
        w.write(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--variant", default="q4", help="q4 (onnx/model_q4.onnx) or fp32 (onnx/model.onnx)")
    ap.add_argument("--out", help="output file (default MODEL_DIR/model-VARIANT.gguf)")
    args = ap.parse_args()
    try:
        out = convert(args.model_dir, args.variant, args.out)
    except ConvertError as e:
        print(f"onnx_to_gguf: {e}", file=sys.stderr)
        return 1
    info = gguf.read_gguf(out)
    kinds = {}
    for t in info["tensors"]:
        kinds[gguf.TYPE_NAME[t["type"]]] = kinds.get(gguf.TYPE_NAME[t["type"]], 0) + 1
    print(json.dumps({"out": out, "bytes": os.path.getsize(out), "tensors": len(info["tensors"]), "types": kinds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
