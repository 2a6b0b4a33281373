package dev.qig.util;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Enums named on the command line and in configs by their lower-case id: one parser for all of
 * them, with the same clear error (the bad name and every valid one).
 */
public final class EnumIds {

    private EnumIds() {}

    public static String id(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }

    /** The constant whose name equals {@code text} ignoring case and surrounding blanks. */
    public static <E extends Enum<E>> E parse(Class<E> type, String what, String text) {
        if (text != null) {
            for (E e : type.getEnumConstants()) {
                if (e.name().equalsIgnoreCase(text.strip())) {
                    return e;
                }
            }
        }
        throw new IllegalArgumentException("unknown " + what + " '" + text + "'; valid: "
                + Arrays.stream(type.getEnumConstants()).map(EnumIds::id).collect(Collectors.joining(", ")));
    }

    /** The id of a constant named with '_' as written with '-' ({@code qig-gptq}, {@code w8a8-static}). */
    public static String dashedId(Enum<?> value) {
        return id(value).replace('_', '-');
    }

    /** As {@link #parse}, where '-' in {@code text} stands for '_' and the error lists {@link #dashedId}s. */
    public static <E extends Enum<E>> E parseDashed(Class<E> type, String what, String text) {
        if (text != null) {
            String key = text.strip().replace('-', '_');
            for (E e : type.getEnumConstants()) {
                if (e.name().equalsIgnoreCase(key)) {
                    return e;
                }
            }
        }
        throw new IllegalArgumentException("unknown " + what + " '" + text + "'; valid: "
                + Arrays.stream(type.getEnumConstants()).map(EnumIds::dashedId).collect(Collectors.joining(", ")));
    }
}
