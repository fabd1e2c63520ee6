"""Llama/Qwen2-style decoder: RMSNorm, RoPE, SwiGLU, grouped-query attention, tied embeddings.

Attention is written by hand (torch 1.13 has no scaled_dot_product_attention). The same module serves training
(`forward(ids)`) and ONNX export (`forward_onnx`, the Optimum decoder layout with past/present KV and the
superposition input: per position a weighted mix of k token embeddings).
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 8192
    hidden_size: int = 256
    num_hidden_layers: int = 6
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    intermediate_size: int = 704
    max_position_embeddings: int = 1024
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    initializer_range: float = 0.02

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight).to(x.dtype)


def rotate_half(x, half=None):
    """RoPE's rotation; pass `half` (head_dim // 2) as a constant to keep shape arithmetic out of an exported graph."""
    half = x.shape[-1] // 2 if half is None else half
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class _ReshapeKeep(torch.autograd.Function):
    """Reshape whose ONNX form is one Reshape with a constant shape, using ONNX's 0 = "keep this input dimension".
    A plain .view(B, S, ...) on traced sizes exports as Shape/Gather/Unsqueeze/Concat chains in every layer, and
    each of those tiny nodes costs a kernel launch per decode step."""

    @staticmethod
    def forward(ctx, x, shape):
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return x.reshape(dims)

    @staticmethod
    def symbolic(g, x, shape):
        return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor(list(shape), dtype=torch.int64)))


def reshape_keep(x, *shape):
    """x.reshape(shape) where 0 keeps the input's dimension at that index (as in ONNX Reshape) and -1 is inferred."""
    return _ReshapeKeep.apply(x, tuple(shape))


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.nh, self.nkv, self.hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        B, S, _ = x.shape
        q = self.q_proj(x).view(B, S, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, S, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, S, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k.to(k.dtype), k], dim=2)
            v = torch.cat([past_v.to(v.dtype), v], dim=2)
        present = (k, v)
        rep = self.nh // self.nkv
        if rep > 1:
            T = k.shape[2]
            k = k[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
            v = v[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        att = att + mask.to(att.dtype)
        # softmax in the compute dtype: under bf16 autocast an fp32 round trip of the T x T scores costs more
        # than the rest of the attention on CPU; torch accumulates the softmax in fp32 internally.
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v)
        y = y.transpose(1, 2).reshape(B, S, self.nh * self.hd)
        return self.o_proj(y), present


    def forward_export(self, x, cos, sin, mask, past_k, past_v):
        """The same attention as forward(), written for a lean ONNX graph: constant-shape reshapes, rotate-half on
        the known head size, and grouped-query attention without materialising repeated K/V (the query heads of a
        group are stacked along the sequence axis instead, so each K/V head is read once). mask: [B, 1, S, T]."""
        nh, nkv, hd = self.nh, self.nkv, self.hd
        rep = nh // nkv
        half = hd // 2
        q = reshape_keep(self.q_proj(x), 0, -1, nh, hd).transpose(1, 2)     # [B, nh, S, hd]
        k = reshape_keep(self.k_proj(x), 0, -1, nkv, hd).transpose(1, 2)    # [B, nkv, S, hd]
        v = reshape_keep(self.v_proj(x), 0, -1, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q, half) * sin
        k = k * cos + rotate_half(k, half) * sin
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        qg = reshape_keep(q, 0, nkv, -1, hd)                                  # [B, nkv, rep*S, hd]
        att = torch.matmul(qg, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))  # [B, nkv, rep*S, T]
        att = att + (mask.repeat(1, 1, rep, 1) if rep > 1 else mask)
        att = torch.softmax(att, dim=-1)
        y = reshape_keep(torch.matmul(att, v), 0, nh, -1, hd)                # [B, nh, S, hd]
        y = reshape_keep(y.transpose(1, 2), 0, -1, nh * hd)
        return self.o_proj(y), present


class MLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None, export=False):
        attn = self.self_attn.forward_export if export else self.self_attn
        h, present = attn(self.input_layernorm(x), cos, sin, mask, past_k, past_v)
        x = x + h
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class Model(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float32) / c.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.apply(self._init)
        # scaled init of residual projections (GPT-2 style)
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=c.initializer_range / math.sqrt(2 * c.num_hidden_layers))

    def _init(self, m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=self.c.initializer_range)

    def num_params(self):
        return sum(p.numel() for p in self.parameters())

    def rope(self, position_ids):
        # position_ids [B, S] -> cos/sin [B, 1, S, head_dim]
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]

    def forward(self, ids):
        """Training/eval forward on plain token ids [B, T] -> logits [B, T, V]."""
        return F.linear(self.hidden(ids), self.embed_tokens.weight)

    def hidden(self, ids):
        """The final normed hidden states [B, T, D] (the LM head is the tied embedding: see forward)."""
        B, T = ids.shape
        pos = torch.arange(T, device=ids.device)[None].expand(B, T)
        cos, sin = self.rope(pos)
        mask = torch.full((T, T), float("-inf")).triu(1)[None, None]
        x = self.embed_tokens(ids)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for layer in self.layers:
            x, _ = layer(x, cos, sin, mask)
        return self.norm(x)

    def forward_onnx(self, input_ids, token_weights, attention_mask, position_ids, past):
        """input_ids [B,S,K] int64, token_weights [B,S,K] f32, attention_mask [B,P+S] int64,
        position_ids [B,S] int64, past: list of (key, value) [B,kvh,P,hd] -> logits [B,S,V], presents."""
        emb = self.embed_tokens(input_ids)                       # [B,S,K,D]
        x = (emb * token_weights.unsqueeze(-1)).sum(dim=2)       # [B,S,D]
        S = input_ids.shape[1]
        P = past[0][0].shape[2]
        cos, sin = self.rope(position_ids)
        q_pos = torch.arange(S, device=input_ids.device) + P
        k_pos = torch.arange(P + S, device=input_ids.device)
        causal = k_pos[None, :] <= q_pos[:, None]                 # [S, P+S]
        keep = causal[None, None] & (attention_mask[:, None, None, :] > 0)
        mask = torch.zeros(keep.shape, dtype=torch.float32).masked_fill(~keep, -1e9)
        presents = []
        for i, layer in enumerate(self.layers):
            x, present = layer(x, cos, sin, mask, past[i][0], past[i][1], export=True)
            presents.append(present)
        x = self.norm(x)
        # 2-D F.linear exports as Gemm(transB=1) on the embedding initializer itself, so the tied weight is stored
        # once (a 3-D matmul would constant-fold a transposed copy into the file).
        B, D = x.shape[0], x.shape[2]
        logits = F.linear(x.reshape(-1, D), self.embed_tokens.weight).reshape(B, S, -1)
        return logits, presents
