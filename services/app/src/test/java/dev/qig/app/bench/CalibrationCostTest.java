package dev.qig.app.bench;

import dev.qig.core.engine.LayerGroups;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.LvlmConfig;
import dev.qig.quant.CalibrationSettings;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import org.junit.jupiter.api.Test;

/** The bench's FLOP counts, checked against counts written out by hand for the shipped model. */
class CalibrationCostTest {

    @Test
    void countsMatchTheModelsShapesWrittenOutByHand() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Checkpoint.Loaded loaded = Checkpoint.load(Checkpoint.SHIPPED, manager);
            VqaModel vqa = loaded.vqa();
            LvlmConfig c = vqa.model().config();
            int t = 64;
            for (QuantScheme scheme : new QuantScheme[] {QuantScheme.W3A16, QuantScheme.W4A8}) {
                CalibrationSettings settings = CalibrationSettings.defaults(scheme);
                PartialSumsEngine engine = new PartialSumsEngine(vqa, settings, loaded.modelId());
                CalibrationCost cost = CalibrationCost.of(engine, vqa, t, settings);

                double h = c.hidden();
                double kv = (double) c.kvHeads() * c.headDim();
                double q = (double) c.heads() * c.headDim();
                double attention = h * q + 2 * h * kv + q * h; // q, k, v, o
                double mlp = 3 * h * c.intermediate();
                double scores = 4.0 * t * t * c.heads() * c.headDim();
                double decoderLinears = c.layers() * 2.0 * t * (attention + mlp);
                double lmHead = 2.0 * t * h * c.vocabSize();
                double forwardDecoder = decoderLinears + c.layers() * scores + lmHead;
                assertEquals(decoderLinears + 2 * c.layers() * scores + lmHead, cost.gradient() - cost.forward(),
                        1e-9 * cost.gradient(), "the backward takes input gradients only");
                assertTrue(cost.forward() > forwardDecoder, "the vision tower runs too");

                boolean a8 = scheme.quantizesActivations();
                int branches = a8 ? 1 : 2;
                double igLinears = 0;
                double grid = 0;
                for (DecoderLayer layer : vqa.model().layers()) {
                    int points = engine.igPoints(layer, dev.qig.quant.EqualizationGroup.QKV);
                    boolean o = LayerGroups.appliesTo(dev.qig.quant.EqualizationGroup.O, layer);
                    double down = 2.0 * t * h * c.intermediate();
                    double qkvModule = 2.0 * t * attention;
                    double oModule = 2.0 * t * q * h;
                    igLinears += points * (qkvModule + 2.0 * t * mlp) * (2 + branches)
                            + engine.igPoints(layer, dev.qig.quant.EqualizationGroup.DOWN) * down * (2 + branches)
                            + (o ? engine.igPoints(layer, dev.qig.quant.EqualizationGroup.O) * oModule * (2 + branches) : 0);
                    grid += (20 + (a8 ? 2 : 1)) * (qkvModule + scores + 2.0 * t * mlp + down + (o ? oModule : 0));
                }
                assertEquals(igLinears, cost.integratedGradientsLinears(), 1e-9 * igLinears, scheme + " IG linears");
                assertTrue(cost.integratedGradients() > cost.integratedGradientsLinears(), "attention products added");
                assertEquals(grid, cost.grid(), 1e-9 * grid, scheme + " grid");
                assertEquals(a8 ? cost.forward() : 0, cost.distorted(), 0.0);
                assertTrue(cost.qig() / cost.mbq() > 1, "QIG adds integrated gradients to MBQ's passes");
            }
        }
    }
}
