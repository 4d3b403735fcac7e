package ipt.ingest;

import com.ibm.icu.text.BreakIterator;
import com.ibm.icu.util.ULocale;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The quality filter: a normalised text against {@link QualityThresholds}, the first rule it breaks as an
 * {@link InvalidDocumentException} with the measured value and the bound. Where a text's letters include scripts
 * written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese), ICU's dictionary-based word segmentation
 * finds its words, for those letters and any Latin beside them, so the word rules mean the same in every script.
 */
final class QualityRules {
    private static final int MIN_LINES_FOR_LINE_SHARES = 3;
    /** A BreakIterator holds its text: one per stream thread, cloned from ICU's cached root instance. */
    private static final ThreadLocal<BreakIterator> WORDS =
            ThreadLocal.withInitial(() -> BreakIterator.getWordInstance(ULocale.ROOT));

    private QualityRules() {}

    static void check(String text, QualityThresholds t) throws InvalidDocumentException {
        check(text, Scripts.of(text), t);
    }

    static void check(String text, Scripts scripts, QualityThresholds t) throws InvalidDocumentException {
        String[] lines = text.split("\n");
        if (t.maxMeanLineLength() > 0 || t.maxLineLength() > 0 || t.minAlphanumeric() > 0) codeRules(text, lines, t);
        List<String> words = scripts.needsDictionary() ? segmentedWords(text) : words(text);
        bound(
                words.size() >= t.minWords(),
                Reason.TOO_FEW_WORDS,
                () -> words.size() + " words, fewer than " + t.minWords());
        bound(
                words.size() <= t.maxWords(),
                Reason.TOO_MANY_WORDS,
                () -> words.size() + " words, more than " + t.maxWords());
        if (!words.isEmpty()) wordRules(text, lines, words, t);
        repetitionRules(text, lines, words, t);
    }

    private static void codeRules(String text, String[] lines, QualityThresholds t) throws InvalidDocumentException {
        double meanLine = (double) text.length() / lines.length;
        int longest = 0;
        for (String line : lines) longest = Math.max(longest, line.length());
        long alphanumeric = text.chars().filter(Character::isLetterOrDigit).count();
        check(meanLine, t.maxMeanLineLength(), true, Reason.LONG_LINES, "mean line length");
        int longestLine = longest;
        if (t.maxLineLength() > 0)
            bound(
                    longestLine <= t.maxLineLength(),
                    Reason.LONG_LINES,
                    () -> "a line of " + longestLine + " chars, over " + t.maxLineLength());
        check(
                (double) alphanumeric / text.length(),
                t.minAlphanumeric(),
                false,
                Reason.LOW_ALPHANUMERIC,
                "share of letters and digits");
    }

    private static void wordRules(String text, String[] lines, List<String> words, QualityThresholds t)
            throws InvalidDocumentException {
        // Word length is measured on words of spaced scripts only: a dictionary word of Chinese is one or two
        // characters, so Chinese beside Latin would otherwise fail a bound set for Latin words.
        int spacedWords = 0;
        int spacedWordChars = 0;
        int alphaWords = 0;
        int stops = 0;
        for (String w : words) {
            if (!Scripts.isUnspaced(w.codePointAt(0))) {
                spacedWords++;
                spacedWordChars += w.length();
            }
            if (w.chars().anyMatch(Character::isLetter)) alphaWords++;
            if (!t.stopWords().isEmpty() && t.stopWords().contains(w.toLowerCase(Locale.ROOT))) stops++;
        }
        if (spacedWords > 0) {
            double meanLength = (double) spacedWordChars / spacedWords;
            check(meanLength, t.minMeanWordLength(), false, Reason.MEAN_WORD_LENGTH, "mean word length");
            check(meanLength, t.maxMeanWordLength(), true, Reason.MEAN_WORD_LENGTH, "mean word length");
        }
        int symbols = count(text, "#") + count(text, "...") + count(text, "…");
        check(
                (double) symbols / words.size(),
                t.maxSymbolToWord(),
                true,
                Reason.SYMBOL_RATIO,
                "hash and ellipsis symbols per word");
        int bullets = 0;
        int ellipses = 0;
        for (String line : lines) {
            String s = line.strip();
            if (s.startsWith("•") || s.startsWith("-") || s.startsWith("*") || s.startsWith("‣") || s.startsWith("●"))
                bullets++;
            if (s.endsWith("...") || s.endsWith("…")) ellipses++;
        }
        // Shares of lines say something about a page of lines; a one-paragraph document opening with a dash is not a
        // list.
        if (lines.length >= MIN_LINES_FOR_LINE_SHARES) {
            check(
                    (double) bullets / lines.length,
                    t.maxBulletLines(),
                    true,
                    Reason.BULLET_LINES,
                    "share of lines starting with a bullet");
            check(
                    (double) ellipses / lines.length,
                    t.maxEllipsisLines(),
                    true,
                    Reason.ELLIPSIS_LINES,
                    "share of lines ending with an ellipsis");
        }
        check(
                (double) alphaWords / words.size(),
                t.minAlphaWords(),
                false,
                Reason.FEW_ALPHA_WORDS,
                "share of words with a letter");
        int stopWords = stops;
        if (!t.stopWords().isEmpty())
            bound(
                    stopWords >= t.minStopWords(),
                    Reason.FEW_STOP_WORDS,
                    () -> stopWords + " stop words, fewer than " + t.minStopWords());
    }

    private static void repetitionRules(String text, String[] lines, List<String> words, QualityThresholds t)
            throws InvalidDocumentException {
        Set<String> seenLines = new HashSet<>();
        int duplicateLines = 0;
        int duplicateLineChars = 0;
        int nonEmpty = 0;
        for (String line : lines) {
            if (line.isBlank()) continue;
            nonEmpty++;
            if (!seenLines.add(line)) {
                duplicateLines++;
                duplicateLineChars += line.length();
            }
        }
        if (nonEmpty > 0) {
            check(
                    (double) duplicateLines / nonEmpty,
                    t.maxDuplicateLines(),
                    true,
                    Reason.DUPLICATE_LINES,
                    "share of repeated lines");
            check(
                    (double) duplicateLineChars / text.length(),
                    t.maxDuplicateLineChars(),
                    true,
                    Reason.DUPLICATE_LINES,
                    "share of chars in repeated lines");
        }
        int wordChars = 0;
        for (String w : words) wordChars += w.length();
        if (wordChars == 0
                || (t.maxTopNgramChars().isEmpty() && t.maxDuplicateNgramChars().isEmpty())) return;
        // Each word as a number, so n-grams are compared as 64-bit hashes instead of joined strings.
        Map<String, Integer> ids = new HashMap<>();
        long[] wordIds = new long[words.size()];
        int[] lengths = new int[words.size()];
        for (int i = 0; i < wordIds.length; i++) {
            wordIds[i] = ids.computeIfAbsent(words.get(i), w -> ids.size() + 1);
            lengths[i] = words.get(i).length();
        }
        LongCounts counts = new LongCounts(wordIds.length);
        for (int i = 0; i < t.maxTopNgramChars().size(); i++) {
            int n = 2 + i;
            check(
                    topNgramChars(wordIds, lengths, n, counts) / (double) wordChars,
                    t.maxTopNgramChars().get(i),
                    true,
                    Reason.TOP_NGRAM_REPETITION,
                    "share of chars in the most frequent " + n + "-gram");
        }
        for (int i = 0; i < t.maxDuplicateNgramChars().size(); i++) {
            int n = 5 + i;
            check(
                    duplicateNgramChars(wordIds, lengths, n, counts) / (double) wordChars,
                    t.maxDuplicateNgramChars().get(i),
                    true,
                    Reason.DUPLICATE_NGRAMS,
                    "share of chars in repeated " + n + "-grams");
        }
    }

    /** The n-gram starting at {@code from}, as a 64-bit hash of its word numbers. */
    private static long ngram(long[] wordIds, int from, int n) {
        long h = 0;
        for (int j = from; j < from + n; j++) h = (h + wordIds[j]) * 0x9E3779B97F4A7C15L;
        return h;
    }

    /** Characters of the most frequent n-gram times its count (Gopher counts an n-gram's characters once per
     * occurrence). */
    private static int topNgramChars(long[] wordIds, int[] lengths, int n, LongCounts counts) {
        counts.clear();
        int top = -1;
        int topCount = 0;
        for (int i = 0; i + n <= wordIds.length; i++) {
            int c = counts.add(ngram(wordIds, i, n));
            if (c > topCount) {
                topCount = c;
                top = i;
            }
        }
        if (topCount < 2) return 0;
        int chars = 0;
        for (int j = top; j < top + n; j++) chars += lengths[j];
        return chars * topCount;
    }

    /** Characters of the words covered by n-grams that occurred before, each word counted once. */
    private static int duplicateNgramChars(long[] wordIds, int[] lengths, int n, LongCounts counts) {
        counts.clear();
        boolean[] covered = new boolean[wordIds.length];
        for (int i = 0; i + n <= wordIds.length; i++) {
            if (counts.add(ngram(wordIds, i, n)) > 1) {
                for (int j = i; j < i + n; j++) covered[j] = true;
            }
        }
        int chars = 0;
        for (int i = 0; i < covered.length; i++) if (covered[i]) chars += lengths[i];
        return chars;
    }

    /** White-space separated tokens, without tokens that are only punctuation. */
    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        int start = -1;
        boolean hasLetter = false;
        for (int i = 0; i <= text.length(); i++) {
            if (i == text.length() || Character.isWhitespace(text.charAt(i))) {
                if (start >= 0 && hasLetter) out.add(text.substring(start, i));
                start = -1;
                hasLetter = false;
            } else {
                if (start < 0) start = i;
                hasLetter |= Character.isLetterOrDigit(text.charAt(i)) || Character.isSurrogate(text.charAt(i));
            }
        }
        return out;
    }

    /** Words as ICU's word break rules and dictionaries find them; punctuation and spaces between them are not
     * words. */
    static List<String> segmentedWords(String text) {
        BreakIterator boundaries = WORDS.get();
        boundaries.setText(text);
        List<String> out = new ArrayList<>();
        for (int start = boundaries.first(), end = boundaries.next();
                end != BreakIterator.DONE;
                start = end, end = boundaries.next()) {
            if (boundaries.getRuleStatus() != BreakIterator.WORD_NONE) out.add(text.substring(start, end));
        }
        boundaries.setText("");
        return out;
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length())) n++;
        return n;
    }

    /** A rule with a NaN or non-positive bound is off. */
    private static void check(double value, double bound, boolean isMax, Reason reason, String what)
            throws InvalidDocumentException {
        if (Double.isNaN(bound) || bound <= 0) return;
        boolean ok = isMax ? value <= bound : value >= bound;
        if (!ok)
            throw new InvalidDocumentException(
                    reason,
                    String.format(Locale.ROOT, "%s %.3f, %s %.3f", what, value, isMax ? "over" : "under", bound));
    }

    /** The detail is only built for a document that fails. */
    private static void bound(boolean ok, Reason reason, Supplier<String> detail) throws InvalidDocumentException {
        if (!ok) throw new InvalidDocumentException(reason, detail.get());
    }
}
