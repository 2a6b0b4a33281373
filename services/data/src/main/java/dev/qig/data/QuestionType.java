package dev.qig.data;

import java.util.Locale;

/** The five question families of the synthetic world. */
public enum QuestionType {
    COLOR,
    SHAPE,
    COUNT,
    RELATION,
    EXISTS;

    /** Lower-case name. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
