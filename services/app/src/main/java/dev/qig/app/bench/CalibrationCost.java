package dev.qig.app.bench;

import dev.qig.core.engine.LayerGroups;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.core.vqa.VqaModel;

/**
 * Matmul FLOPs of one sample's calibration, phase by phase, as the engine runs it: what
 * {@code qig bench} sets its measured times beside. Linears count {@code 2 x tokens x weights};
 * attention adds its two products ({@code Q K^T}, {@code P V}: {@code 4 x T^2 x heads x headDim}).
 * Weights never take gradients, so a backward costs one input-gradient product per linear and two
 * per attention product. The vision tower runs forward only; elementwise work is left out.
 *
 * @param tokens decoder tokens of the sample (image tokens included)
 */
record CalibrationCost(double forward, double gradient, double distorted, double integratedGradients,
                       double integratedGradientsLinears, double grid, int tokens) {

    /** One pass (statistics) and a second under the plan (search), as {@code BatchCalibrator} runs them. */
    double mbq() {
        return 2 * gradient + 2 * distorted + grid;
    }

    double qig() {
        return 2 * forward + 2 * distorted + integratedGradients + grid;
    }

    static CalibrationCost of(PartialSumsEngine engine, VqaModel vqa, int tokens, CalibrationSettings settings) {
        LvlmConfig c = vqa.model().config();
        double t = tokens;
        double vision = visionForward(c);
        double decoderLinears = 0;
        double scores = 0;
        double ig = 0;
        double igLinears = 0;
        double grid = 0;
        boolean a8 = settings.scheme().quantizesActivations();
        int branches = a8 ? 1 : 2; // branches that carry gradient in the IG target
        for (DecoderLayer layer : vqa.model().layers()) {
            double layerScores = 4 * t * t * c.heads() * c.headDim();
            scores += layerScores;
            for (QuantizableLinear l : layer.linears()) {
                decoderLinears += 2 * t * l.inFeatures() * l.outFeatures();
            }
            for (EqualizationGroup g : EqualizationGroup.values()) {
                if (!LayerGroups.appliesTo(g, layer)) {
                    continue;
                }
                double linears = 0;
                for (QuantizableLinear l : LayerGroups.moduleLinears(g, layer)) {
                    linears += 2 * t * l.inFeatures() * l.outFeatures();
                }
                double groupScores = g == EqualizationGroup.QKV ? layerScores : 0;
                int points = engine.igPoints(layer, g);
                igLinears += points * linears * (2 + branches);
                ig += points * (linears * (2 + branches) + groupScores * (2 + 2 * branches));
                grid += (20 + (a8 ? 2 : 1)) * (linears + groupScores);
            }
        }
        double lmHead = 2 * t * c.hidden() * c.vocabSize();
        double decoder = decoderLinears + scores + lmHead;
        double forward = vision + decoder;
        double gradient = forward + decoderLinears + 2 * scores + lmHead;
        double distorted = settings.needsDistortedStream() ? forward : 0;
        return new CalibrationCost(forward, gradient, distorted, ig, igLinears, grid, tokens);
    }

    private static double visionForward(LvlmConfig c) {
        double patches = c.visionSequence();
        double d = c.visionHidden();
        double perLayer = 2 * patches * (4 * d * d + 2 * d * c.visionIntermediate()) + 4 * patches * patches * d;
        double embed = 2 * patches * d * 3 * c.patchSize() * c.patchSize();
        double projector = 2 * c.visionTokens() * ((double) d * c.hidden() + (double) c.hidden() * c.hidden());
        return embed + c.visionLayersUsed() * perLayer + projector;
    }
}
