package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Continuations from a real model: greedy is the argmax step by step, through the sliding window; seeds repeat. */
class GenerationTest {
    private static final String PROMPT = "It was the";

    /** The tiny GPT (context 32) after a few steps on the corpus, so its distribution is not near-uniform. */
    private static Training trained() {
        GptConfig config = Corpus.tiny();
        Training training = Training.create(config, TrainConfig.defaults());
        for (int s = 0; s < 20; s++) training.trainStep(Corpus.batch(s, 4, config.contextLength()), 3e-3f);
        return training;
    }

    @Test
    void greedyTakesTheMostLikelyTokenAtEveryStepAsScoringMeasuresIt() {
        try (Training training = trained()) {
            LanguageModel model = training.model();
            int context = model.config().contextLength();
            Generation.Continuation greedy = Generation.generate(model, PROMPT, Sampling.greedy(40));
            assertEquals(40, greedy.tokens().length, "ran to max tokens: " + greedy.text());
            assertFalse(greedy.endOfText());
            assertEquals(ByteTokenizer.decode(greedy.tokens()), greedy.text());
            // The prompt's document starts after end-of-text; past 32 tokens the window slides.
            int[] all = new int[1 + PROMPT.length() + greedy.tokens().length];
            all[0] = ByteTokenizer.EOS;
            System.arraycopy(ByteTokenizer.encode(PROMPT), 0, all, 1, PROMPT.length());
            System.arraycopy(greedy.tokens(), 0, all, 1 + PROMPT.length(), greedy.tokens().length);
            for (int at = 1 + PROMPT.length(); at < all.length; at++) {
                int[] window = Arrays.copyOfRange(all, Math.max(0, at - context), at);
                // Scoring's log-softmax of every candidate next token: greedy's has the fewest nats.
                List<int[]> candidates = new ArrayList<>();
                int[] from = new int[ByteTokenizer.VOCAB_SIZE];
                for (int c = 0; c < ByteTokenizer.VOCAB_SIZE; c++) {
                    int[] sequence = Arrays.copyOf(window, window.length + 1);
                    sequence[window.length] = c;
                    candidates.add(sequence);
                    from[c] = window.length;
                }
                double[] nats = model.continuationNats(candidates, from);
                int best = 0;
                for (int c = 1; c < nats.length; c++) if (nats[c] < nats[best]) best = c;
                assertEquals(best, all[at], "token " + (at - 1 - PROMPT.length()) + " of " + greedy.text());
            }
        }
    }

    @Test
    void topKOneIsGreedyAtAnyTemperature() {
        try (Training training = trained()) {
            int[] greedy = Generation.generate(training.model(), PROMPT, Sampling.greedy(30))
                    .tokens();
            for (double temperature : new double[] {0.5, 1, 3}) {
                assertArrayEquals(
                        greedy,
                        Generation.generate(training.model(), PROMPT, new Sampling(temperature, 1, 1, 30, 7))
                                .tokens(),
                        "temperature " + temperature);
            }
        }
    }

    @Test
    void aSeedGivesTheSameTextAndAnotherSeedAnother() {
        try (LanguageModel random = LanguageModel.create(Corpus.tiny(), 3)) {
            Generation.Continuation a = Generation.generate(random, PROMPT, new Sampling(1, 0, 1, 40, 1));
            Generation.Continuation again = Generation.generate(random, PROMPT, new Sampling(1, 0, 1, 40, 1));
            Generation.Continuation other = Generation.generate(random, PROMPT, new Sampling(1, 0, 1, 40, 2));
            assertArrayEquals(a.tokens(), again.tokens());
            assertEquals(a.text(), again.text());
            assertFalse(Arrays.equals(a.tokens(), other.tokens()), "seed 2 drew the same: " + a.text());
            assertTrue(a.tokensPerSecond() > 0);
        }
    }

    @Test
    void aTorchScriptModelContinuesThroughItsOwnTokenizer() throws Exception {
        Path dir = Path.of("src/test/resources/torchscript");
        try (LanguageModel module = LanguageModel.fromTorchScript(
                dir.resolve("tiny-gpt.pt"), dir.resolve("tokenizer.json"), new GptConfig(1, 32, 32, 2, 2))) {
            assertEquals(
                    "the model", module.tokenizer().decode(module.tokenizer().encode("the model")));
            Generation.Continuation c = Generation.generate(module, "the model", new Sampling(1, 0, 0.9, 50, 5));
            assertTrue(c.tokens().length > 0 || c.endOfText());
            for (int id : c.tokens()) assertTrue(id >= 0 && id < 320, "a token of the vocabulary but end-of-text");
            assertEquals(module.tokenizer().decode(c.tokens()), c.text());
            assertEquals(
                    c.text(),
                    Generation.generate(module, "the model", new Sampling(1, 0, 0.9, 50, 5))
                            .text());
            assertNotEquals(0, c.promptTokens());
        }
    }
}
