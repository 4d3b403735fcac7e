package ipt.ingest;

import java.util.List;
import java.util.Set;

/**
 * Thresholds of the quality filter for one kind of text. The prose rules are Gopher's (Rae et al. 2021,
 * as in datatrove's GopherQualityFilter and GopherRepetitionFilter), the code rules The Stack's (Kocetkov
 * et al. 2022). A rule whose threshold is {@code off} (NaN, 0 or an empty list) is skipped.
 *
 * @param minWords fewest words (in scripts written without spaces, as ICU's dictionaries segment them)
 * @param maxWords most words
 * @param minMeanWordLength shortest mean word length (NaN: off)
 * @param maxMeanWordLength longest mean word length (NaN: off)
 * @param maxSymbolToWord most {@code #} and ellipses per word
 * @param maxBulletLines largest share of lines starting with a bullet
 * @param maxEllipsisLines largest share of lines ending with an ellipsis
 * @param minAlphaWords smallest share of words with a letter (NaN: off)
 * @param stopWords at least {@code minStopWords} of these must occur (empty: off)
 * @param maxDuplicateLines largest share of lines that repeat an earlier line
 * @param maxDuplicateLineChars largest share of characters in such lines
 * @param maxTopNgramChars for n = 2, 3, 4: largest share of word characters in the most frequent n-gram
 * @param maxDuplicateNgramChars for n = 5 … 10: largest share of word characters in repeated n-grams
 * @param maxMeanLineLength code: longest mean line length (NaN: off)
 * @param maxLineLength code: longest line (0: off)
 * @param minAlphanumeric code: smallest share of letters and digits (NaN: off)
 */
public record QualityThresholds(
        int minWords,
        int maxWords,
        double minMeanWordLength,
        double maxMeanWordLength,
        double maxSymbolToWord,
        double maxBulletLines,
        double maxEllipsisLines,
        double minAlphaWords,
        Set<String> stopWords,
        int minStopWords,
        double maxDuplicateLines,
        double maxDuplicateLineChars,
        List<Double> maxTopNgramChars,
        List<Double> maxDuplicateNgramChars,
        double maxMeanLineLength,
        int maxLineLength,
        double minAlphanumeric) {

    private static final double OFF = Double.NaN;
    private static final Set<String> ENGLISH_STOP_WORDS =
            Set.of("the", "be", "to", "of", "and", "that", "have", "with");

    public QualityThresholds {
        stopWords = Set.copyOf(stopWords);
        maxTopNgramChars = List.copyOf(maxTopNgramChars);
        maxDuplicateNgramChars = List.copyOf(maxDuplicateNgramChars);
    }

    /**
     * Gopher's rules for natural language, but from 20 words rather than 50: a stream document can be one
     * paragraph (a parliamentary speech, a news item), and Gopher's bound was set for whole web pages.
     */
    public static QualityThresholds prose() {
        return new QualityThresholds(
                20,
                100_000,
                3,
                10,
                0.1,
                0.9,
                0.3,
                0.8,
                Set.of(),
                0,
                0.3,
                0.2,
                List.of(0.20, 0.18, 0.16),
                List.of(0.15, 0.14, 0.13, 0.12, 0.11, 0.10),
                OFF,
                0,
                OFF);
    }

    /** {@link #prose()} plus Gopher's stop-word rule (at least two occurrences of the, be, to, of, and, that, have,
     * with). */
    public static QualityThresholds english() {
        QualityThresholds p = prose();
        return new QualityThresholds(
                p.minWords,
                p.maxWords,
                p.minMeanWordLength,
                p.maxMeanWordLength,
                p.maxSymbolToWord,
                p.maxBulletLines,
                p.maxEllipsisLines,
                p.minAlphaWords,
                ENGLISH_STOP_WORDS,
                2,
                p.maxDuplicateLines,
                p.maxDuplicateLineChars,
                p.maxTopNgramChars,
                p.maxDuplicateNgramChars,
                p.maxMeanLineLength,
                p.maxLineLength,
                p.minAlphanumeric);
    }

    /**
     * {@link #prose()} for text mostly in scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer,
     * Burmese), its words found by ICU's dictionaries: from 10 words (a word there carries about what two English
     * words do: a four-line poem is a document), and no bound on mean word length, which for dictionary words
     * measures the dictionary rather than the text.
     */
    public static QualityThresholds unspaced() {
        QualityThresholds p = prose();
        return new QualityThresholds(
                10,
                p.maxWords,
                OFF,
                OFF,
                p.maxSymbolToWord,
                p.maxBulletLines,
                p.maxEllipsisLines,
                p.minAlphaWords,
                Set.of(),
                0,
                p.maxDuplicateLines,
                p.maxDuplicateLineChars,
                p.maxTopNgramChars,
                p.maxDuplicateNgramChars,
                p.maxMeanLineLength,
                p.maxLineLength,
                p.minAlphanumeric);
    }

    /** Every rule off. */
    public static QualityThresholds none() {
        return new QualityThresholds(
                0,
                Integer.MAX_VALUE,
                OFF,
                OFF,
                OFF,
                OFF,
                OFF,
                OFF,
                Set.of(),
                0,
                OFF,
                OFF,
                List.of(),
                List.of(),
                OFF,
                0,
                OFF);
    }

    /**
     * Source code: The Stack's filters (mean line length at most 100, longest line at most 1000, at least 25%
     * letters and digits) and a loose duplicate-line bound; word statistics mean nothing for code.
     */
    public static QualityThresholds code() {
        return new QualityThresholds(
                1,
                Integer.MAX_VALUE,
                OFF,
                OFF,
                OFF,
                OFF,
                OFF,
                OFF,
                Set.of(),
                0,
                OFF,
                0.6,
                List.of(),
                List.of(),
                100,
                1000,
                0.25);
    }
}
