package ipt.ingest;

/**
 * The writing systems of a text's letters, as far as the quality filter needs them: how many letters belong to
 * scripts written without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar), whose words
 * only a dictionary can find. Counting white space instead fails on poems and lists (a line break every few
 * characters looks like spaced text).
 *
 * @param letters letters of any script
 * @param unspacedLetters letters of the scripts above
 */
record Scripts(int letters, int unspacedLetters) {
    /** The first code point of any script written without spaces (Thai, U+0E00): below it the check is one compare. */
    private static final int FIRST_UNSPACED = 0x0E00;

    static Scripts of(String text) {
        int letters = 0;
        int unspaced = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (!Character.isLetter(cp)) continue;
            letters++;
            if (isUnspaced(cp)) unspaced++;
        }
        return new Scripts(letters, unspaced);
    }

    /** A letter of a script written without spaces. */
    static boolean isUnspaced(int cp) {
        return cp >= FIRST_UNSPACED && isUnspaced(Character.UnicodeScript.of(cp));
    }

    private static boolean isUnspaced(Character.UnicodeScript script) {
        return switch (script) {
            case HAN, HIRAGANA, KATAKANA, THAI, LAO, KHMER, MYANMAR -> true;
            default -> false;
        };
    }

    /** Some letters need a dictionary to be split into words. */
    boolean needsDictionary() {
        return unspacedLetters > 0;
    }

    /** Most letters are of scripts written without spaces: the text gets the unspaced preset unless its domain names
     * one. */
    boolean mostlyUnspaced() {
        return unspacedLetters * 2 > letters;
    }
}
