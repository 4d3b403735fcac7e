package ipt.evaluator;

import ipt.model.ByteTokenizer;
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

  /** The domain's text cut into sequences of {@code length} tokens (the last one may be shorter). */
  synchronized List<int[]> sequences(String domain, int length) {
    int size = sizes.getOrDefault(domain, 0);
    int[] buffer = tokens.get(domain);
    List<int[]> out = new ArrayList<>();
    for (int start = 0; start + 1 < size; start += length) out.add(Arrays.copyOfRange(buffer, start, Math.min(size, start + length)));
    return out;
  }
}
