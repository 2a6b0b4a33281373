package dev.qig.core.engine;

import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.ScaleSearch;
import ai.djl.ndarray.NDManager;
import dev.qig.data.VisualQuestion;
import dev.qig.core.engine.gptq.GptqCalibrator;
import dev.qig.quant.GptqOptions;
import dev.qig.core.vqa.VqaModel;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Calibration on a fixed sample set, as the reference does it, through the streaming engine: pass 1
 * sums the statistics (mu, r) of every sample into a plan; pass 2 sums every sample's per-alpha
 * errors under that plan; each method then takes its argmin. Batch and stream share
 * {@link PartialSumsEngine}, {@link CalibrationSums} and {@link ScaleSearch}, so the stream gives the
 * same alphas as this class when it is given the same plan.
 */
public final class BatchCalibrator {

    /** A calibration's outcome. */
    public record Result(Map<Method, QuantConfig> configs, CalibrationPlan plan, CalibrationSums sums,
                         double seconds) {}

    private final VqaModel vqa;
    private final PartialSumsEngine engine;
    private final String modelId;

    public BatchCalibrator(VqaModel vqa, CalibrationSettings settings, String modelId) {
        this.vqa = vqa;
        this.engine = new PartialSumsEngine(vqa, settings, modelId);
        this.modelId = modelId;
    }

    public PartialSumsEngine engine() {
        return engine;
    }

    /** The model id its configs name. */
    public String modelId() {
        return modelId;
    }

    /**
     * Calibrates the given methods in one pass over the samples. {@code progress} receives
     * (pass name, samples done) after every engine batch.
     */
    public Result calibrate(Set<Method> methods, List<? extends VisualQuestion> samples, NDManager manager,
                            BiConsumer<String, Integer> progress) {
        long start = System.nanoTime();
        Set<Method> needed = methods.isEmpty() ? EnumSet.noneOf(Method.class) : EnumSet.copyOf(methods);
        CalibrationSums stats = sum(engine, samples, CalibrationPlan.empty(), needed, manager, "statistics", progress);
        CalibrationPlan plan = CalibrationPlan.from(1, stats.statistics(), null);
        boolean searches = needed.stream().anyMatch(m -> m != Method.RTN);
        CalibrationSums sums = searches ? sum(engine, samples, plan, needed, manager, "search", progress) : stats;
        return new Result(search(needed, sums, plan, samples.size()), plan, sums, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Calibrates under a given plan (pass 2 only): what a stream's round under that plan computes
     * from the same samples.
     */
    public Result calibrate(Set<Method> methods, List<? extends VisualQuestion> samples, CalibrationPlan plan,
                            NDManager manager, BiConsumer<String, Integer> progress) {
        long start = System.nanoTime();
        Set<Method> needed = methods.isEmpty() ? EnumSet.noneOf(Method.class) : EnumSet.copyOf(methods);
        CalibrationSums sums = sum(engine, samples, plan, needed, manager, "search", progress);
        return new Result(search(needed, sums, plan, samples.size()), plan, sums, (System.nanoTime() - start) / 1e9);
    }

    /**
     * QIG's token weights lambda of every sample, per group, as QIG's calibration computes them
     * (statistics pass, plan, then the integrated gradients under it): what QIG-GPTQ weights its
     * Hessians with. The list follows the order of the samples.
     */
    public List<Map<GroupKey, float[]>> tokenWeights(List<? extends VisualQuestion> samples, NDManager manager,
                                                     BiConsumer<String, Integer> progress) {
        Set<Method> qig = EnumSet.of(Method.QIG);
        CalibrationSums stats = sum(engine, samples, CalibrationPlan.empty(), qig, manager, "statistics", progress);
        CalibrationPlan plan = CalibrationPlan.from(1, stats.statistics(), null);
        List<Map<GroupKey, float[]>> out = new java.util.ArrayList<>(samples.size());
        forEachSample(engine, samples, chunk -> engine.tokenWeights(chunk, plan, manager), "token weights", progress,
                r -> out.add(r.lambda()));
        return out;
    }

    /**
     * GPTQ or QIG-GPTQ on the samples, in their order; QIG-GPTQ weights every token with
     * {@link #tokenWeights} first. The model is back in full precision afterwards.
     */
    public GptqCalibrator.Result gptq(Method method, GptqOptions options, List<? extends VisualQuestion> samples,
                                      NDManager manager, BiConsumer<String, Integer> progress) {
        if (!method.roundsWithGptq()) {
            throw new IllegalArgumentException("method " + method.id() + " does not round with GPTQ");
        }
        GptqCalibrator.TokenWeights weights = null;
        if (method == Method.QIG_GPTQ) {
            List<Map<GroupKey, float[]>> lambda = tokenWeights(samples, manager, progress);
            weights = (sample, group) -> lambda.get(sample).get(group);
        }
        return new GptqCalibrator(vqa, engine.settings().scheme(), options.damp(), options.actOrder(),
                engine.settings().batchSize()).calibrate(samples, weights, manager, progress);
    }

    private Map<Method, QuantConfig> search(Set<Method> methods, CalibrationSums sums, CalibrationPlan plan,
                                            int samples) {
        Map<Method, QuantConfig> configs = new LinkedHashMap<>();
        Map<String, String> provenance = Map.of("samples", Integer.toString(samples), "driver", "batch");
        for (Method m : methods) {
            configs.put(m, ScaleSearch.search(m, sums, plan, engine.settings(), modelId, 1, 1, provenance));
        }
        return configs;
    }

    /**
     * Sum of the partials of all samples.
     *
     * @throws IllegalArgumentException if a sample's values are not finite (a batch has no dead-letter topic)
     */
    static CalibrationSums sum(PartialSumsEngine engine, List<? extends VisualQuestion> samples, CalibrationPlan plan,
                               Set<Method> methods, NDManager manager, String pass, BiConsumer<String, Integer> progress) {
        CalibrationSums[] total = {CalibrationSums.EMPTY};
        forEachSample(engine, samples, chunk -> engine.attribute(chunk, plan, methods, manager), pass, progress,
                r -> total[0] = total[0].plus(r.sums()));
        return total[0];
    }

    /** Every sample's engine result in order, batch by batch, with progress after each batch. */
    private static void forEachSample(PartialSumsEngine engine, List<? extends VisualQuestion> samples,
                                      java.util.function.Function<List<? extends VisualQuestion>,
                                              List<PartialSumsEngine.SampleResult>> attribute,
                                      String pass, BiConsumer<String, Integer> progress,
                                      java.util.function.Consumer<PartialSumsEngine.SampleResult> each) {
        int batch = engine.settings().batchSize();
        for (int from = 0; from < samples.size(); from += batch) {
            List<? extends VisualQuestion> chunk = samples.subList(from, Math.min(samples.size(), from + batch));
            for (PartialSumsEngine.SampleResult r : attribute.apply(chunk)) {
                if (!r.ok()) {
                    throw new IllegalArgumentException("sample " + r.sampleId() + ": " + r.problem());
                }
                each.accept(r);
            }
            progress.accept(pass, from + chunk.size());
        }
    }
}
