package dev.qig.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses a question and answers it from the scene, independently of the generator's own code paths. */
final class SceneOracle {

    private static final List<String> NUMBERS =
            List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight");
    private static final Pattern COLOR = Pattern.compile("what color is the (\\w+) \\?");
    private static final Pattern SHAPE = Pattern.compile("what is the (\\w+) object \\?");
    private static final Pattern COUNT_SHAPE = Pattern.compile("how many (circles|squares|triangles|crosses) are there \\?");
    private static final Pattern COUNT_COLOR = Pattern.compile("how many (\\w+) objects are there \\?");
    private static final Pattern RELATION =
            Pattern.compile("is the (\\w+) (\\w+) (left of|right of|above|below) the (\\w+) (\\w+) \\?");
    private static final Pattern EXISTS = Pattern.compile("is there a (\\w+) (\\w+) \\?");

    private SceneOracle() {}

    static String answer(Scene scene, QuestionType type, String question) {
        List<SceneObject> objects = scene.objects();
        Matcher m;
        switch (type) {
            case COLOR -> {
                m = match(COLOR, question);
                List<SceneObject> found = objects.stream().filter(o -> o.shape().word().equals(m.group(1))).toList();
                assertEquals(1, found.size(), "COLOR asked about a non-unique shape: " + question);
                return found.get(0).color().word();
            }
            case SHAPE -> {
                m = match(SHAPE, question);
                List<SceneObject> found = objects.stream().filter(o -> o.color().word().equals(m.group(1))).toList();
                assertEquals(1, found.size(), "SHAPE asked about a non-unique color: " + question);
                return found.get(0).size().word() + " " + found.get(0).shape().word();
            }
            case COUNT -> {
                Matcher byShape = COUNT_SHAPE.matcher(question);
                if (byShape.matches()) {
                    String plural = byShape.group(1);
                    return NUMBERS.get((int) objects.stream().filter(o -> o.shape().plural().equals(plural)).count());
                }
                m = match(COUNT_COLOR, question);
                return NUMBERS.get((int) objects.stream().filter(o -> o.color().word().equals(m.group(1))).count());
            }
            case RELATION -> {
                m = match(RELATION, question);
                SceneObject a = unique(objects, m.group(1), m.group(2), question);
                SceneObject b = unique(objects, m.group(4), m.group(5), question);
                boolean holds = switch (m.group(3)) {
                    case "left of" -> a.col() < b.col();
                    case "right of" -> a.col() > b.col();
                    case "above" -> a.row() < b.row();
                    default -> a.row() > b.row();
                };
                return holds ? "yes" : "no";
            }
            case EXISTS -> {
                m = match(EXISTS, question);
                boolean any = objects.stream()
                        .anyMatch(o -> o.color().word().equals(m.group(1)) && o.shape().word().equals(m.group(2)));
                return any ? "yes" : "no";
            }
            default -> throw new AssertionError(type);
        }
    }

    private static Matcher match(Pattern pattern, String question) {
        Matcher m = pattern.matcher(question);
        if (!m.matches()) {
            fail("question '" + question + "' does not match " + pattern);
        }
        return m;
    }

    private static SceneObject unique(List<SceneObject> objects, String color, String shape, String question) {
        List<SceneObject> found = objects.stream()
                .filter(o -> o.color().name().equals(color.toUpperCase(Locale.ROOT))
                        && o.shape().name().equals(shape.toUpperCase(Locale.ROOT)))
                .toList();
        assertEquals(1, found.size(), "RELATION object not unique: " + question);
        return found.get(0);
    }
}
