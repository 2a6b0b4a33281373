package dev.qig.core.quant;

import ai.djl.ndarray.NDManager;
import dev.qig.core.data.VqaSample;
import dev.qig.core.vqa.VqaModel;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * Calibration on a fixed sample set, as the reference does it, through the streaming engine: pass 1
 * sums the statistics (mu, r) of every sample into a plan; pass 2 sums every sample's per-alpha
 * errors under that plan; each method then takes its argmin. Batch and stream share
 * {@link PartialSumsEngine} and {@link ScaleSearch}, so the stream gives the same alphas as this
 * class when it is given the same plan.
 */
public final class BatchCalibrator {

    /** A calibration's outcome. */
    public record Result(Map<Method, QuantConfig> configs, CalibrationPlan plan, Map<GroupKey, GroupPartials> sums,
                         double seconds) {}

    private final PartialSumsEngine engine;
    private final String modelId;

    public BatchCalibrator(VqaModel vqa, CalibrationSettings settings, String modelId) {
        this.engine = new PartialSumsEngine(vqa, settings, modelId);
        this.modelId = modelId;
    }

    public PartialSumsEngine engine() {
        return engine;
    }

    /**
     * Calibrates the given methods in one pass over the samples. {@code progress} receives
     * (pass name, samples done) after every engine batch.
     */
    public Result calibrate(Set<Method> methods, List<VqaSample> samples, NDManager manager,
                            BiConsumer<String, Integer> progress) {
        long start = System.nanoTime();
        Set<Method> needed = methods.isEmpty() ? EnumSet.noneOf(Method.class) : EnumSet.copyOf(methods);
        Map<GroupKey, GroupPartials> stats = sum(engine, samples, CalibrationPlan.empty(), needed, manager, "statistics", progress);
        CalibrationPlan plan = CalibrationPlan.from(1, stats, null);
        boolean searches = needed.stream().anyMatch(m -> m != Method.RTN);
        Map<GroupKey, GroupPartials> sums = searches
                ? sum(engine, samples, plan, needed, manager, "search", progress)
                : stats;
        Map<Method, QuantConfig> configs = new LinkedHashMap<>();
        Map<String, String> provenance = Map.of("samples", Integer.toString(samples.size()), "driver", "batch");
        for (Method m : needed) {
            configs.put(m, ScaleSearch.search(m, sums, plan, engine.settings(), modelId, 1, 1, provenance));
        }
        return new Result(configs, plan, sums, (System.nanoTime() - start) / 1e9);
    }

    /** Sum of the partials of all samples, per group. */
    static Map<GroupKey, GroupPartials> sum(PartialSumsEngine engine, List<VqaSample> samples, CalibrationPlan plan,
                                            Set<Method> methods, NDManager manager, String pass,
                                            BiConsumer<String, Integer> progress) {
        Map<GroupKey, GroupPartials> total = new TreeMap<>();
        int batch = engine.settings().batchSize();
        for (int from = 0; from < samples.size(); from += batch) {
            List<VqaSample> chunk = samples.subList(from, Math.min(samples.size(), from + batch));
            for (PartialSumsEngine.SampleResult r : engine.attribute(chunk, plan, methods, manager)) {
                r.partials().forEach((k, p) -> total.merge(k, p, GroupPartials::plus));
            }
            progress.accept(pass, from + chunk.size());
        }
        return total;
    }
}
