package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class QualityRulesTest {
    private static final String SPEECH =
            "Madam President, on behalf of the committee I would like to thank the rapporteur for her work on"
                    + " this report. The proposal before us today is a balanced compromise between the "
                    + "positions of the Council and of"
                    + " this House, and I hope that we can adopt it with a large majority tomorrow.";
    private static final String REDE =
            "Frau Präsidentin, im Namen des Ausschusses möchte ich der Berichterstatterin für ihre Arbeit an"
                    + " diesem Bericht danken. Der Vorschlag, der uns heute vorliegt, ist ein ausgewogener "
                    + "Kompromiss zwischen den"
                    + " Standpunkten des Rates und dieses Hauses.";
    private static final String CHINESE =
            "欧洲议会今天通过了关于渔业政策的决议。委员会的报告员感谢各位议员在过去一年中的合作," + "并希望理事会能够尽快采纳这一提案。许多议员认为,这项政策对沿海地区的经济发展非常重要。";
    /** Tang poems (public domain, as in Debian's fortunes-zh), a line break every five or seven characters. */
    static final String[] POEMS = {
        "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。",
        "白日依山尽，\n黄河入海流。\n欲穷千里目，\n更上一层楼。",
        "春眠不觉晓，\n处处闻啼鸟。\n夜来风雨声，\n花落知多少。",
        "朝辞白帝彩云间，\n千里江陵一日还。\n两岸猿声啼不住，\n轻舟已过万重山。"
    };

    private static final String JAVA = "public final class Counter {\n  private long count;\n\n  /** Adds one. */\n"
            + "  public void increment() {\n    count++;\n  }\n\n  public long get() {\n    return count;\n  }\n}\n";

    private static String reason(String text, QualityThresholds t) {
        return assertThrows(InvalidDocumentException.class, () -> QualityRules.check(text, t))
                .reason()
                .code();
    }

    @Test
    void realProsePassesInEnglishAndGerman() {
        assertDoesNotThrow(() -> QualityRules.check(SPEECH, QualityThresholds.english()));
        assertDoesNotThrow(() -> QualityRules.check(REDE, QualityThresholds.prose()));
    }

    @Test
    void eachGopherRuleRejectsTheTextItIsMeantFor() {
        assertEquals("too-few-words", reason("Thank you, Madam President.", QualityThresholds.prose()));
        assertEquals(
                "mean-word-length",
                reason("a b c d e f g h i j k l m n o p q r s t u v w x y z a b c", QualityThresholds.prose()));
        assertEquals(
                "mean-word-length",
                reason(
                        "Internationalisation responsibilities notwithstanding, parliamentarians' counterproposals"
                                + " characteristically overemphasised interdepartmental uncompetitiveness, "
                                + "institutionalising disproportionately"
                                + " incomprehensible electroencephalographic telecommunications "
                                + "infrastructure recommendations, misrepresenting"
                                + " environmentally unsustainable industrialisation counterarguments.",
                        QualityThresholds.prose()));
        assertEquals(
                "symbol-ratio",
                reason(SPEECH.replace(" the ", " #the #of ") + " #eu #vote #now", QualityThresholds.prose()));
        assertEquals(
                "bullet-lines", reason(("- " + "item of the list with words\n").repeat(6), QualityThresholds.prose()));
        assertEquals(
                "ellipsis-lines",
                reason(
                        "And then the long story of the old harbour went on and on...\n"
                                + "while the cold rain fell on the roofs of the sleeping town...\nnobody in "
                                + "the village knew what had happened there\n",
                        QualityThresholds.prose()));
        assertEquals(
                "few-alpha-words",
                reason(
                        "Results: 1001 2002 3003 4004 5005 6006 7007 8008 9009 1010 1111 1212 1313 1414 1515"
                                + " 1616 1717 1818 1919 2020 2121 2222 are the final numbers of the count",
                        QualityThresholds.prose()));
        assertEquals("few-stop-words", reason(REDE, QualityThresholds.english()));
    }

    @Test
    void aOneParagraphDocumentOpeningWithADashIsNotAList() {
        assertDoesNotThrow(() -> QualityRules.check("- " + SPEECH + "...", QualityThresholds.english()));
    }

    @Test
    void repetitionRulesCatchRepeatedLinesAndNgrams() {
        String repeatedLines = "Buy cheap watches online today at our store\n".repeat(4) + SPEECH;
        assertEquals("duplicate-lines", reason(repeatedLines, QualityThresholds.prose()));
        assertEquals(
                "top-ngram-repetition",
                reason(
                        SPEECH + " click here click here click here click here click here click here"
                                + " click here click here click here click here click here click here",
                        QualityThresholds.prose()));
        assertEquals("duplicate-ngrams", reason(SPEECH + " " + SPEECH.substring(0, 120), QualityThresholds.prose()));
    }

    @Test
    void wordsOfUnspacedScriptsComeFromDictionariesNotFromSpaces() {
        assertEquals(List.of("欧洲", "议会", "今天", "通过", "了", "决议"), QualityRules.segmentedWords("欧洲议会今天通过了决议。"));
        assertEquals(
                List.of("東京", "で", "AI", "会議", "が", "開", "か", "れ", "た"), QualityRules.segmentedWords("東京でAI会議が開かれた。"));
        assertEquals(
                List.of("ภาษา", "ไทย", "ง่าย", "นิด", "เดียว"), QualityRules.segmentedWords("ภาษาไทยง่ายนิดเดียว"));
        assertTrue(Scripts.of(POEMS[0]).mostlyUnspaced());
        assertTrue(Scripts.of("public void run() { // 运行任务\n }").needsDictionary());
    }

    @Test
    void shortLinePoemsAreMeasuredInWordsNotLines() {
        // Four lines of five characters: counting spaces called this "spaced text" of 4 words.
        for (String poem : POEMS)
            assertDoesNotThrow(() -> QualityRules.check(poem, QualityThresholds.unspaced()), poem);
        assertDoesNotThrow(() -> QualityRules.check(CHINESE, QualityThresholds.unspaced()));
        assertEquals("too-few-words", reason("欧洲议会今天通过了决议。", QualityThresholds.unspaced()));
        assertEquals("top-ngram-repetition", reason("哈哈".repeat(40) + CHINESE, QualityThresholds.unspaced()));
    }

    @Test
    void mixedScriptTextIsNotPenalisedForBeingMixed() {
        String japaneseWithLatin =
                "本日はKafka StreamsとAvroを使ったデータ処理の仕組みについて説明します。" + "まずProducerがレコードを送信し、次にConsumerがそれを読み取ります。";
        assertDoesNotThrow(() -> QualityRules.check(japaneseWithLatin, QualityThresholds.unspaced()));
        assertDoesNotThrow(
                () -> QualityRules.check(SPEECH + " 欧洲议会 (Europäisches Parlament).", QualityThresholds.english()));
        // A manual page: Chinese prose around Latin options, judged by the prose preset (its Latin words set the mean).
        String manPage = "ls 命令列出目录中的文件。\n使用 --all 选项时,也会显示以点开头的隐藏文件。\n" + "使用 --long 选项时,每个文件显示为一行,包括权限、所有者、大小和修改时间。";
        assertDoesNotThrow(() -> QualityRules.check(manPage, QualityThresholds.prose()));
    }

    @Test
    void codeIsJudgedByLinesNotWords() {
        assertDoesNotThrow(() -> QualityRules.check(JAVA, QualityThresholds.code()));
        assertThrows(
                InvalidDocumentException.class,
                () -> QualityRules.check(JAVA, QualityThresholds.english()),
                "prose rules would drop code");
        assertEquals("long-lines", reason("var a=" + "1,".repeat(700) + "2;\n", QualityThresholds.code()));
        assertEquals("low-alphanumeric", reason("{}[]();;;\n".repeat(30), QualityThresholds.code()));
        assertEquals(
                "duplicate-lines",
                reason("    assertEquals(expected, actual);\n".repeat(20), QualityThresholds.code()));
    }

    @Test
    void noneLetsEverythingThrough() {
        assertDoesNotThrow(() -> QualityRules.check("ok", QualityThresholds.none()));
    }
}
