package dev.qig.aggregator.internals;

import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.ScaleSearch;
import java.util.Map;

/**
 * The search a round's close runs for each method ({@link ScaleSearch#search}); a seam so that a
 * test can make a close fail midway and check that none of it is applied.
 */
@FunctionalInterface
public interface ScaleSearcher {

    ScaleSearcher DEFAULT = ScaleSearch::search;

    QuantConfig search(Method method, CalibrationSums sums, CalibrationPlan plan, CalibrationSettings settings,
                       String model, long version, long round, Map<String, String> provenance);
}
