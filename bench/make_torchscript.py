"""Writes the tiny TorchScript model and HuggingFace tokenizer.json the trainer's tests start a lineage from.

    /usr/bin/python3 bench/make_torchscript.py [text file for the merges, default README.md]

Output: model/src/test/resources/torchscript/{tiny-gpt.pt, tokenizer.json, shape.txt}. The tokenizer is a
byte-level BPE (GPT-2's byte alphabet, so any text encodes) with MERGES merges learnt from the text and
an <|endoftext|> token; the model is bench/gpt.py's Gpt over that vocabulary, scripted with torch.jit.
"""
import collections
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from gpt import Gpt  # noqa: E402

MERGES = 64
CONTEXT, D_MODEL, LAYERS, HEADS = 32, 32, 2, 2
EOS = "<|endoftext|>"


def byte_alphabet():
    """GPT-2's reversible map from bytes to printable characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


def learn_merges(text, alphabet, count):
    words = collections.Counter(tuple(alphabet[b] for b in (" " + w).encode("utf-8")) for w in text.split())
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        merged = collections.Counter()
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
    return merges


def tokenizer_json(alphabet, merges):
    vocab = {c: i for i, c in enumerate(alphabet[b] for b in range(256))}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    eos_id = len(vocab)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eos_id, "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }, eos_id + 1


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    text = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root / "README.md").read_text(encoding="utf-8")
    out = root / "model/src/test/resources/torchscript"
    out.mkdir(parents=True, exist_ok=True)
    alphabet = byte_alphabet()
    tokenizer, vocab_size = tokenizer_json(alphabet, learn_merges(text, alphabet, MERGES))
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False, indent=1), encoding="utf-8")
    torch.manual_seed(1)
    model = torch.jit.script(Gpt(vocab_size, CONTEXT, D_MODEL, LAYERS, HEADS))
    model.save(str(out / "tiny-gpt.pt"))
    (out / "shape.txt").write_text(f"vocab={vocab_size} context={CONTEXT} d_model={D_MODEL} layers={LAYERS} heads={HEADS}\n")
    print(f"torch {torch.__version__}: {out}/tiny-gpt.pt ({sum(p.numel() for p in model.parameters())} parameters), "
          f"tokenizer.json ({vocab_size} tokens)")


if __name__ == "__main__":
    main()
