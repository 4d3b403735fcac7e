package ipt.model;

import java.util.List;

/** What a model is scored on: text (loss; perplexity is its exp) or multiple-choice items (acc, acc_norm). */
public sealed interface Task permits Task.Text, Task.Choices {
    String name();

    /** Documents scored as the trainer packs them: EOS after each, cut into context-sized sequences. */
    record Text(String name, List<String> documents) implements Task {
        public Text {
            documents = List.copyOf(documents);
        }
    }

    /** Items whose right choice should be the most likely continuation of the context. */
    record Choices(String name, List<Item> items) implements Task {
        public Choices {
            items = List.copyOf(items);
        }
    }

    record Item(String context, List<String> choices, int answer) {
        public Item {
            choices = List.copyOf(choices);
            if (choices.size() < 2)
                throw new IllegalArgumentException("an item needs at least 2 choices, has " + choices.size());
            if (answer < 0 || answer >= choices.size())
                throw new IllegalArgumentException(
                        "answer " + answer + " is not one of the " + choices.size() + " choices");
        }
    }
}
