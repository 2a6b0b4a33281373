package dev.qig.data;

import java.util.Locale;

/** Object shapes; {@link #word()} and {@link #plural()} are the words used in questions and answers. */
public enum ShapeKind {
    CIRCLE("circles"),
    SQUARE("squares"),
    TRIANGLE("triangles"),
    CROSS("crosses");

    private final String plural;

    ShapeKind(String plural) {
        this.plural = plural;
    }

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    public String plural() {
        return plural;
    }
}
