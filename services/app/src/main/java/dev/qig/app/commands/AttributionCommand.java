package dev.qig.app.commands;

import dev.qig.app.IgOptions;
import dev.qig.app.ModelOption;
import dev.qig.app.SchemeOption;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.QuantScheme;
import dev.qig.viz.AttributionPlot;
import dev.qig.viz.AttributionView;
import dev.qig.core.vqa.VqaModel;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code qig attribution}: QIG token weights of one sample, drawn over its image and tokens (PNG). */
@Command(name = "attribution", mixinStandardHelpOptions = true,
        description = "Compute QIG token weights for one held-out sample and draw them: image patches as a heatmap, "
                + "text tokens as bars.")
public final class AttributionCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Mixin
    IgOptions ig;

    @Mixin
    SchemeOption scheme;

    @Option(names = "--domain", description = "Domain of the held-out sample (default: ${DEFAULT-VALUE}).")
    String domain = "clean";

    @Option(names = "--index", description = "Index in the domain's held-out set (default: ${DEFAULT-VALUE}).")
    int index = 0;

    @Option(names = "--layer", description = "Decoder layer; -1 averages all layers (default: ${DEFAULT-VALUE}).")
    int layer = -1;

    @Option(names = "--group", description = "qkv, gate_up, down, or all (default: ${DEFAULT-VALUE}).")
    String group = "all";

    @Option(names = "--out", description = "PNG file (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("runs", "attribution.png");

    @Override
    public Integer call() throws Exception {
        VqaSample sample = new SyntheticWorld().evalSet(Domain.parse(domain)).get(index);
        QuantScheme quantScheme = scheme.scheme();
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            PartialSumsEngine engine = new PartialSumsEngine(vqa, ig.apply(CalibrationSettings.builder(quantScheme)).build(),
                    model.id);
            EnumSet<Method> qig = EnumSet.of(Method.QIG);
            PartialSumsEngine.SampleResult stats = engine.attribute(List.of(sample), CalibrationPlan.empty(), qig, manager).get(0);
            CalibrationPlan plan = CalibrationPlan.from(1, stats.sums().statistics(), null);
            PartialSumsEngine.SampleResult result = engine.attribute(List.of(sample), plan, qig, manager).get(0);

            float[] weights = null;
            int used = 0;
            for (Map.Entry<GroupKey, float[]> e : result.lambda().entrySet()) {
                GroupKey k = e.getKey();
                if ((layer >= 0 && k.layer() != layer)
                        || (!"all".equalsIgnoreCase(group) && k.group() != EqualizationGroup.parse(group))) {
                    continue;
                }
                float[] l = e.getValue();
                if (weights == null) {
                    weights = new float[l.length];
                }
                for (int t = 0; t < l.length; t++) {
                    weights[t] += l[t];
                }
                used++;
            }
            if (weights == null) {
                System.err.println("no group matches --layer " + layer + " --group " + group);
                return 2;
            }
            for (int t = 0; t < weights.length; t++) {
                weights[t] /= used;
            }
            EncodedPrompt prompt = vqa.processor().encode(sample.question(), sample.answer(),
                    vqa.model().config().visionTokens());
            String where = (layer < 0 ? "all layers" : "layer " + layer) + ", " + ("all".equalsIgnoreCase(group) ? "all groups" : group);
            String title = String.format(Locale.ROOT, "Q: %s A: %s  [%s] QIG weights, %s, %s (mean of %d)",
                    sample.question(), sample.answer(), sample.id(), quantScheme.id(), where, used);
            AttributionPlot.writePng(AttributionView.of(title, sample, prompt, vqa.vocabulary(), weights), out);
            System.out.println(title);
            System.out.println("wrote " + out.toAbsolutePath());
        }
        return 0;
    }
}
