package dev.qig.data;

import java.util.Locale;

/** Object color names. The RGB values are per domain (see {@code SceneRenderer}); the names are shared. */
public enum ColorName {
    RED,
    GREEN,
    BLUE,
    YELLOW,
    WHITE;

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }
}
