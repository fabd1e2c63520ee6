"""Writes test/fixtures/plain-model: a tiny randomly initialised decoder exported in the plain Hugging Face
Optimum decoder layout (input_ids [batch, seq], no superposition input), with the project's tokenizer.

It exists for the engine's tests: any Optimum decoder must run greedy/beam/sampling, and `superposed` must fail
with a clear message on a model without the superposition input. Its outputs are meaningless by design.

    /usr/bin/python3 training/make_plain_fixture.py [--tokenizer models/default/tokenizer.json]
"""
import argparse
import json
import os
import shutil
import sys

import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from model import Config, Model  # noqa: E402


class PlainWrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        ids = input_ids.unsqueeze(-1)
        weights = torch.ones(ids.shape, dtype=torch.float32)
        logits, presents = self.m.forward_onnx(ids, weights, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models", "default", "tokenizer.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "plain-model"))
    a = ap.parse_args()
    if not os.path.exists(a.tokenizer):
        sys.exit(f"make_plain_fixture: tokenizer not found: {a.tokenizer}")
    tok = json.load(open(a.tokenizer))
    vocab = max(max(tok["model"]["vocab"].values()), max(t["id"] for t in tok.get("added_tokens", []))) + 1
    torch.manual_seed(0)
    c = Config(vocab_size=vocab, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
               head_dim=8, intermediate_size=32, max_position_embeddings=1024)
    model = Model(c).eval()
    os.makedirs(a.out, exist_ok=True)
    B, S, P = 2, 3, 4
    ids = torch.randint(0, vocab, (B, S))
    am = torch.ones(B, P + S, dtype=torch.long)
    pos = torch.arange(P, P + S)[None].expand(B, S).contiguous()
    past, inputs, outputs = [], ["input_ids", "attention_mask", "position_ids"], ["logits"]
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
           "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for i in range(c.num_hidden_layers):
        for kind in ("key", "value"):
            past.append(torch.randn(B, c.num_key_value_heads, P, c.head_dim))
            inputs.append(f"past_key_values.{i}.{kind}")
            outputs.append(f"present.{i}.{kind}")
            dyn[f"past_key_values.{i}.{kind}"] = {0: "batch", 2: "past_sequence"}
            dyn[f"present.{i}.{kind}"] = {0: "batch", 2: "total_sequence"}
    path = os.path.join(a.out, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(PlainWrapper(model), (ids, am, pos, *past), path, input_names=inputs, output_names=outputs,
                          dynamic_axes=dyn, opset_version=14, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": c.hidden_size,
           "intermediate_size": c.intermediate_size, "num_hidden_layers": c.num_hidden_layers,
           "num_attention_heads": c.num_attention_heads, "num_key_value_heads": c.num_key_value_heads,
           "head_dim": c.head_dim, "vocab_size": vocab, "max_position_embeddings": c.max_position_embeddings,
           "eos_token_id": 0}
    json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=1)
    shutil.copy(a.tokenizer, os.path.join(a.out, "tokenizer.json"))
    print(f"make_plain_fixture: wrote {a.out} ({os.path.getsize(path)} bytes of ONNX)")


if __name__ == "__main__":
    main()
