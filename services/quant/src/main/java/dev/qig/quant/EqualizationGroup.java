package dev.qig.quant;

import dev.qig.util.EnumIds;
import java.util.Locale;

/**
 * The channel-wise equalization groups of a decoder layer (qig-method.md section 2): linears that
 * read the same input share one per-input-channel scale s; the previous op is divided by s, the
 * linears' weight columns are multiplied by s, and the search compares the output of the
 * "inspected module". Which linears of a decoder layer each group scales, and how its module is
 * run, is the engine's ({@code dev.qig.core.engine.LayerGroups}).
 */
public enum EqualizationGroup {
    /** q, k, v after the input norm; inspected: the whole attention block. */
    QKV(Side.ATTENTION),
    /** o after v; inspected: o alone. Only when v and o have the same shape (never under GQA). */
    O(Side.ATTENTION),
    /** gate, up after the post-attention norm; inspected: the whole MLP. */
    GATE_UP(Side.MLP),
    /** down after up; inspected: down alone. */
    DOWN(Side.MLP);

    /** Which output MBQ's gradient ratio r is measured at: o (attention) or down (MLP). */
    public enum Side { ATTENTION, MLP }

    private final Side side;

    EqualizationGroup(Side side) {
        this.side = side;
    }

    public Side side() {
        return side;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static EqualizationGroup parse(String s) {
        return EnumIds.parse(EqualizationGroup.class, "equalization group", s);
    }
}
