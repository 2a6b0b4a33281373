package dev.qig.data;

import dev.qig.util.EnumIds;
import java.util.Locale;

/**
 * Data domains of the synthetic world. Each one shifts the data the way production data shifts:
 * <ul>
 *   <li>{@code CLEAN}: 2-4 objects on a plain dark-grey background, uniform question mix.</li>
 *   <li>{@code CLUTTERED}: 5-8 objects on random low/medium-contrast textures (covariate shift).</li>
 *   <li>{@code LOWLIGHT}: 2-4 objects, dimmed hue-shifted palette, near-black background, pixel noise.</li>
 *   <li>{@code QMIX}: clean-style images with 3-5 objects but a skewed question mix (label shift).</li>
 * </ul>
 */
public enum Domain {
    CLEAN,
    CLUTTERED,
    LOWLIGHT,
    QMIX;

    /** Lower-case name used in ids, file names and command lines. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Case-insensitive inverse of {@link #id()}. */
    public static Domain parse(String name) {
        return EnumIds.parse(Domain.class, "domain", name);
    }
}
