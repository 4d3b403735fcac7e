package ipt.model;

/** A few paragraphs of real English prose and deterministic batches cut from it. */
final class Corpus {

    static final String TEXT = """
      It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of \
      foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, \
      it was the season of Darkness, it was the spring of hope, it was the winter of despair.
      The river flows past the old mill, turning the wheel that grinds the village's grain. In the \
      morning the baker comes for flour, and in the evening the children come to watch the water fall.
      A language model learns to predict the next byte of text from the bytes before it. Trained long \
      enough on one kind of writing, it forgets little of another kind if it keeps seeing some of it.
      Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my \
      purse, and nothing particular to interest me on shore, I thought I would sail about a little and \
      see the watery part of the world.
      """;
    static final int[] TOKENS = ByteTokenizer.encode(TEXT);

    private Corpus() {}

    /** Batch number i: rows of contextLength+1 tokens at offsets that depend only on i. */
    static int[][] batch(int i, int batchSize, int contextLength) {
        int[][] rows = new int[batchSize][contextLength + 1];
        int span = TOKENS.length - contextLength - 1;
        for (int r = 0; r < batchSize; r++) {
            int start = (int) (((long) (i * batchSize + r) * 7919) % span);
            System.arraycopy(TOKENS, start, rows[r], 0, contextLength + 1);
        }
        return rows;
    }

    static GptConfig tiny() {
        return new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 2, 4);
    }
}
