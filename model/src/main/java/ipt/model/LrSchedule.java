package ipt.model;

/**
 * Learning rate within one training round: linear re-warm to maxLr, then cosine decay to minLr at the
 * round's last step. Re-warming every round lets a continually trained model absorb new data
 * (Ibrahim et al. 2024, "Simple and Scalable Strategies to Continually Pre-train LLMs").
 */
public final class LrSchedule {

  private LrSchedule() {}

  public static float at(int stepInRound, int roundSteps, TrainConfig c) {
    if (stepInRound < 0 || roundSteps <= 0) {
      throw new IllegalArgumentException("step " + stepInRound + " of a " + roundSteps + "-step round");
    }
    // Short rounds must still spend most of their steps decaying.
    int warmup = Math.min(c.warmupSteps(), roundSteps / 4);
    if (stepInRound < warmup) {
      return c.maxLr() * (stepInRound + 1) / warmup;
    }
    double progress = Math.min(1.0, (double) (stepInRound - warmup) / Math.max(1, roundSteps - 1 - warmup));
    double cosine = 0.5 * (1 + Math.cos(Math.PI * progress)); // 1 -> 0
    return (float) (c.minLr() + cosine * (c.maxLr() - c.minLr()));
  }
}
