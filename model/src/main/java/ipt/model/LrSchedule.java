package ipt.model;

/**
 * Learning-rate schedules for continual pretraining (Ibrahim et al. 2024, "Simple and Scalable Strategies
 * to Continually Pre-train LLMs"): re-warm and cosine re-decay every round, or an infinite
 * warmup-stable-decay schedule that only anneals for the steps before each checkpoint, linearly or with the
 * (1 - sqrt) cooldown of Hägele et al. 2024 ("Scaling Laws and Compute-Optimal Training Beyond Fixed Training
 * Durations").
 */
public final class LrSchedule {

    private LrSchedule() {}

    /**
     * Re-warm and re-decay: linear warmup to maxLr, then cosine decay to minLr at the round's last step.
     * Re-warming every round lets a continually trained model absorb new data.
     */
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

    /**
     * Infinite schedule: linear warmup over the lineage's first {@code warmupSteps} steps ({@code globalStep}
     * counts them), then maxLr, except for the round's last {@code annealSteps} steps, which decay linearly to
     * minLr so each checkpoint is taken from annealed weights. The next round continues at maxLr.
     */
    public static float wsd(long globalStep, int stepInRound, int roundSteps, int annealSteps, TrainConfig c) {
        if (stepInRound < 0 || roundSteps <= 0 || globalStep < 0 || annealSteps < 0) {
            throw new IllegalArgumentException(
                    "step " + stepInRound + " of a " + roundSteps + "-step round, global step " + globalStep);
        }
        float lr = c.maxLr();
        if (globalStep < c.warmupSteps()) lr = c.maxLr() * (globalStep + 1) / c.warmupSteps();
        int anneal = Math.min(annealSteps, roundSteps / 2); // a short round still trains at the stable rate first
        int intoAnneal = stepInRound - (roundSteps - anneal);
        if (anneal > 0 && intoAnneal >= 0) {
            float annealed = c.maxLr() + (c.minLr() - c.maxLr()) * Math.min(1f, (intoAnneal + 1f) / anneal);
            lr = Math.min(lr, annealed);
        }
        return lr;
    }

    /**
     * As {@link #wsd}, but the cooldown follows 1 - sqrt(progress) (Hägele et al. 2024): it leaves the stable rate
     * faster and spends more of the anneal near minLr, which they found matches a full cosine run's loss.
     */
    public static float wsdSqrt(long globalStep, int stepInRound, int roundSteps, int annealSteps, TrainConfig c) {
        if (stepInRound < 0 || roundSteps <= 0 || globalStep < 0 || annealSteps < 0) {
            throw new IllegalArgumentException(
                    "step " + stepInRound + " of a " + roundSteps + "-step round, global step " + globalStep);
        }
        float lr = c.maxLr();
        if (globalStep < c.warmupSteps()) lr = c.maxLr() * (globalStep + 1) / c.warmupSteps();
        int anneal = Math.min(annealSteps, roundSteps / 2);
        int intoAnneal = stepInRound - (roundSteps - anneal);
        if (anneal > 0 && intoAnneal >= 0) {
            double progress = Math.min(1.0, (intoAnneal + 1.0) / anneal);
            float annealed = (float) (c.minLr() + (c.maxLr() - c.minLr()) * (1 - Math.sqrt(progress)));
            lr = Math.min(lr, annealed);
        }
        return lr;
    }
}
