"""An independent reference for ipt's Hugging Face models: GPT-2, Llama and Qwen2 forward passes in plain torch (no
transformers, no safetensors package), from a model directory's config.json and safetensors read by hand.

  reference.py logits MODEL_DIR IDS OUT   IDS: rows split by ';', ids by ','; OUT: safetensors with F32 "logits"
  reference.py halves DIR                 writes F16 and BF16 tensors with their float32 values, in two shards
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    if header.get("__metadata__", {}).get("format") != "pt":
        raise ValueError(path + ": __metadata__ lacks format pt, which transformers requires")
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[8 + n + begin : 8 + n + end])
        tensors[name] = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"]).float()
    return tensors


def read_model(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(directory, "model.safetensors"))
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        tensors.update(read_safetensors(os.path.join(directory, shard)))
    if set(tensors) != set(weight_map):
        raise ValueError("the index and the shards name different tensors")
    return tensors


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, (dtype, tensor) in tensors.items():
        blob = tensor.contiguous().view(torch.int16 if dtype != "F32" else torch.int32).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    return offset


class Weights:
    """The checkpoint's tensors; every one must be used by the forward pass."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.used = set()

    def __getitem__(self, name):
        self.used.add(name)
        return self.tensors[name]

    def check_all_used(self):
        unused = set(self.tensors) - self.used
        if unused:
            raise ValueError("tensors the model does not use: " + str(sorted(unused)))


def causal_softmax(scores):
    t = scores.shape[-1]
    allowed = torch.ones(t, t, dtype=torch.bool).tril()
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1)


def gelu(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2(cfg, w, ids):
    c, nh = cfg["n_embd"], cfg["n_head"]
    hs = c // nh
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    b, t = ids.shape

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (c,), w[name + ".weight"], w[name + ".bias"], eps)

    def conv1d(x, name):  # Conv1D keeps its weight (in, out)
        return torch.addmm(w[name + ".bias"], x.reshape(-1, x.shape[-1]), w[name + ".weight"]).reshape(b, t, -1)

    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(t)]
    for i in range(cfg["n_layer"]):
        h = "transformer.h.%d." % i
        q, k, v = conv1d(ln(x, h + "ln_1"), h + "attn.c_attn").split(c, dim=2)
        q, k, v = (z.view(b, t, nh, hs).transpose(1, 2) for z in (q, k, v))
        att = causal_softmax(q @ k.transpose(-1, -2) / math.sqrt(hs))
        x = x + conv1d((att @ v).transpose(1, 2).reshape(b, t, c), h + "attn.c_proj")
        hidden = gelu(conv1d(ln(x, h + "ln_2"), h + "mlp.c_fc"), cfg.get("activation_function", "gelu_new"))
        x = x + conv1d(hidden, h + "mlp.c_proj")
    x = ln(x, "transformer.ln_f")
    head = w["transformer.wte.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return x @ head.T


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def llama(cfg, w, ids, qwen):
    c, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hs = cfg.get("head_dim", c // nh)
    eps = cfg.get("rms_norm_eps", 1e-6)
    qkv_bias = qwen or cfg.get("attention_bias", False)
    o_bias = not qwen and cfg.get("attention_bias", False)
    b, t = ids.shape

    def rms(x, name):
        return w[name] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def linear(x, name, bias):
        return torch.nn.functional.linear(x, w[name + ".weight"], w[name + ".bias"] if bias else None)

    inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))
    freqs = torch.outer(torch.arange(t).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        a = rms(x, p + "input_layernorm.weight")
        q = linear(a, p + "self_attn.q_proj", qkv_bias).view(b, t, nh, hs).transpose(1, 2)
        k = linear(a, p + "self_attn.k_proj", qkv_bias).view(b, t, nkv, hs).transpose(1, 2)
        v = linear(a, p + "self_attn.v_proj", qkv_bias).view(b, t, nkv, hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)  # query head h reads kv head h // (nh / nkv)
        v = v.repeat_interleave(nh // nkv, dim=1)
        att = causal_softmax(q @ k.transpose(-1, -2) / math.sqrt(hs))
        x = x + linear((att @ v).transpose(1, 2).reshape(b, t, nh * hs), p + "self_attn.o_proj", o_bias)
        m = rms(x, p + "post_attention_layernorm.weight")
        gate = linear(m, p + "mlp.gate_proj", False)
        x = x + linear(torch.nn.functional.silu(gate) * linear(m, p + "mlp.up_proj", False), p + "mlp.down_proj", False)
    x = rms(x, "model.norm.weight")
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def logits(directory, ids_text, out):
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    ids = torch.tensor([[int(i) for i in row.split(",")] for row in ids_text.split(";")], dtype=torch.int64)
    w = Weights(read_model(directory))
    architecture = cfg["architectures"][0]
    with torch.no_grad():
        if architecture == "GPT2LMHeadModel":
            result = gpt2(cfg, w, ids)
        elif architecture in ("LlamaForCausalLM", "Qwen2ForCausalLM"):
            result = llama(cfg, w, ids, architecture == "Qwen2ForCausalLM")
        else:
            raise ValueError("no reference for " + architecture)
    w.check_all_used()
    write_safetensors(out, {"logits": ("F32", result.float())})


def halves(directory):
    torch.manual_seed(7)
    special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.0e-8, 3.0e-5, float("inf"), float("-inf")])
    values = torch.cat((special, torch.randn(40) * 100, torch.randn(39) * 1e-3)).reshape(8, 11)
    f16 = values.half()
    bf16 = (torch.cat((special, torch.randn(40) * 1e30, torch.randn(39) * 1e-30)).reshape(8, 11)).bfloat16()
    os.makedirs(directory, exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {"half.f16": ("F16", f16), "half.f32": ("F32", f16.float())},
        "model-00002-of-00002.safetensors": {"brain.bf16": ("BF16", bf16), "brain.f32": ("F32", bf16.float())},
    }
    weight_map = {}
    total = 0
    for shard, tensors in shards.items():
        total += write_safetensors(os.path.join(directory, shard), tensors)
        weight_map.update({name: shard for name in tensors})
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)


if __name__ == "__main__":
    if sys.argv[1] == "logits":
        logits(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        halves(sys.argv[2])
