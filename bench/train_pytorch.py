"""The reference for TrainingBenchmark: the same model, batch and update in PyTorch eager.

    /usr/bin/python3 bench/train_pytorch.py [timed steps per run] [runs] [threads] [d_model,layers,heads]

GptConfig.small() (bench/gpt.py's Gpt: vocab 257, context 128, d 128, 2 layers, 4 heads), batch 16 of random
byte tokens, cross-entropy, global-norm clip 1.0, AdamW (lr 1e-3, betas 0.9/0.95, eps 1e-8, weight decay 0.1
on 2-D weights only), as TrainConfig.defaults() and LanguageModel.train. Prints tokens/s (median of runs)
and the PyTorch version.
"""
import statistics
import sys
import time

import torch
from torch.nn import functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from gpt import Gpt  # noqa: E402

VOCAB, CONTEXT, D_MODEL, LAYERS, HEADS, BATCH = 257, 128, 128, 2, 4, 16


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    d_model, layers, heads = map(int, sys.argv[4].split(",")) if len(sys.argv) > 4 else (D_MODEL, LAYERS, HEADS)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1234)
    model = Gpt(VOCAB, CONTEXT, d_model, layers, heads)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    generator = torch.Generator().manual_seed(7)

    def step():
        batch = torch.randint(0, 256, (BATCH, CONTEXT + 1), generator=generator)
        logits = model(batch[:, :-1])                                           # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    for _ in range(10):
        step()
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * BATCH * CONTEXT / (time.perf_counter() - start))
    print(f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads, "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {BATCH} x {CONTEXT}")
    print(f"PyTorch eager training step, tokens/s: median {statistics.median(rates):.0f}   runs "
          + " ".join(f"{r:.0f}" for r in rates))
    print(f"RESULT pytorch_tokens_per_s={statistics.median(rates):.1f} version={torch.__version__}")


if __name__ == "__main__":
    main()
