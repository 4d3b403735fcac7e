package ipt.model;

/** Optimizer and schedule settings; {@code seed} also fixes the initial weights. */
public record TrainConfig(
        float maxLr,
        float minLr,
        int warmupSteps,
        float weightDecay,
        float beta1,
        float beta2,
        float eps,
        float gradClip,
        long seed) {

    public TrainConfig {
        if (!(maxLr >= 0 && minLr >= 0 && warmupSteps >= 0 && weightDecay >= 0 && gradClip > 0)) {
            throw new IllegalArgumentException("invalid TrainConfig: " + this);
        }
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps > 0)) {
            throw new IllegalArgumentException("invalid Adam betas/eps: " + this);
        }
    }

    public static TrainConfig defaults() {
        return new TrainConfig(1e-3f, 1e-4f, 20, 0.1f, 0.9f, 0.95f, 1e-8f, 1.0f, 1234L);
    }
}
