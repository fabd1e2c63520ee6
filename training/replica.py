"""Replicas of public code models: each family's published config.json values, random weights, in the layout the
Hugging Face Hub serves (Optimum / onnx-community): config.json, generation_config.json, tokenizer.json,
tokenizer_config.json and onnx/model.onnx (+ model.onnx_data external data), onnx/model_q4.onnx (+ _data: every
MatMul as com.microsoft MatMulNBits, bits=4, block_size=32, asymmetric with zero points, as onnxruntime's
MatMul4BitsQuantizer used by onnx-community writes it; the embedding Gather stays float32) and onnx/model_fp16.onnx
(fp16 weights and activations inside, float32 inputs/outputs), onnx/model_int8.onnx and model_uint8.onnx (onnxruntime's
dynamic quantization as transformers.js' quantize.py runs it: per-tensor 8-bit weights, DynamicQuantizeLinear +
MatMulInteger, the embedding table stored quantized with a DequantizeLinear after the Gather) and onnx/model_q4g.onnx
(q4 with the embedding table quantized too: com.microsoft GatherBlockQuantized, uint4, blocks of 32 along hidden).
`--variants fp32,q4` is the default.

No weights are downloaded and no torch is needed: the decoder graph is written op by op with onnx.helper + numpy.

    /usr/bin/python3 training/replica.py qwen2 [--size tiny|real|real-1.5b] [--out DIR] [--variants fp32,q4,fp16] [--seed N]
    npm run replica -- qwen2 --size real          # into .cache/replicas/qwen2-real (Qwen2.5-Coder-0.5B)
    npm run replica -- qwen2 --size real-1.5b --variants q4   # into .cache/replicas/qwen2-1.5b (Qwen2.5-Coder-1.5B)

Families: qwen2 (Qwen2.5-Coder-0.5B), llama (CodeLlama-7b), deepseek (deepseek-coder-1.3b-base, model_type llama),
starcoder2 (starcoder2-3b). The tiny size keeps each family's structure (GQA ratio, biases, norm, MLP kind,
tying, special tokens, FIM tokens) at hidden 64, 2 layers. The tokenizer is a small byte-level BPE derived from
models/default/tokenizer.json (its first merges) plus the family's special tokens at the family's positions (first or
last). CodeLlama's real tokenizer is a SentencePiece (Metaspace, byte fallback) one; the replica's is byte-level
with CodeLlama's special token strings.

The last line printed is the folder written.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bytelevel import bytes_to_unicode  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Published config.json values (the fields a decoder export depends on).
FAMILIES = {
    "qwen2": dict(
        hub="Qwen/Qwen2.5-Coder-0.5B", model_type="qwen2", architectures=["Qwen2ForCausalLM"],
        hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
        vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=True, hidden_act="silu", bos_token_id=151643, eos_token_id=151643,
        sliding_window=32768, use_sliding_window=False, max_window_layers=24, attention_dropout=0.0,
        torch_dtype="bfloat16", _norm="rms", _mlp="gated", _qkv_bias=True, _o_bias=False, _mlp_bias=False,
        _specials_first=False,
        _specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                   "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"],
        _bos=None, _eos="<|endoftext|>", _pad="<|endoftext|>", _gen_eos=["<|endoftext|>"]),
    "llama": dict(
        hub="codellama/CodeLlama-7b-hf", model_type="llama", architectures=["LlamaForCausalLM"],
        hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
        vocab_size=32016, max_position_embeddings=16384, rope_theta=1000000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=False, hidden_act="silu", bos_token_id=1, eos_token_id=2, torch_dtype="bfloat16",
        _norm="rms", _mlp="gated", _qkv_bias=False, _o_bias=False, _mlp_bias=False,
        _specials_first=True, _specials=["<unk>", "<s>", "</s>"], _specials_last=["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"],
        _bos="<s>", _eos="</s>", _pad=None, _gen_eos=["</s>"]),
    "deepseek": dict(
        hub="deepseek-ai/deepseek-coder-1.3b-base", model_type="llama", architectures=["LlamaForCausalLM"],
        hidden_size=2048, intermediate_size=5504, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
        vocab_size=32256, max_position_embeddings=16384, rope_theta=100000, rms_norm_eps=1e-6,
        rope_scaling={"type": "linear", "factor": 4.0}, tie_word_embeddings=False, hidden_act="silu",
        bos_token_id=32013, eos_token_id=32014, torch_dtype="bfloat16",
        _norm="rms", _mlp="gated", _qkv_bias=False, _o_bias=False, _mlp_bias=False, _specials_first=False,
        _specials=["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<pad>"],
        _bos="<｜begin▁of▁sentence｜>", _eos="<｜end▁of▁sentence｜>", _pad="<｜end▁of▁sentence｜>",
        _gen_eos=["<｜end▁of▁sentence｜>"]),
    "starcoder2": dict(
        hub="bigcode/starcoder2-3b", model_type="starcoder2", architectures=["Starcoder2ForCausalLM"],
        hidden_size=3072, intermediate_size=12288, num_hidden_layers=30, num_attention_heads=24, num_key_value_heads=2,
        vocab_size=49152, max_position_embeddings=16384, rope_theta=999999.4420358813, norm_epsilon=1e-5,
        use_bias=True, tie_word_embeddings=True, hidden_act="gelu_pytorch_tanh", bos_token_id=0, eos_token_id=0,
        sliding_window=4096, torch_dtype="bfloat16",
        _norm="layer", _mlp="plain", _qkv_bias=True, _o_bias=True, _mlp_bias=True, _specials_first=True,
        _specials=["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<repo_name>",
                   "<file_sep>", "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>",
                   "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<jupyter_script>", "<empty_output>",
                   "<code_to_intermediate>", "<intermediate_to_code>", "<pr>"],
        _bos="<|endoftext|>", _eos="<|endoftext|>", _pad=None, _gen_eos=["<|endoftext|>"]),
    "gpt_bigcode": dict(
        hub="bigcode/starcoderbase-1b", model_type="gpt_bigcode", architectures=["GPTBigCodeForCausalLM"],
        n_embd=2048, n_inner=8192, n_layer=24, n_head=16, multi_query=True, vocab_size=49152, n_positions=8192,
        activation_function="gelu_pytorch_tanh", layer_norm_epsilon=1e-5, scale_attn_weights=True,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, torch_dtype="float32",
        _norm="layer", _mlp="plain", _qkv_bias=True, _o_bias=True, _mlp_bias=True, _specials_first=True,
        _specials=["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
                   "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>",
                   "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>",
                   "<commit_msg>", "<commit_after>", "<reponame>"],
        _bos="<|endoftext|>", _eos="<|endoftext|>", _pad=None, _gen_eos=["<|endoftext|>"]),
}

# gpt_bigcode (StarCoder 1) names its fields as GPT-2 does.
GPT2_NAMES = dict(hidden_size="n_embd", intermediate_size="n_inner", num_hidden_layers="n_layer",
                  num_attention_heads="n_head", max_position_embeddings="n_positions")


def field(cfg, name):
    return cfg[name] if name in cfg else cfg[GPT2_NAMES[name]]


# Other published sizes of a family, selected with --size (the family's entry above is --size real). Only the shape
# fields differ; everything else (tokenizer, special tokens, biases, tying) is the family's.
SIZES = {
    "qwen2": {
        # Qwen/Qwen2.5-Coder-1.5B config.json (Qwen2ForCausalLM).
        "real-1.5b": dict(hub="Qwen/Qwen2.5-Coder-1.5B", hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                          num_attention_heads=12, num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768,
                          rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, max_window_layers=21),
    },
}
SIZE_DIRS = {"real-1.5b": "1.5b"}

TINY = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, max_position_embeddings=2048)
TINY_MERGES = 200


def make_tokenizer(fam, merges_wanted):
    """A byte-level BPE: the 256 byte symbols, the first merges of the project's tokenizer, the family's specials."""
    src = json.load(open(os.path.join(ROOT, "models", "default", "tokenizer.json"), encoding="utf-8"))
    byte_chars = bytes_to_unicode()
    pieces = [byte_chars[b] for b in range(256)]
    have = set(pieces)
    merges = []
    for m in src["model"]["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        if a in have and b in have and a + b not in have:
            merges.append(f"{a} {b}")
            pieces.append(a + b)
            have.add(a + b)
            if len(merges) >= merges_wanted:
                break
    first = fam["_specials"] if fam["_specials_first"] else []
    last = fam.get("_specials_last", []) if fam["_specials_first"] else fam["_specials"]
    order = first + pieces + last
    vocab = {p: i for i, p in enumerate(order) if p not in first and p not in last}
    specials = [(t, order.index(t)) for t in first + last]
    added = [dict(id=i, content=t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
             for t, i in specials]
    tok = dict(src)
    tok["added_tokens"] = added
    tok["model"] = dict(src["model"], vocab=vocab, merges=merges)
    return tok, len(order), dict(specials)


def build(family, size, out, seed=0, variants=("fp32", "q4")):
    fam = FAMILIES[family]
    if size not in ("tiny", "real"):
        if size not in SIZES.get(family, {}):
            raise SystemExit(f"replica: --size {size} is not defined for {family} (sizes: tiny, real{''.join(', ' + k for k in SIZES.get(family, {}))})")
        fam = {**fam, **SIZES[family][size]}
    cfg = {k: v for k, v in fam.items() if not k.startswith("_") and k != "hub"}
    tok, tok_size, special_ids = make_tokenizer(fam, TINY_MERGES)
    if size == "tiny" and family == "gpt_bigcode":
        cfg.update({GPT2_NAMES[k]: v for k, v in TINY.items()}, n_head=4, vocab_size=tok_size, n_positions=256)
    elif size == "tiny":
        heads, kv = fam["num_attention_heads"], fam["num_key_value_heads"]
        t_kv = 4 if kv == heads else 2  # MHA stays MHA, GQA keeps 2 groups of 2 heads
        cfg.update(TINY, num_attention_heads=4, num_key_value_heads=t_kv, vocab_size=tok_size)
        if "max_window_layers" in cfg:
            cfg["max_window_layers"] = cfg["num_hidden_layers"]
    # Special token ids of the replica's tokenizer (tiny: exact; real: the published ids are kept in config.json,
    # the replica's small tokenizer places its specials at its own ids, which only the tiny replicas are used with).
    for key, tname in (("bos_token_id", fam["_bos"]), ("eos_token_id", fam["_eos"])):
        if size == "tiny":
            cfg[key] = special_ids[tname] if tname else None
    if size == "tiny" and "pad_token_id" in cfg:
        cfg["pad_token_id"] = special_ids.get(fam["_pad"])
    cfg["_name_or_path"] = fam["hub"] + f" (replica, {size}, random weights)"
    cfg["transformers_version"] = "4.46.0"
    cfg["use_cache"] = True
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2, ensure_ascii=False)
    gen = {"bos_token_id": cfg.get("bos_token_id"), "eos_token_id": cfg["eos_token_id"], "transformers_version": "4.46.0"}
    json.dump(gen, open(os.path.join(out, "generation_config.json"), "w"), indent=2)
    json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    tcfg = {
        "tokenizer_class": "LlamaTokenizerFast" if fam["model_type"] == "llama" else ("Qwen2TokenizerFast" if family == "qwen2" else "GPT2TokenizerFast"),
        "bos_token": fam["_bos"], "eos_token": fam["_eos"], "pad_token": fam["_pad"], "unk_token": None,
        "add_bos_token": fam["_bos"] is not None and fam["model_type"] == "llama", "add_eos_token": False,
        "clean_up_tokenization_spaces": False, "model_max_length": field(cfg, "max_position_embeddings"),
        "additional_special_tokens": [t for t in fam["_specials"] + fam.get("_specials_last", []) if t not in (fam["_bos"], fam["_eos"], fam["_pad"])],
        "added_tokens_decoder": {str(i): {"content": t, "special": True, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False} for t, i in special_ids.items()},
    }
    json.dump(tcfg, open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8"), indent=2, ensure_ascii=False)

    rng = np.random.default_rng(seed)
    weights = make_weights(fam, cfg, rng)
    names = {"fp32": ("model", None), "q4": ("model_q4", "q4"), "fp16": ("model_fp16", "fp16"),
             "int8": ("model_int8", "int8"), "uint8": ("model_uint8", "uint8"), "q4g": ("model_q4g", "q4g")}
    for name, kind in (names[v] for v in variants):
        model = make_graph(fam, cfg, weights, kind)
        path = os.path.join(out, "onnx", name + ".onnx")
        for f in (path, path + "_data"):
            if os.path.exists(f):
                os.remove(f)
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=name + ".onnx_data", size_threshold=1024)
        if kind is None:
            onnx.checker.check_model(path)
    return out


def make_weights(fam, cfg, rng):
    h, inter, L = field(cfg, "hidden_size"), field(cfg, "intermediate_size"), field(cfg, "num_hidden_layers")
    H = field(cfg, "num_attention_heads")
    KV = 1 if cfg.get("multi_query") else cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim", h // H)
    V = cfg["vocab_size"]
    std = 0.02 if h > 256 else 0.15

    def r(*shape, s=std):
        return (rng.standard_normal(shape, dtype=np.float32) * s).astype(np.float32)

    w = {"embed": r(V, h, s=0.5 if h <= 256 else 0.02)}
    if fam["model_type"] == "gpt_bigcode":
        w["wpe"] = r(field(cfg, "max_position_embeddings"), h, s=0.1 if h <= 256 else 0.01)
    for i in range(L):
        p = f"layers.{i}."
        w[p + "ln1"] = (1 + r(h, s=0.1)).astype(np.float32)
        w[p + "ln2"] = (1 + r(h, s=0.1)).astype(np.float32)
        if fam["_norm"] == "layer":
            w[p + "ln1_b"] = r(h, s=0.05)
            w[p + "ln2_b"] = r(h, s=0.05)
        w[p + "q"], w[p + "k"], w[p + "v"], w[p + "o"] = r(h, H * hd), r(h, KV * hd), r(h, KV * hd), r(H * hd, h)
        if fam["_qkv_bias"]:
            w[p + "q_b"], w[p + "k_b"], w[p + "v_b"] = r(H * hd, s=0.1), r(KV * hd, s=0.1), r(KV * hd, s=0.1)
        if fam["_o_bias"]:
            w[p + "o_b"] = r(h, s=0.05)
        if fam["_mlp"] == "gated":
            w[p + "gate"], w[p + "up"], w[p + "down"] = r(h, inter), r(h, inter), r(inter, h)
        else:
            w[p + "fc"], w[p + "proj"] = r(h, inter), r(inter, h)
            if fam["_mlp_bias"]:
                w[p + "fc_b"], w[p + "proj_b"] = r(inter, s=0.05), r(h, s=0.05)
    w["norm"] = (1 + r(h, s=0.1)).astype(np.float32)
    if fam["_norm"] == "layer":
        w["norm_b"] = r(h, s=0.05)
    w["lm_head"] = np.ascontiguousarray(w["embed"].T) if cfg["tie_word_embeddings"] else r(h, V, s=0.5 if h <= 256 else 0.02)
    return w


def quantize_q4(W, block=32, symmetric=True):
    """MatMulNBits B / scales (/ zero_points) for x @ W (W [K, N]): per output column, blocks of 32 along K.

    Symmetric (what transformers.js' scripts/quantize.py asks onnxruntime's MatMul4BitsQuantizer for by default):
    scale = (the block's value of largest magnitude) / -8, q = round(w / scale) + 8 in 0..15, no zero_points input
    (MatMulNBits then assumes 8). Asymmetric: min/max range with packed uint4 zero points."""
    K, N = W.shape
    nb = (K + block - 1) // block
    pad = nb * block - K
    Wt = np.pad(W.T, ((0, 0), (0, pad))).reshape(N, nb, block)
    if symmetric:
        idx = np.abs(Wt).argmax(-1)
        m = np.take_along_axis(Wt, idx[..., None], -1)[..., 0]
        scale = m / -8
        scale[scale == 0] = 1
        zp = np.full(scale.shape, 8, dtype=np.uint8)
    else:
        mn = np.minimum(Wt.min(-1), 0)
        mx = np.maximum(Wt.max(-1), 0)
        scale = (mx - mn) / 15
        scale[scale == 0] = 1
        zp = np.clip(np.round(-mn / scale), 0, 15).astype(np.uint8)
    q = np.clip(np.round(Wt / scale[..., None]) + zp[..., None], 0, 15).astype(np.uint8)
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)  # [N, nb, block/2], low nibble first
    if symmetric:
        return packed, scale.astype(np.float32).reshape(-1), None
    zpp = np.pad(zp, ((0, 0), (0, nb % 2)))
    zpacked = (zpp[:, 0::2] | (zpp[:, 1::2] << 4)).astype(np.uint8).reshape(-1)
    return packed, scale.astype(np.float32).reshape(-1), zpacked


def quantize_int8(W, signed=True):
    """Per-tensor 8-bit weights as onnxruntime's dynamic (IntegerOps) quantizer writes them: int8 symmetric
    (zero point 0) or uint8 asymmetric."""
    if signed:
        scale = max(float(np.abs(W).max()), 1e-8) / 127
        return np.clip(np.round(W / scale), -127, 127).astype(np.int8), np.float32(scale), np.int8(0)
    lo, hi = min(float(W.min()), 0.0), max(float(W.max()), 0.0)
    scale = max(hi - lo, 1e-8) / 255
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return np.clip(np.round(W / scale) + zp, 0, 255).astype(np.uint8), np.float32(scale), np.uint8(zp)


class G:
    def __init__(self, kind):
        self.nodes, self.inits, self.kind, self.n = [], [], kind, 0
        self.ft = TensorProto.FLOAT16 if kind == "fp16" else TensorProto.FLOAT
        self.np_ft = np.float16 if kind == "fp16" else np.float32

    def name(self, base):
        self.n += 1
        return f"/{base}_{self.n}"

    def op(self, op_type, inputs, base=None, domain=None, outputs=None, **attrs):
        base = base or op_type
        outs = outputs or [self.name(base) + "_output_0"]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(base), domain=domain, **attrs))
        return outs[0]

    def const(self, value, name=None, dtype=None):
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype in (np.float32, np.float64) and dtype is None:
            arr = arr.astype(self.np_ft)
        name = name or f"const_{self.n}_{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def i64(self, v):
        return self.const(np.asarray(v, dtype=np.int64))

    def linear(self, x, W, name, bias=None):
        if self.kind in ("q4", "q4g") and W.shape[0] % 32 == 0:
            B, s, z = quantize_q4(W)
            K, N = W.shape
            ins = [x, self.const(B, name + ".weight_Q4"), self.const(s, name + ".weight_scales", np.float32)]
            if z is not None:
                ins.append(self.const(z, name + ".weight_zp"))
            y = self.op("MatMulNBits", ins, base=name + "/MatMul", domain="com.microsoft", K=K, N=N, bits=4, block_size=32)
        elif self.kind in ("int8", "uint8"):
            # onnxruntime.quantization dynamic IntegerOps: DynamicQuantizeLinear + MatMulInteger + Cast + Mul.
            q, s, z = quantize_int8(W, signed=self.kind == "int8")
            xq = self.op("DynamicQuantizeLinear", [x], base=name + "/MatMul_quant", outputs=[self.name(name) + o for o in ("_q", "_scale", "_zp")])
            xs, xz = self.nodes[-1].output[1], self.nodes[-1].output[2]
            mi = self.op("MatMulInteger", [xq, self.const(q, name + ".weight_quantized"), xz, self.const(z, name + ".weight_zero_point")], base=name + "/MatMul_quant")
            sc = self.op("Mul", [xs, self.const(s, name + ".weight_scale", np.float32)], base=name + "/MatMul_quant_scales_mul")
            y = self.op("Mul", [self.op("Cast", [mi], to=TensorProto.FLOAT), sc], base=name + "/MatMul_quant_output_scale_mul")
        else:
            y = self.op("MatMul", [x, self.const(W, "onnx::MatMul_" + name)], base=name + "/MatMul")
        if bias is not None:
            y = self.op("Add", [y, self.const(bias, name + ".bias")], base=name + "/Add")
        return y


def make_graph(fam, cfg, w, kind):
    g = G(kind)
    h, L = field(cfg, "hidden_size"), field(cfg, "num_hidden_layers")
    H = field(cfg, "num_attention_heads")
    KV = 1 if cfg.get("multi_query") else cfg.get("num_key_value_heads", H)
    bigcode = fam["model_type"] == "gpt_bigcode"
    hd = cfg.get("head_dim", h // H)
    V, G_ = cfg["vocab_size"], H // KV
    eps = cfg.get("rms_norm_eps", cfg.get("norm_epsilon", cfg.get("layer_norm_epsilon", 1e-5)))
    ft = g.ft
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", V])]
    for i in range(L):
        if bigcode:
            # Optimum's gpt_bigcode cache: one fused tensor per layer, [batch, past, 2 * head_dim] with multi-query.
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.key_value", TensorProto.FLOAT, ["batch_size", "past_sequence_length", 2 * hd]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.key_value", TensorProto.FLOAT, ["batch_size", "total_sequence_length", 2 * hd]))
            continue
        for t in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{t}", TensorProto.FLOAT, ["batch_size", KV, "past_sequence_length", hd]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{t}", TensorProto.FLOAT, ["batch_size", KV, "total_sequence_length", hd]))

    if kind == "q4g":
        # MatMulNBitsQuantizer with Gather among the ops to quantize: com.microsoft GatherBlockQuantized, uint4
        # blocks of 32 along the hidden axis, one scale per block (symmetric: no zero points, 8 implied).
        E = w["embed"]
        V_, h_ = E.shape
        blocks = E.reshape(V_, h_ // 32, 32)
        idx = np.abs(blocks).argmax(-1)
        m = np.take_along_axis(blocks, idx[..., None], -1)[..., 0]
        scale = m / -8
        scale[scale == 0] = 1
        q = np.clip(np.round(blocks / scale[..., None]) + 8, 0, 15).astype(np.uint8).reshape(V_, h_)
        packed = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8)
        t = TensorProto()  # onnx 1.12 predates the uint4 type (21): the tensor is written field by field
        t.name, t.data_type, t.raw_data = "model.embed_tokens.weight_Q4", 21, packed.tobytes()
        t.dims.extend([V_, h_])
        g.inits.append(t)
        x = g.op("GatherBlockQuantized", ["model.embed_tokens.weight_Q4", "input_ids", g.const(scale.astype(np.float32), "model.embed_tokens.weight_scales", np.float32)],
                 base="model/embed_tokens/GatherBlockQuantized", domain="com.microsoft", gather_axis=0, quantize_axis=1, block_size=32)
    elif kind in ("int8", "uint8"):
        # GatherQuant of the dynamic quantizer: the table is stored quantized, DequantizeLinear after the lookup.
        q, s, z = quantize_int8(w["embed"], signed=kind == "int8")
        xq = g.op("Gather", [g.const(q, "model.embed_tokens.weight_quantized"), "input_ids"], base="model/embed_tokens/Gather", axis=0)
        x = g.op("DequantizeLinear", [xq, g.const(s, "model.embed_tokens.weight_scale", np.float32), g.const(z, "model.embed_tokens.weight_zero_point")], base="model/embed_tokens/Gather_output_dequantized")
    else:
        x = g.op("Gather", [g.const(w["embed"], "model.embed_tokens.weight"), "input_ids"], base="model/embed_tokens/Gather", axis=0)

    def norm(x, wname, bname, base):
        if fam["_norm"] == "rms":
            # As torch exports the HF RMSNorm: x.pow(2) is Pow(x, 2), torch.rsqrt is Div(1, Sqrt) (onnxruntime fuses
            # exactly this into SimplifiedLayerNormalization when it loads the graph; Mul(x, x) or Reciprocal it would not).
            sq = g.op("Pow", [x, g.const(np.float32(2.0))], base=base + "/Pow")
            ms = g.op("ReduceMean", [sq], base=base + "/ReduceMean", axes=[-1], keepdims=1)
            inv = g.op("Div", [g.const(np.float32(1.0)), g.op("Sqrt", [g.op("Add", [ms, g.const(np.float32(eps))])])])
            return g.op("Mul", [g.const(w[wname], base + ".weight"), g.op("Mul", [x, inv])], base=base + "/Mul")
        mu = g.op("ReduceMean", [x], axes=[-1], keepdims=1)
        d = g.op("Sub", [x, mu])
        var = g.op("ReduceMean", [g.op("Mul", [d, d])], axes=[-1], keepdims=1)
        y = g.op("Div", [d, g.op("Sqrt", [g.op("Add", [var, g.const(np.float32(eps))])])])
        return g.op("Add", [g.op("Mul", [y, g.const(w[wname], base + ".weight")]), g.const(w[bname], base + ".bias")], base=base + "/Add")

    if bigcode:
        x = g.op("Add", [x, g.op("Gather", [g.const(w["wpe"], "transformer.wpe.weight"), "position_ids"], base="transformer/wpe/Gather", axis=0)])
    # Rotary tables from position_ids: [b, 1, s, hd] (linear rope scaling divides positions by the factor).
    theta = cfg.get("rope_theta", 10000.0)
    inv_freq = (1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)).astype(np.float32)
    if cfg.get("rope_scaling", {}) and cfg["rope_scaling"].get("type") == "linear":
        inv_freq = (inv_freq / cfg["rope_scaling"]["factor"]).astype(np.float32)
    pos = g.op("Unsqueeze", [g.op("Cast", ["position_ids"], to=TensorProto.FLOAT), g.i64([-1])])
    fr = g.op("Mul", [pos, g.const(inv_freq, "rotary.inv_freq", np.float32)])
    emb = g.op("Concat", [fr, fr], axis=-1)
    cos = g.op("Unsqueeze", [g.op("Cos", [emb]), g.i64([1])], base="rotary/cos")
    sin = g.op("Unsqueeze", [g.op("Sin", [emb]), g.i64([1])], base="rotary/sin")
    if kind == "fp16":
        cos, sin = g.op("Cast", [cos], to=ft), g.op("Cast", [sin], to=ft)

    # Mask [b, 1, 1, s, T]: key j visible to query i when attention_mask[b, j] and j <= past + i.
    shp_ids = g.op("Shape", ["input_ids"])
    s_len = g.op("Gather", [shp_ids, g.i64(1)], axis=0)
    t_len = g.op("Gather", [g.op("Shape", ["attention_mask"]), g.i64(1)], axis=0)
    past = g.op("Sub", [t_len, s_len])
    kpos = g.op("Range", [g.i64(0), t_len, g.i64(1)])
    qpos = g.op("Range", [past, t_len, g.i64(1)])
    causal = g.op("Not", [g.op("Greater", [g.op("Unsqueeze", [kpos, g.i64([0])]), g.op("Unsqueeze", [qpos, g.i64([1])])])])
    am = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], to=TensorProto.BOOL), g.i64([1, 2, 3])])
    visible = g.op("And", [am, causal])  # [b, 1, 1, s, T]
    neg = g.const(np.float32(-1e4) if kind == "fp16" else np.float32(-3.4e38), "mask_min")

    def rope(t):
        half = hd // 2
        x1 = g.op("Slice", [t, g.i64([0]), g.i64([half]), g.i64([-1])])
        x2 = g.op("Slice", [t, g.i64([half]), g.i64([hd]), g.i64([-1])])
        rot = g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)
        return g.op("Add", [g.op("Mul", [t, cos]), g.op("Mul", [rot, sin])])

    for i in range(L):
        p = f"layers.{i}."
        base = f"model/layers.{i}"
        xn = norm(x, p + "ln1", p + "ln1_b", base + "/input_layernorm")
        q = g.linear(xn, w[p + "q"], f"{base}/self_attn/q_proj", w.get(p + "q_b"))
        k = g.linear(xn, w[p + "k"], f"{base}/self_attn/k_proj", w.get(p + "k_b"))
        v = g.linear(xn, w[p + "v"], f"{base}/self_attn/v_proj", w.get(p + "v_b"))
        q = g.op("Transpose", [g.op("Reshape", [q, g.i64([0, 0, H, hd])])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [k, g.i64([0, 0, KV, hd])])], perm=[0, 2, 1, 3])
        v = g.op("Transpose", [g.op("Reshape", [v, g.i64([0, 0, KV, hd])])], perm=[0, 2, 1, 3])
        if bigcode:
            # Fused cache: present [b, T, 2*hd] = past ++ (k ++ v); heads share the one key/value head.
            kv_new = g.op("Concat", [g.op("Reshape", [k, g.i64([0, -1, hd])]), g.op("Reshape", [v, g.i64([0, -1, hd])])], axis=-1)
            pkv = f"past_key_values.{i}.key_value"
            if kind == "fp16":
                pkv = g.op("Cast", [pkv], to=ft)
            fused = g.op("Concat", [pkv, kv_new], axis=1)
            g.op("Cast" if kind == "fp16" else "Identity", [fused], outputs=[f"present.{i}.key_value"], **({"to": TensorProto.FLOAT} if kind == "fp16" else {}))
            kk = g.op("Unsqueeze", [g.op("Slice", [fused, g.i64([0]), g.i64([hd]), g.i64([-1])]), g.i64([1])])
            vv = g.op("Unsqueeze", [g.op("Slice", [fused, g.i64([hd]), g.i64([2 * hd]), g.i64([-1])]), g.i64([1])])
        else:
            q, k = rope(q), rope(k)
        pk, pv = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        if bigcode:
            pass
        elif kind == "fp16":
            pk, pv = g.op("Cast", [pk], to=ft), g.op("Cast", [pv], to=ft)
        if not bigcode:
            kk = g.op("Concat", [pk, k], axis=2)
            vv = g.op("Concat", [pv, v], axis=2)
        if bigcode:
            pass
        elif kind == "fp16":
            g.op("Cast", [kk], to=TensorProto.FLOAT, outputs=[f"present.{i}.key"])
            g.op("Cast", [vv], to=TensorProto.FLOAT, outputs=[f"present.{i}.value"])
        else:
            g.op("Identity", [kk], outputs=[f"present.{i}.key"])
            g.op("Identity", [vv], outputs=[f"present.{i}.value"])
        q5 = g.op("Reshape", [q, g.i64([0, KV, G_, -1, hd])])
        kt = g.op("Unsqueeze", [g.op("Transpose", [kk], perm=[0, 1, 3, 2]), g.i64([2])])
        scores = g.op("Mul", [g.op("MatMul", [q5, kt]), g.const(np.float32(1 / np.sqrt(hd)))])
        scores = g.op("Where", [visible, scores, neg])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("MatMul", [probs, g.op("Unsqueeze", [vv, g.i64([2])])])  # [b, KV, G, s, hd]
        ctx = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [ctx, g.i64([0, H, -1, hd])])], perm=[0, 2, 1, 3]), g.i64([0, 0, H * hd])])
        x = g.op("Add", [x, g.linear(ctx, w[p + "o"], f"{base}/self_attn/o_proj", w.get(p + "o_b"))])
        xn = norm(x, p + "ln2", p + "ln2_b", base + "/post_attention_layernorm")
        if fam["_mlp"] == "gated":
            gt = g.linear(xn, w[p + "gate"], f"{base}/mlp/gate_proj")
            act = g.op("Mul", [gt, g.op("Sigmoid", [gt])])
            m = g.linear(g.op("Mul", [act, g.linear(xn, w[p + "up"], f"{base}/mlp/up_proj")]), w[p + "down"], f"{base}/mlp/down_proj")
        else:
            f = g.linear(xn, w[p + "fc"], f"{base}/mlp/c_fc", w.get(p + "fc_b"))
            # gelu (tanh approximation)
            c = g.op("Tanh", [g.op("Mul", [g.const(np.float32(np.sqrt(2 / np.pi))),
                                          g.op("Add", [f, g.op("Mul", [g.const(np.float32(0.044715)), g.op("Mul", [f, g.op("Mul", [f, f])])])])])])
            act = g.op("Mul", [g.op("Mul", [f, g.const(np.float32(0.5))]), g.op("Add", [c, g.const(np.float32(1))])])
            m = g.linear(act, w[p + "proj"], f"{base}/mlp/c_proj", w.get(p + "proj_b"))
        x = g.op("Add", [x, m])
    x = norm(x, "norm", "norm_b", "model/norm")
    logits = g.linear(x, w["lm_head"], "lm_head")
    if kind == "fp16":
        g.op("Cast", [logits], to=TensorProto.FLOAT, outputs=["logits"])
    else:
        g.op("Identity", [logits], outputs=["logits"])
    graph = helper.make_graph(g.nodes, "main_graph", inputs, outputs, initializer=g.inits)
    opsets = [helper.make_opsetid("", 14)]
    if kind in ("q4", "q4g"):
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="superdraft-replica", ir_version=8)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=sorted(FAMILIES))
    sizes = ["tiny", "real"] + sorted({k for v in SIZES.values() for k in v})
    ap.add_argument("--size", choices=sizes, default="tiny",
                    help="tiny (test fixtures), real (the family's published size), real-1.5b (qwen2 only: Qwen2.5-Coder-1.5B)")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="fp32,q4", help="comma-separated: fp32 (model.onnx), q4 (model_q4.onnx), fp16 (model_fp16.onnx), int8 / uint8 (model_int8.onnx / model_uint8.onnx), q4g (model_q4g.onnx: q4 + GatherBlockQuantized embedding)")
    a = ap.parse_args()
    if a.size not in ("tiny", "real") and a.size not in SIZES.get(a.family, {}):
        ap.error(f"--size {a.size} is not defined for {a.family} (sizes: tiny, real{''.join(', ' + k for k in SIZES.get(a.family, {}))})")
    out = a.out or os.path.join(ROOT, ".cache", "replicas", f"{a.family}-{SIZE_DIRS.get(a.size, a.size)}")
    hub = SIZES.get(a.family, {}).get(a.size, FAMILIES[a.family])["hub"]
    print(f"replica: {a.family} ({hub}), size {a.size}", file=sys.stderr)
    variants = [v for v in a.variants.split(",") if v]
    bad = [v for v in variants if v not in ("fp32", "q4", "fp16", "int8", "uint8", "q4g")]
    if bad or not variants:
        ap.error(f"--variants: unknown {bad} (expected fp32, q4, fp16, int8, uint8)")
    build(a.family, a.size, out, seed=a.seed, variants=variants)
    print(os.path.abspath(out))


if __name__ == "__main__":
    main()
