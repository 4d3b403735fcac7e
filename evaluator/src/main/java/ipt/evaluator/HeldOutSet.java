package ipt.evaluator;

import ipt.model.ByteTokenizer;
import ipt.model.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Held-out text per domain, packed the way the trainer packs (EOS after every document). Each
 * domain keeps its first {@code maxTokensPerDomain} tokens, so once a domain is full its set stops
 * changing and losses stay comparable across rounds.
 */
final class HeldOutSet {
  private final int maxTokensPerDomain;
  private final Map<String, int[]> tokens = new TreeMap<>();
  private final Map<String, Integer> sizes = new TreeMap<>();
  private final Map<String, Integer> documents = new TreeMap<>();

  HeldOutSet(int maxTokensPerDomain) {
    this.maxTokensPerDomain = maxTokensPerDomain;
  }

  synchronized void add(String domain, String text) {
    int[] buffer = tokens.computeIfAbsent(domain, d -> new int[maxTokensPerDomain]);
    int size = sizes.getOrDefault(domain, 0);
    if (size >= maxTokensPerDomain) return;
    int[] doc = ByteTokenizer.encode(text);
    int n = Math.min(doc.length, maxTokensPerDomain - size);
    System.arraycopy(doc, 0, buffer, size, n);
    size += n;
    if (size < maxTokensPerDomain) buffer[size++] = ByteTokenizer.EOS;
    sizes.put(domain, size);
    documents.merge(domain, 1, Integer::sum);
  }

  synchronized List<String> domains() {
    return new ArrayList<>(sizes.keySet());
  }

  synchronized int documents(String domain) {
    return documents.getOrDefault(domain, 0);
  }

  /**
   * The domain's text as {@code tokenizer} reads it, cut into sequences of {@code length} tokens (the last one
   * may be shorter). The set is the same bytes for every tokenizer: the first {@code maxTokensPerDomain} bytes.
   */
  synchronized List<int[]> sequences(String domain, int length, Tokenizer tokenizer) {
    int size = sizes.getOrDefault(domain, 0);
    int[] ids = tokenizer == Tokenizer.BYTES ? Arrays.copyOf(tokens.get(domain), size) : retokenized(tokens.get(domain), size, tokenizer);
    List<int[]> out = new ArrayList<>();
    for (int start = 0; start + 1 < ids.length; start += length) out.add(Arrays.copyOfRange(ids, start, Math.min(ids.length, start + length)));
    return out;
  }

  /** Each document's bytes decoded and encoded again by the tokenizer, EOS between them as before. */
  private static int[] retokenized(int[] bytes, int size, Tokenizer tokenizer) {
    List<int[]> parts = new ArrayList<>();
    int total = 0;
    for (int from = 0; from < size; ) {
      int end = from;
      while (end < size && bytes[end] != ByteTokenizer.EOS) end++;
      int[] doc = tokenizer.encode(ByteTokenizer.decode(Arrays.copyOfRange(bytes, from, end)));
      parts.add(doc);
      total += doc.length;
      if (end < size) {
        parts.add(new int[] {tokenizer.eos()});
        total++;
      }
      from = end + 1;
    }
    int[] ids = new int[total];
    int at = 0;
    for (int[] part : parts) {
      System.arraycopy(part, 0, ids, at, part.length);
      at += part.length;
    }
    return ids;
  }
}
