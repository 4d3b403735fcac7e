package ipt.model;

/**
 * Text to token ids, as a lineage's model reads them: bytes for the ipt GPT, or the HuggingFace
 * tokenizer.json a model started from TorchScript came with (then saved in every checkpoint).
 */
public interface Tokenizer extends AutoCloseable {

  /** UTF-8 bytes, {@link ByteTokenizer}. */
  Tokenizer BYTES = new Tokenizer() {
    @Override
    public int[] encode(String text) {
      return ByteTokenizer.encode(text);
    }

    @Override
    public int eos() {
      return ByteTokenizer.EOS;
    }

    @Override
    public int vocabSize() {
      return ByteTokenizer.VOCAB_SIZE;
    }

    @Override
    public String toString() {
      return "bytes";
    }
  };

  /** The text's ids, no special tokens added. */
  int[] encode(String text);

  /** The id that separates packed documents. */
  int eos();

  int vocabSize();

  @Override
  default void close() {}
}
