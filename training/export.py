"""Stage 4: export the trained checkpoint to ONNX (Optimum decoder layout + superposition input) and write the
model directory: model(.onnx), config.json, tokenizer.json, tokenizer_config.json, reference.json.

Graph I/O (see models/default/README.md):
  inputs  input_ids int64 [batch, seq, k], token_weights float32 [batch, seq, k], attention_mask int64
          [batch, past+seq], position_ids int64 [batch, seq], past_key_values.{i}.key/.value float32
          [batch, kv_heads, past, head_dim]
  outputs logits float32 [batch, seq, vocab], present.{i}.key/.value float32 [batch, kv_heads, past+seq, head_dim],
          present_delta.{i}.key/.value float32 [batch, kv_heads, seq, head_dim] (the entries this forward appends)
The superposed embedding is sum_k token_weights[..., k] * E[input_ids[..., k]].
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
from train import load_model_from_checkpoint  # noqa: E402

WORK = os.environ.get("SD_WORK", os.path.join(HERE, "work"))
OPSET = 14


class OnnxWrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, token_weights, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = self.m.forward_onnx(input_ids, token_weights, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def io_names(n_layers):
    inputs = ["input_ids", "token_weights", "attention_mask", "position_ids"]
    outputs = ["logits"]
    for i in range(n_layers):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


def dedupe_tied_head(m, emb_name):
    """Constant folding stores the tied output projection as a transposed copy of the embedding; point that
    MatMul at the embedding itself (Gemm with transB=1) so the weights are stored once."""
    from onnx import helper, numpy_helper
    inits = {i.name: i for i in m.graph.initializer}
    if emb_name not in inits:
        return
    E = numpy_helper.to_array(inits[emb_name])
    for idx, node in enumerate(m.graph.node):
        if node.op_type == "MatMul" and node.input[1] in inits:
            W = numpy_helper.to_array(inits[node.input[1]])
            if W.shape == E.T.shape and np.array_equal(W, E.T):
                gemm = helper.make_node("Gemm", [node.input[0], emb_name], list(node.output), name=node.name + "_tied",
                                        transB=1)
                m.graph.node.remove(node)
                m.graph.node.insert(idx, gemm)
                used = {i for n in m.graph.node for i in n.input}
                for init in list(m.graph.initializer):
                    if init.name not in used:
                        m.graph.initializer.remove(init)
                return


def add_kv_delta_outputs(m):
    """Adds outputs present_delta.{i}.key/.value [batch, kv_heads, seq, head_dim]: the entries this forward appends
    to the cache, i.e. the second input of the Concat that makes present.{i}.*. A runtime that keeps its own
    append-only cache fetches these instead of the whole present: onnxruntime-node copies every fetched output into
    a new buffer, so fetching present costs a copy of the whole cache per decoding step. Idempotent; returns the
    number of outputs added."""
    from onnx import TensorProto, helper
    have = {o.name for o in m.graph.output}
    producer = {o: n for n in m.graph.node for o in n.output}
    added = 0
    for out in list(m.graph.output):
        if not out.name.startswith("present."):
            continue
        name = out.name.replace("present.", "present_delta.", 1)
        if name in have:
            continue
        node = producer.get(out.name)
        if node is None or node.op_type != "Concat" or len(node.input) != 2:
            raise ValueError(f"{out.name} is not Concat(past, new): cannot add {name}")
        m.graph.node.append(helper.make_node("Identity", [node.input[1]], [name], name=name + "_identity"))
        dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
        dims[2] = "sequence"
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
        added += 1
    return added


def export_onnx(model, path):
    c = model.c
    model.eval()
    w = OnnxWrapper(model)
    B, S, K, P = 2, 3, 2, 4
    ids = torch.randint(0, c.vocab_size, (B, S, K))
    tw = torch.rand(B, S, K)
    am = torch.ones(B, P + S, dtype=torch.long)
    pos = torch.arange(P, P + S)[None].expand(B, S).contiguous()
    past = []
    for _ in range(c.num_hidden_layers):
        past += [torch.randn(B, c.num_key_value_heads, P, c.head_dim), torch.randn(B, c.num_key_value_heads, P, c.head_dim)]
    inputs, outputs = io_names(c.num_hidden_layers)
    dyn = {"input_ids": {0: "batch", 1: "sequence", 2: "k"}, "token_weights": {0: "batch", 1: "sequence", 2: "k"},
           "attention_mask": {0: "batch", 1: "total_sequence"}, "position_ids": {0: "batch", 1: "sequence"},
           "logits": {0: "batch", 1: "sequence"}}
    for i in range(c.num_hidden_layers):
        for kind in ("key", "value"):
            dyn[f"past_key_values.{i}.{kind}"] = {0: "batch", 2: "past_sequence"}
            dyn[f"present.{i}.{kind}"] = {0: "batch", 2: "total_sequence"}
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(w, (ids, tw, am, pos, *past), tmp, input_names=inputs, output_names=outputs,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
    m = onnx.load(tmp)
    dedupe_tied_head(m, "m.embed_tokens.weight")
    add_kv_delta_outputs(m)
    onnx.checker.check_model(m)
    m.producer_name = "superdraft-training"
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return m


def run_torch(model, ids_k, weights, past=None, past_len=0):
    """Reference forward through forward_onnx for batch 1."""
    c = model.c
    ids = torch.tensor(ids_k, dtype=torch.long)[None]
    tw = torch.tensor(weights, dtype=torch.float32)[None]
    S = ids.shape[1]
    am = torch.ones(1, past_len + S, dtype=torch.long)
    pos = torch.arange(past_len, past_len + S)[None]
    if past is None:
        past = [(torch.zeros(1, c.num_key_value_heads, 0, c.head_dim),) * 2 for _ in range(c.num_hidden_layers)]
    with torch.no_grad():
        logits, presents = model.forward_onnx(ids, tw, am, pos, past)
    return logits[0], presents


def reference(model, tok, n_top=16):
    texts = {
        "python": "<|file_sep|>utils/strings.py\ndef reverse_words(text):\n    words = text.split()\n    return ",
        "typescript": "<|file_sep|>src/math.ts\nexport function clamp(value: number, min: number, max: number): number {\n  return ",
        "fim": "<|file_sep|>src/app.js\n<|fim_prefix|><|fim_suffix|>\n}\n<|fim_middle|>function add(a, b) {\n  return",
    }
    cases = []
    for name, text in texts.items():
        ids = tok.encode(text)
        logits, _ = run_torch(model, [[i] for i in ids], [[1.0] for _ in ids])
        last = logits[-1]
        top = torch.topk(last, n_top)
        cases.append({"name": name, "text": text, "input_ids": ids,
                      "top_ids": top.indices.tolist(), "top_logits": [round(float(v), 5) for v in top.values],
                      "logsumexp": round(float(torch.logsumexp(last, -1)), 5)})
    # superposition: last position mixes two tokens
    base = cases[0]["input_ids"]
    alt = tok.encode(" ")[0]
    ids_k = [[i, i] for i in base[:-1]] + [[base[-1], alt]]
    w = [[1.0, 0.0] for _ in base[:-1]] + [[0.7, 0.3]]
    logits, _ = run_torch(model, ids_k, w)
    top = torch.topk(logits[-1], n_top)
    cases.append({"name": "superposed", "input_ids_k": ids_k, "token_weights": w,
                  "top_ids": top.indices.tolist(), "top_logits": [round(float(v), 5) for v in top.values],
                  "logsumexp": round(float(torch.logsumexp(logits[-1], -1)), 5)})
    tok_cases = []
    for s in ["\tif (x) {\r\n\t\treturn 'ünïcödé ✓ 日本語';\r\n\t}\n", "def f():\n    pass  # tab\there\n",
              "  const x = 42;\n<|fim_middle|>emoji 🚀 done\n", "a\u00a0b\u2028c\r\rd"]:
        tok_cases.append({"text": s, "ids": tok.encode(s)})
    return {"tolerance": {"fp32_abs": 2e-3,
                          "note": "max |logit difference| over the recorded top ids: ONNX Runtime fp32 vs PyTorch fp32 "
                                  "on the same graph (float reassociation only, a few 1e-5 on any CPU; the bound leaves "
                                  "two orders of magnitude)"},
            "cases": cases, "tokenizer": tok_cases}


def config_json(c, state, variants, default):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "vocab_size": c.vocab_size,
        "max_position_embeddings": c.max_position_embeddings,
        "rope_theta": c.rope_theta,
        "rms_norm_eps": c.rms_norm_eps,
        "hidden_act": "silu",
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": 0,
        "pad_token_id": 4,
        "torch_dtype": "float32",
        "superdraft": {
            "onnx": {"default": default, "variants": variants},
            "fim": {"format": "spm", "prefix": "<|fim_prefix|>", "suffix": "<|fim_suffix|>",
                    "middle": "<|fim_middle|>", "pad": "<|fim_pad|>", "file_sep": "<|file_sep|>",
                    "eos": "<|endoftext|>"},
            "token_ids": {t: i for i, t in enumerate(bpe.SPECIAL_TOKENS)},
            "superposition": {"input": "input_ids", "weights": "token_weights"},
            "ngrams": "ngrams.bin",
            "training": {"step": state["step"], "tokens": state["tokens"],
                         "train_minutes": round(state["elapsed"] / 60, 1)},
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt-dir", default=os.path.join(WORK, "train"))
    ap.add_argument("--out", default=os.path.join(WORK, "export"))
    ap.add_argument("--add-kv-delta", nargs="+", metavar="MODEL",
                    help="only add the present_delta.* outputs to these exported ONNX files (in place)")
    args = ap.parse_args()
    if args.add_kv_delta:
        for path in args.add_kv_delta:
            m = onnx.load(path)
            n = add_kv_delta_outputs(m)
            onnx.checker.check_model(m)
            onnx.save(m, path + ".tmp")
            os.replace(path + ".tmp", path)
            print(f"{path}: {n} present_delta outputs added")
        return
    t0 = time.time()
    torch.set_num_threads(2)
    model, state = load_model_from_checkpoint(args.ckpt_dir)
    model.eval()
    tok = bpe.Tokenizer.load(os.path.join(WORK, "tokenizer", "merges.json"))
    os.makedirs(args.out, exist_ok=True)
    export_onnx(model, os.path.join(args.out, "model_fp32.onnx"))
    ref = reference(model, tok)
    ref["checkpoint"] = {"step": state["step"], "tokens": state["tokens"]}
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    with open(os.path.join(args.out, "model_config.json"), "w") as f:
        json.dump({"config": model.c.to_dict(), "step": state["step"], "tokens": state["tokens"],
                   "elapsed": state["elapsed"], "params": model.num_params(), "args": state.get("args", {})}, f, indent=1)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(WORK, "tokenizer", name), os.path.join(args.out, name))
    print(f"export: {args.out}/model_fp32.onnx ({os.path.getsize(os.path.join(args.out, 'model_fp32.onnx'))/1e6:.1f} MB)"
          f" from step {state['step']} in {time.time()-t0:.0f}s")


if __name__ == "__main__":
    main()
