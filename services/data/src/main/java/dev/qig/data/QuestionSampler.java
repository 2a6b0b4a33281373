package dev.qig.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;

/** Asks one question of a given type about a scene and computes its answer from the scene. */
final class QuestionSampler {

    static final String COLOR_TEMPLATE = "what color is the {shape} ?";
    static final String SHAPE_TEMPLATE = "what is the {color} object ?";
    static final String COUNT_SHAPE_TEMPLATE = "how many {shapes} are there ?";
    static final String COUNT_COLOR_TEMPLATE = "how many {color} objects are there ?";
    static final String RELATION_TEMPLATE = "is the {color} {shape} {relation} the {color2} {shape2} ?";
    static final String EXISTS_TEMPLATE = "is there a {color} {shape} ?";
    static final List<String> TEMPLATES = List.of(COLOR_TEMPLATE, SHAPE_TEMPLATE, COUNT_SHAPE_TEMPLATE,
            COUNT_COLOR_TEMPLATE, RELATION_TEMPLATE, EXISTS_TEMPLATE);

    static final List<String> NUMBER_WORDS =
            List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight");
    static final String YES = "yes";
    static final String NO = "no";

    /**
     * A question about {@code scene}, which may differ from the input scene (COUNT edits attributes to balance
     * answers). {@code referents} are the objects the answer depends on.
     */
    record Asked(Scene scene, String question, String answer, List<SceneObject> referents) {}

    private QuestionSampler() {}

    /** Empty when the scene does not allow a question of this type; the caller then draws a new scene. */
    static Optional<Asked> ask(QuestionType type, Scene scene, RandomGenerator rng) {
        return switch (type) {
            case COLOR -> askColor(scene, rng);
            case SHAPE -> askShape(scene, rng);
            case COUNT -> Optional.of(askCount(scene, rng));
            case RELATION -> askRelation(scene, rng);
            case EXISTS -> Optional.of(askExists(scene, rng));
        };
    }

    private static Optional<Asked> askColor(Scene scene, RandomGenerator rng) {
        List<SceneObject> unique = scene.matching(o -> scene.count(o.shape()) == 1);
        if (unique.isEmpty()) {
            return Optional.empty();
        }
        SceneObject o = Randoms.pick(unique, rng);
        String q = fill(COLOR_TEMPLATE, "{shape}", o.shape().word());
        return Optional.of(new Asked(scene, q, o.color().word(), List.of(o)));
    }

    private static Optional<Asked> askShape(Scene scene, RandomGenerator rng) {
        List<SceneObject> unique = scene.matching(o -> scene.count(o.color()) == 1);
        if (unique.isEmpty()) {
            return Optional.empty();
        }
        SceneObject o = Randoms.pick(unique, rng);
        String q = fill(SHAPE_TEMPLATE, "{color}", o.color().word());
        return Optional.of(new Asked(scene, q, o.size().word() + " " + o.shape().word(), List.of(o)));
    }

    /**
     * Counts are balanced by drawing the answer first (uniform over 0..objects) and then re-labelling as few
     * objects as possible so the scene matches it; natural scenes would answer "zero" about half the time.
     */
    private static Asked askCount(Scene scene, RandomGenerator rng) {
        int target = rng.nextInt(scene.objects().size() + 1);
        Scene planted;
        Predicate<SceneObject> counted;
        String q;
        if (rng.nextBoolean()) {
            ShapeKind shape = Randoms.pick(ShapeKind.values(), rng);
            counted = o -> o.shape() == shape;
            planted = relabel(scene, counted, target, o -> o.withShape(shape),
                    o -> o.withShape(other(ShapeKind.values(), shape, rng)), rng);
            q = fill(COUNT_SHAPE_TEMPLATE, "{shapes}", shape.plural());
        } else {
            ColorName color = Randoms.pick(ColorName.values(), rng);
            counted = o -> o.color() == color;
            planted = relabel(scene, counted, target, o -> o.withColor(color),
                    o -> o.withColor(other(ColorName.values(), color, rng)), rng);
            q = fill(COUNT_COLOR_TEMPLATE, "{color}", color.word());
        }
        return new Asked(planted, q, NUMBER_WORDS.get(target), planted.matching(counted));
    }

    /** Balanced yes/no: draw the answer, then a (subject, relation, reference) triple that has it. */
    private static Optional<Asked> askRelation(Scene scene, RandomGenerator rng) {
        List<SceneObject> unique = scene.matching(o -> scene.count(o.color(), o.shape()) == 1);
        if (unique.size() < 2) {
            return Optional.empty();
        }
        boolean yes = rng.nextBoolean();
        record Triple(SceneObject a, Relation r, SceneObject b) {}
        List<Triple> options = new ArrayList<>();
        for (SceneObject a : unique) {
            for (SceneObject b : unique) {
                for (Relation r : Relation.values()) {
                    if (a != b && r.holds(a, b) == yes) {
                        options.add(new Triple(a, r, b));
                    }
                }
            }
        }
        // Never empty: two objects in distinct cells differ in row or column, so each pair has a true and a false relation.
        Triple t = Randoms.pick(options, rng);
        String q = fill(RELATION_TEMPLATE, "{color}", t.a().color().word(), "{shape}", t.a().shape().word(),
                "{relation}", t.r().phrase(), "{color2}", t.b().color().word(), "{shape2}", t.b().shape().word());
        return Optional.of(new Asked(scene, q, yes ? YES : NO, List.of(t.a(), t.b())));
    }

    private static Asked askExists(Scene scene, RandomGenerator rng) {
        record Combo(ColorName color, ShapeKind shape) {}
        Combo asked;
        if (rng.nextBoolean()) {
            SceneObject o = Randoms.pick(scene.objects(), rng);
            asked = new Combo(o.color(), o.shape());
        } else {
            // 20 combinations and at most 8 objects, so some combination is always absent.
            List<Combo> absent = new ArrayList<>();
            for (ColorName c : ColorName.values()) {
                for (ShapeKind s : ShapeKind.values()) {
                    if (scene.count(c, s) == 0) {
                        absent.add(new Combo(c, s));
                    }
                }
            }
            asked = Randoms.pick(absent, rng);
        }
        String q = fill(EXISTS_TEMPLATE, "{color}", asked.color().word(), "{shape}", asked.shape().word());
        List<SceneObject> found = scene.matching(o -> o.color() == asked.color() && o.shape() == asked.shape());
        return new Asked(scene, q, found.isEmpty() ? NO : YES, found);
    }

    /** Changes the attribute of the fewest objects so that exactly {@code target} objects satisfy {@code counted}. */
    private static Scene relabel(Scene scene, Predicate<SceneObject> counted, int target,
            UnaryOperator<SceneObject> give, UnaryOperator<SceneObject> takeAway, RandomGenerator rng) {
        List<SceneObject> objects = new ArrayList<>(scene.objects());
        int current = scene.count(counted);
        boolean adding = current < target;
        List<Integer> candidates = new ArrayList<>();
        for (int i = 0; i < objects.size(); i++) {
            if (counted.test(objects.get(i)) != adding) {
                candidates.add(i);
            }
        }
        Randoms.shuffle(candidates, rng);
        for (int i : candidates.subList(0, Math.abs(target - current))) {
            objects.set(i, (adding ? give : takeAway).apply(objects.get(i)));
        }
        return new Scene(objects);
    }

    private static <T> T other(T[] values, T excluded, RandomGenerator rng) {
        List<T> rest = new ArrayList<>(Arrays.asList(values));
        rest.remove(excluded);
        return Randoms.pick(rest, rng);
    }

    private static String fill(String template, String... placeholderValuePairs) {
        String text = template;
        for (int i = 0; i < placeholderValuePairs.length; i += 2) {
            text = text.replace(placeholderValuePairs[i], placeholderValuePairs[i + 1]);
        }
        return text;
    }
}
