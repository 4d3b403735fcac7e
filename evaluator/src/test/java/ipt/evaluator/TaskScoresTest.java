package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.model.Tokenizer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskScoresTest {
    @Test
    void aByteLevelModelOnThreeByteCharactersIsNotMistakenForAGoodOne() {
        // The same loss per token on Chinese (3 bytes a character) and on ASCII: per character, the Chinese is 3x
        // worse.
        double loss = 0.9;
        List<String> chinese = List.of("欧洲议会今天通过了决议", "委员会感谢各位议员");
        List<String> ascii = List.of("the parliament adopted", "the committee thanks");
        Map<String, Double> zh = TaskScores.perText(loss, Tokenizer.BYTES.windows(chinese, 17), chinese);
        Map<String, Double> en = TaskScores.perText(loss, Tokenizer.BYTES.windows(ascii, 17), ascii);
        assertEquals(
                loss / Math.log(2),
                zh.get(TaskScores.BITS_PER_BYTE),
                0.02,
                "a byte-level model's bits per byte is its loss in bits");
        assertEquals(loss / Math.log(2), en.get(TaskScores.BITS_PER_BYTE), 0.02);
        assertEquals(loss, en.get(TaskScores.NATS_PER_CHAR), 0.02);
        // 20 Chinese characters and a separator are 61 bytes: about 2.9 bytes a character.
        assertEquals(loss * 61 / 21, zh.get(TaskScores.NATS_PER_CHAR), 1e-9);
    }

    @Test
    void noPredictedTokenIsNotANumber() {
        Map<String, Double> none = TaskScores.perText(1.0, List.of(), List.of());
        assertEquals(Double.NaN, none.get(TaskScores.BITS_PER_BYTE));
    }
}
