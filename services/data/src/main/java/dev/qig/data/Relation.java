package dev.qig.data;

/** Spatial relations between two objects, defined on layout-grid cells (not pixels). */
public enum Relation {
    LEFT_OF("left of"),
    RIGHT_OF("right of"),
    ABOVE("above"),
    BELOW("below");

    private final String phrase;

    Relation(String phrase) {
        this.phrase = phrase;
    }

    /** The words used in questions, e.g. "left of". */
    public String phrase() {
        return phrase;
    }

    /** Whether {@code a} stands in this relation to {@code b}: strictly smaller column for "left of", etc. */
    public boolean holds(SceneObject a, SceneObject b) {
        return switch (this) {
            case LEFT_OF -> a.col() < b.col();
            case RIGHT_OF -> a.col() > b.col();
            case ABOVE -> a.row() < b.row();
            case BELOW -> a.row() > b.row();
        };
    }
}
