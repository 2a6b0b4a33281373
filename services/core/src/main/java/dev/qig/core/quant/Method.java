package dev.qig.core.quant;

import dev.qig.core.util.EnumIds;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** How the per-token errors of the scale search are weighted (qig-method.md section 2). */
public enum Method {
    /** No search: alpha = 0, plain round-to-nearest. */
    RTN,
    /** Uniform weights over all tokens. */
    AWQ,
    /** Answer tokens 1, vision tokens r (gradient ratio), the rest 0. */
    MBQ,
    /** Integrated-gradient token weights lambda. */
    QIG;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Method parse(String s) {
        return EnumIds.parse(Method.class, "method", s);
    }

    /** Parses a comma-separated list such as {@code rtn,awq,mbq,qig}. */
    public static List<Method> parseList(String csv) {
        List<Method> out = new ArrayList<>();
        for (String part : csv.split(",")) {
            if (!part.isBlank()) {
                Method m = parse(part);
                if (!out.contains(m)) {
                    out.add(m);
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no method given");
        }
        return out;
    }
}
