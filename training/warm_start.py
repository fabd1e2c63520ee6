"""Warm restart from a shipped model: the weights of models/default/model.onnx as a training checkpoint.

The embedded model is trained across sessions on machines that come and go; when the last run's checkpoint (weights
and optimizer) is not at hand, training continues from the shipped ONNX weights with a fresh AdamW state and a short
learning-rate warmup (train.py --init-onnx). The ONNX export names the MatMul weights by node (/layers.{i}/q_proj/
MatMul, stored transposed) and keeps the embedding and norm weights under their module names; every parameter of
the model must be found exactly once. The loaded model is checked against the export's reference.json (the logits
PyTorch gave for the shipped weights, within its recorded fp32 tolerance) before training starts.

    /usr/bin/python3 training/warm_start.py models/default        # load and verify only
"""
import json
import os
import re
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import Config, Model  # noqa: E402

_MATMUL = re.compile(r"^/layers\.(\d+)/(?:mlp/)?(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)/MatMul$")
_MODULE = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
           "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def config_from_dir(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    return Config(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], num_hidden_layers=c["num_hidden_layers"],
                  num_attention_heads=c["num_attention_heads"], num_key_value_heads=c["num_key_value_heads"],
                  head_dim=c["head_dim"], intermediate_size=c["intermediate_size"],
                  max_position_embeddings=c["max_position_embeddings"], rope_theta=c["rope_theta"],
                  rms_norm_eps=c["rms_norm_eps"])


def state_from_onnx(onnx_path, cfg):
    """The model's state_dict from an exported graph; raises ValueError naming what is missing or misshapen."""
    m = onnx.load(onnx_path)
    inits = {t.name: t for t in m.graph.initializer}
    state = {}
    for name, t in inits.items():
        if name.startswith("m."):
            state[name[2:]] = torch.from_numpy(numpy_helper.to_array(t).copy())
    for node in m.graph.node:
        hit = _MATMUL.match(node.name) if node.op_type == "MatMul" else None
        if not hit:
            continue
        w = [x for x in node.input if x in inits]
        if len(w) != 1:
            raise ValueError(f"{onnx_path}: {node.name} has {len(w)} weight initializers")
        key = f"layers.{hit.group(1)}.{_MODULE[hit.group(2)]}.{hit.group(2)}.weight"
        if key in state:
            raise ValueError(f"{onnx_path}: {key} found twice")
        state[key] = torch.from_numpy(np.ascontiguousarray(numpy_helper.to_array(inits[w[0]]).T))
    expected = Model(cfg).state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        raise ValueError(f"{onnx_path}: weights missing {missing[:4]} / unexpected {extra[:4]}")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(f"{onnx_path}: {k} has shape {tuple(state[k].shape)}, the config wants {tuple(v.shape)}")
    return state


def verify_reference(model, model_dir):
    """Max |logit difference| against reference.json's plain-text cases; raises ValueError above its tolerance."""
    with open(os.path.join(model_dir, "reference.json")) as f:
        ref = json.load(f)
    tol = ref["tolerance"]["fp32_abs"]
    worst = 0.0
    model.eval()
    with torch.no_grad():
        for case in ref["cases"]:
            if "input_ids" not in case:
                continue
            logits = model(torch.tensor([case["input_ids"]]))[0, -1]
            got = logits[torch.tensor(case["top_ids"])]
            worst = max(worst, float((got - torch.tensor(case["top_logits"])).abs().max()))
    model.train()
    if worst > tol:
        raise ValueError(f"{model_dir}: warm-started weights give logits {worst:.5f} away from reference.json (tolerance {tol})")
    return worst


def load_warm(model_dir):
    """(model, cfg, max |Δlogit| vs reference.json) from a shipped model directory."""
    cfg = config_from_dir(model_dir)
    model = Model(cfg)
    model.load_state_dict(state_from_onnx(os.path.join(model_dir, "model.onnx"), cfg), strict=True)
    return model, cfg, verify_reference(model, model_dir)


if __name__ == "__main__":
    # warm_start.py [DIR] [--val]: load and verify; --val adds evaluate.py's fp32 validation loss on work/'s current
    # held-out split (the same 128 + 128 sequences), to compare a shipped model with a new checkpoint
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    d = args[0] if args else os.path.join(HERE, "..", "models", "default")
    m, c, worst = load_warm(d)
    out = {"model_dir": d, "params": m.num_params(), "max_abs_logit_diff": worst}
    if "--val" in sys.argv:
        import bpe
        from evaluate import WORK, fp32_val_loss, held_out_sets
        torch.set_num_threads(int(os.environ.get("SD_THREADS", "2")))
        vl, vf = fp32_val_loss(m, held_out_sets(bpe.Tokenizer.load(os.path.join(WORK, "tokenizer", "merges.json"))))
        out.update(val_loss=vl, val_fim_loss=vf)
    print(json.dumps(out))
