"""The PyTorch twin of model/src/main/java/ipt/model/Gpt.java, layer for layer.

GPT-2 style, after nanoGPT: token + learned position embeddings, pre-LayerNorm blocks of causal
self-attention and a 4x GELU MLP, a final LayerNorm and an LM head tied to the token embedding, no
dropout. The training benchmark times it against the Java model; make_torchscript.py scripts it into
the tiny TorchScript model the trainer's tests start a lineage from.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.qkv(x).split(c, dim=2)                                # 3 x (B, T, C)
        q = q.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.n_heads))  # (B, nh, T, T)
        future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(future, -1e9).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)                      # (B, T, C)
        return self.proj(y)


class Mlp(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))  # (B, T, 4C) inside


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = Mlp(d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    def __init__(self, vocab_size: int, context_length: int, d_model: int, n_layers: int, n_heads: int):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, d_model)       # (V, C); also the LM head
        self.wpe = nn.Embedding(context_length, d_model)   # (contextLength, C)
        self.h = nn.ModuleList([Block(d_model, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                # GPT-2: residual projections scaled by 1/sqrt(2 nLayers)
                std = 0.02 / math.sqrt(2 * n_layers) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)  # (T)
        x = self.wte(idx) + self.wpe(pos)                              # (B, T, C)
        for block in self.h:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)                 # (B, T, V)
