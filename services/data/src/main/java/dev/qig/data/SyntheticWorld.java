package dev.qig.data;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;

/**
 * The synthetic visual question answering world: 48x48 RGB scenes of simple objects laid out on a 4x4 grid
 * of 12x12 cells (one object per cell, aligned with the model's 12x12 patches) and questions about them.
 *
 * <p>Everything is a pure function of (stream, domain, seed, index): sample {@code i} draws from its own
 * {@link SplittableRandom}, so lists are reproducible and {@code generate(d, n, s)} is a prefix of
 * {@code generate(d, n + k, s)}.
 *
 * <p>Seed scheme: training data ({@link #generate}, {@link #trainingMix}) hashes every caller seed together with
 * {@link #TRAIN_STREAM}; evaluation data ({@link #evalSet}) hashes {@link #EVAL_SEED} with {@link #EVAL_STREAM}.
 * The stream constant enters the hash before the seed, so no training seed reproduces an evaluation sample's
 * random state (short of a 64-bit hash collision), and per-object color jitter makes accidental content
 * collisions negligible. Training must never call {@link #evalSet} for training data.
 */
public final class SyntheticWorld {

    public static final int IMAGE_SIZE = 48;
    public static final int GRID = 4;
    public static final int CELL_SIZE = IMAGE_SIZE / GRID;
    public static final int EVAL_SET_SIZE = 500;

    static final long TRAIN_STREAM = 0x7452_4149_4e5f_5354L;
    static final long EVAL_STREAM = 0x4556_414c_5f53_544dL;
    static final long EVAL_SEED = 0x0e7a_15e7L;

    /** Scenes are redrawn when a question type does not fit; all types fit most scenes, so this is never reached. */
    private static final int MAX_SCENE_ATTEMPTS = 1_000;
    /** QMIX question-type weights, indexed by {@link QuestionType} ordinal. */
    private static final double[] QMIX_WEIGHTS = {0.10, 0.05, 0.40, 0.40, 0.05};
    private static final int SHEET_SCALE = 3;
    private static final int SHEET_GAP = 2;

    public SyntheticWorld() {}

    /** One sample drawn from {@code rng}. */
    public VqaSample sample(Domain domain, RandomGenerator rng, String id) {
        return sampleGrounded(domain, rng, id).sample();
    }

    /** One sample together with its scene; consumes {@code rng} exactly like {@link #sample}. */
    public GroundedSample sampleGrounded(Domain domain, RandomGenerator rng, String id) {
        QuestionType type = drawType(domain, rng);
        for (int attempt = 0; attempt < MAX_SCENE_ATTEMPTS; attempt++) {
            Optional<QuestionSampler.Asked> asked = QuestionSampler.ask(type, drawScene(domain, rng), rng);
            if (asked.isPresent()) {
                QuestionSampler.Asked a = asked.get();
                float[] image = SceneRenderer.render(a.scene(), domain, rng);
                VqaSample sample = new VqaSample(id, domain, type, image, a.question(), a.answer());
                return new GroundedSample(sample, a.scene(), a.referents());
            }
        }
        throw new IllegalStateException("no " + domain.id() + " scene admits a " + type.id() + " question after "
                + MAX_SCENE_ATTEMPTS + " attempts");
    }

    /** {@code n} training samples of one domain, ids {@code <domain>-<seed>-<i>}. */
    public List<VqaSample> generate(Domain domain, int n, long seed) {
        return generateGrounded(domain, n, seed).stream().map(GroundedSample::sample).toList();
    }

    public List<GroundedSample> generateGrounded(Domain domain, int n, long seed) {
        requireCount(n);
        return IntStream.range(0, n).mapToObj(i -> trainSample(domain, seed, i)).toList();
    }

    /**
     * {@code n} training samples cycling through all domains (counts differ by at most one). Element {@code i} is
     * element {@code i / 4} of {@code generate(Domain.values()[i % 4], ..., seed)}.
     */
    public List<VqaSample> trainingMix(int n, long seed) {
        requireCount(n);
        Domain[] domains = Domain.values();
        return IntStream.range(0, n)
                .mapToObj(i -> trainSample(domains[i % domains.length], seed, i / domains.length).sample())
                .toList();
    }

    /** The fixed held-out set of {@value #EVAL_SET_SIZE} samples of a domain, ids {@code eval-<domain>-<i>}. */
    public List<VqaSample> evalSet(Domain domain) {
        return evalSetGrounded(domain).stream().map(GroundedSample::sample).toList();
    }

    public List<GroundedSample> evalSetGrounded(Domain domain) {
        return IntStream.range(0, EVAL_SET_SIZE)
                .mapToObj(i -> sampleGrounded(domain, rngFor(EVAL_STREAM, domain, EVAL_SEED, i),
                        "eval-" + domain.id() + "-" + i))
                .toList();
    }

    /** Tiles the images, scaled x3 with a grey gap, row by row, for a person to look at. */
    public BufferedImage contactSheet(List<VqaSample> samples, int columns) {
        if (samples.isEmpty() || columns <= 0) {
            throw new IllegalArgumentException("need at least one sample and one column");
        }
        int tile = IMAGE_SIZE * SHEET_SCALE;
        int cols = Math.min(columns, samples.size());
        int rows = (samples.size() + cols - 1) / cols;
        BufferedImage sheet = new BufferedImage(SHEET_GAP + cols * (tile + SHEET_GAP),
                SHEET_GAP + rows * (tile + SHEET_GAP), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < sheet.getHeight(); y++) {
            for (int x = 0; x < sheet.getWidth(); x++) {
                sheet.setRGB(x, y, 0x808080);
            }
        }
        for (int k = 0; k < samples.size(); k++) {
            BufferedImage image = samples.get(k).toImage();
            int left = SHEET_GAP + (k % cols) * (tile + SHEET_GAP);
            int top = SHEET_GAP + (k / cols) * (tile + SHEET_GAP);
            for (int y = 0; y < tile; y++) {
                for (int x = 0; x < tile; x++) {
                    sheet.setRGB(left + x, top + y, image.getRGB(x / SHEET_SCALE, y / SHEET_SCALE));
                }
            }
        }
        return sheet;
    }

    private GroundedSample trainSample(Domain domain, long seed, int index) {
        return sampleGrounded(domain, rngFor(TRAIN_STREAM, domain, seed, index),
                domain.id() + "-" + seed + "-" + index);
    }

    static SplittableRandom rngFor(long stream, Domain domain, long seed, int index) {
        long h = mix(stream + 0x9e37_79b9_7f4a_7c15L * (domain.ordinal() + 1));
        h = mix(h ^ seed);
        return new SplittableRandom(mix(h ^ index));
    }

    /** Stafford's variant 13 of the MurmurHash3 finalizer: a bijection that spreads every input bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58_476d_1ce4_e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d0_49bb_1331_11ebL;
        return z ^ (z >>> 31);
    }

    private static QuestionType drawType(Domain domain, RandomGenerator rng) {
        QuestionType[] types = QuestionType.values();
        if (domain != Domain.QMIX) {
            return types[rng.nextInt(types.length)];
        }
        double u = rng.nextDouble();
        for (QuestionType t : types) {
            u -= QMIX_WEIGHTS[t.ordinal()];
            if (u < 0) {
                return t;
            }
        }
        return types[types.length - 1];
    }

    private static Scene drawScene(Domain domain, RandomGenerator rng) {
        int count = switch (domain) {
            case CLEAN, LOWLIGHT -> Randoms.between(2, 4, rng);
            case CLUTTERED -> Randoms.between(5, 8, rng);
            case QMIX -> Randoms.between(3, 5, rng);
        };
        List<Integer> cells = new ArrayList<>(IntStream.range(0, GRID * GRID).boxed().toList());
        Randoms.shuffle(cells, rng);
        List<SceneObject> objects = new ArrayList<>();
        for (int cell : cells.subList(0, count)) {
            int row = cell / GRID;
            int col = cell % GRID;
            SizeClass size = Randoms.pick(SizeClass.values(), rng);
            int extent = Randoms.between(size.minExtent(), size.maxExtent(), rng);
            // Keep a 1-pixel margin inside the cell so objects in neighbouring cells never touch.
            int x = col * CELL_SIZE + Randoms.between(1, CELL_SIZE - 1 - extent, rng);
            int y = row * CELL_SIZE + Randoms.between(1, CELL_SIZE - 1 - extent, rng);
            objects.add(new SceneObject(Randoms.pick(ShapeKind.values(), rng), Randoms.pick(ColorName.values(), rng),
                    size, row, col, x, y, extent));
        }
        return new Scene(objects);
    }

    private static void requireCount(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("sample count must be non-negative, got " + n);
        }
    }
}
