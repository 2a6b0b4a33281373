package dev.qig.app.commands;

import dev.qig.app.ModelOption;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.AccuracyComparison;
import dev.qig.core.vqa.EvalReport;
import dev.qig.core.vqa.VqaEvaluator;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code qig eval}: accuracy of a checkpoint on the held-out sets, full precision next to W3 RTN. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model on the held-out synthetic VQA sets: full precision and W3 g128 round-to-nearest.")
public final class EvalCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Option(names = "--domains", split = ",", description = "Domains to evaluate (default: all).")
    List<String> domains = new ArrayList<>();

    @Option(names = "--limit", description = "Questions per domain, at most 500 (default: ${DEFAULT-VALUE}).")
    int limit = 500;

    @Option(names = "--batch", description = "Evaluation batch size (default: ${DEFAULT-VALUE}).")
    int batch = 100;

    @Override
    public Integer call() throws Exception {
        List<Domain> selected = new ArrayList<>();
        if (domains.isEmpty()) {
            selected.addAll(List.of(Domain.values()));
        } else {
            domains.forEach(d -> selected.add(Domain.parse(d)));
        }
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> samples = new ArrayList<>();
        for (Domain d : selected) {
            List<VqaSample> set = world.evalSet(d);
            samples.addAll(set.subList(0, Math.min(limit, set.size())));
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            System.out.printf(Locale.ROOT, "model %s: %,d parameters; %d questions over %d domains%n",
                    model.location, vqa.model().parameterCount(), samples.size(), selected.size());
            VqaEvaluator evaluator = new VqaEvaluator(batch);
            EvalReport fp = run(evaluator, "FP32", vqa, samples, manager);
            EvalReport w3;
            try (AppliedQuantization rtn = QuantConfigApplier.apply(vqa.model(),
                    QuantConfig.rtn(model.id, QuantScheme.W3A16, Map.of()))) {
                w3 = run(evaluator, "W3-RTN", vqa, samples, manager);
            }
            System.out.println();
            System.out.println(AccuracyComparison.markdown(List.of(fp, w3)));
        }
        return 0;
    }

    private static EvalReport run(VqaEvaluator evaluator, String label, VqaModel vqa, List<VqaSample> samples,
                                  NDManager manager) {
        long start = System.nanoTime();
        EvalReport report = evaluator.evaluate(label, vqa, samples, manager,
                done -> System.out.printf(Locale.ROOT, "\r%s: %d/%d questions", label, done, samples.size()));
        System.out.printf(Locale.ROOT, "\r%s: %d questions in %.1f s%n%s", label, samples.size(),
                (System.nanoTime() - start) / 1e9, report.toTable());
        return report;
    }
}
