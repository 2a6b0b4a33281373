package dev.qig.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class VocabularyTest {

    private final Vocabulary vocab = Vocabulary.standard();

    @Test
    void specialAndTemplateTokensComeFirstThenSortedWords() {
        assertSame(vocab, Vocabulary.standard());
        assertEquals(List.of("<pad>", "<bos>", "<eos>", "<image>", "user", ":", "assistant"),
                vocab.words().subList(0, Vocabulary.FIRST_TEXT_ID));
        assertEquals(Vocabulary.PAD, vocab.id("<pad>"));
        assertEquals(Vocabulary.BOS, vocab.id("<bos>"));
        assertEquals(Vocabulary.EOS, vocab.id("<eos>"));
        assertEquals(Vocabulary.IMAGE, vocab.id("<image>"));
        List<String> rest = vocab.words().subList(Vocabulary.FIRST_TEXT_ID, vocab.size());
        List<String> sorted = new ArrayList<>(rest);
        sorted.sort(null);
        assertEquals(sorted, rest);
        assertEquals(vocab.size(), new HashSet<>(vocab.words()).size());
        for (int i = 0; i < vocab.size(); i++) {
            assertEquals(i, vocab.id(vocab.word(i)));
        }
    }

    @Test
    void coversAllGeneratedTextAndHasNoUnusedWords() {
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> samples = new ArrayList<>(world.trainingMix(4000, 1));
        for (Domain d : Domain.values()) {
            samples.addAll(world.evalSet(d));
        }
        Set<String> used = new HashSet<>();
        for (VqaSample s : samples) {
            for (String text : List.of(s.question(), s.answer())) {
                assertEquals(text, vocab.decode(vocab.encode(text)));
                used.addAll(List.of(text.split(" ")));
            }
        }
        Set<String> unused = new HashSet<>(vocab.words().subList(Vocabulary.FIRST_TEXT_ID, vocab.size()));
        unused.removeAll(used);
        assertEquals(Set.of(), unused, "vocabulary words no sample uses");
    }

    @Test
    void encodeSplitsOnWhitespace() {
        assertArrayEquals(new int[] {vocab.id("is"), vocab.id("there"), vocab.id("?")}, vocab.encode(" is  there ? "));
        assertArrayEquals(new int[0], vocab.encode("   "));
    }

    @Test
    void unknownWordsAndIdsAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vocab.encode("is there a purple cow ?"));
        assertTrue(e.getMessage().contains("'purple'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> vocab.word(vocab.size()));
        assertThrows(IllegalArgumentException.class, () -> vocab.word(-1));
    }
}
