package ipt.model;

/** Shape of the transformer; the one config object {@link Gpt} reads. */
public record GptConfig(int vocabSize, int contextLength, int dModel, int nLayers, int nHeads) {

    public GptConfig {
        if (vocabSize <= 0 || contextLength <= 0 || dModel <= 0 || nLayers <= 0 || nHeads <= 0) {
            throw new IllegalArgumentException("every GptConfig dimension must be positive: " + this);
        }
        if (dModel % nHeads != 0) {
            throw new IllegalArgumentException("dModel " + dModel + " is not a multiple of nHeads " + nHeads);
        }
    }

    /** The demo model: about 0.48M parameters, ~70 ms per batch-16 step on 2 cores. */
    public static GptConfig small() {
        return new GptConfig(ByteTokenizer.VOCAB_SIZE, 128, 128, 2, 4);
    }
}
