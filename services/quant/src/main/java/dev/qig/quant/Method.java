package dev.qig.quant;

import dev.qig.util.EnumIds;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

/**
 * How a config is chosen. The first four pick per-group equalization scales by a search whose
 * per-token errors they weight differently (qig-method.md section 2); the last two keep the
 * weights unscaled and round them with GPTQ, whose result depends on the calibration inputs
 * through their Hessian ({@link dev.qig.core.engine.gptq.GptqCalibrator}).
 */
public enum Method {
    /** No search: alpha = 0, plain round-to-nearest. */
    RTN,
    /** Uniform weights over all tokens. */
    AWQ,
    /** Answer tokens 1, vision tokens r (gradient ratio), the rest 0. */
    MBQ,
    /** Integrated-gradient token weights lambda. */
    QIG,
    /** GPTQ (Frantar et al. 2022): error-compensating rounding against H = sum_t x_t x_t^T. */
    GPTQ,
    /**
     * GPTQ against QIG's token-weighted Hessian H = sum_t lambda_t x_t x_t^T: the project's own
     * combination (the paper reports it, its reference code does not have it).
     */
    QIG_GPTQ;

    /** Lower case, '-' for '_': rtn, awq, mbq, qig, gptq, qig-gptq. */
    public String id() {
        return EnumIds.dashedId(this);
    }

    /** True for the methods that search equalization scales (what the streaming engine computes sums for). */
    public boolean searchesScales() {
        return this != GPTQ && this != QIG_GPTQ;
    }

    /** True for the methods that round with GPTQ and so carry their quantized weights. */
    public boolean roundsWithGptq() {
        return !searchesScales();
    }

    /** The scale-search methods: rtn, awq, mbq, qig. */
    public static EnumSet<Method> scaleSearches() {
        EnumSet<Method> s = EnumSet.noneOf(Method.class);
        for (Method m : values()) {
            if (m.searchesScales()) {
                s.add(m);
            }
        }
        return s;
    }

    public static Method parse(String s) {
        return EnumIds.parseDashed(Method.class, "method", s);
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
