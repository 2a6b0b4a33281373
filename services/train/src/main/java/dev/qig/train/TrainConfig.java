package dev.qig.train;

/**
 * Settings of a training run on the synthetic VQA world.
 *
 * @param steps optimizer steps
 * @param batchSize samples per step, drawn fresh every step from all domains equally
 * @param learningRate peak Adam learning rate
 * @param warmupSteps linear warm-up steps before the cosine decay
 * @param minLearningRateFraction the cosine decays to this fraction of the peak
 * @param gradientClipNorm global gradient-norm clip
 * @param seed seed of the initial weights and of the training data
 * @param logEvery steps between progress lines
 * @param evalEvery steps between quick evaluations (0: none)
 * @param evalSamples samples per domain in a quick evaluation
 * @param groundingWeight weight of the auxiliary grounding loss (0: none), see {@link GroundingHead}
 * @param groundingLayer decoder layer (0-based) whose residual output the grounding loss probes, or -1 for
 *        the final normalized hidden state
 * @param attentionWeight weight of the auxiliary attention loss (0: none), see {@link AttentionSupervision}
 * @param attentionLayer decoder layer of the supervised head
 * @param attentionHead query head supervised
 * @param freezeVisionTower keep the vision tower of stage 1 fixed in stage 2
 * @param relationWeight weight of the auxiliary relation losses (0: none), see {@link RelationSupervision}
 * @param relationLayer decoder layer (0-based) whose residual output the relation role probe reads
 * @param relationAnswerLayer decoder layer (0-based) whose residual output the relation position and truth probes
 *     read at the answer position, -1 for the final normalized hidden state
 * @param relationShare at least this fraction of every batch is relation questions (0: each domain's own mix)
 */
public record TrainConfig(
        int steps,
        int batchSize,
        float learningRate,
        int warmupSteps,
        float minLearningRateFraction,
        float gradientClipNorm,
        long seed,
        int logEvery,
        int evalEvery,
        int evalSamples,
        float groundingWeight,
        int groundingLayer,
        float attentionWeight,
        int attentionLayer,
        int attentionHead,
        boolean freezeVisionTower,
        float relationWeight,
        int relationLayer,
        int relationAnswerLayer,
        float relationShare) {

    public TrainConfig {
        if (steps <= 0 || batchSize <= 0 || learningRate <= 0 || warmupSteps < 0 || logEvery <= 0 || evalEvery < 0
                || groundingLayer < -1 || relationAnswerLayer < -1 || attentionWeight < 0 || relationWeight < 0 || relationShare < 0 || relationShare > 1) {
            throw new IllegalArgumentException("invalid training config " + this);
        }
    }

    /**
     * Defaults of {@code qig train}; the shipped checkpoint is runs of it that change only the steps, the relation
     * share and the learning rate (see the README). No weight decay: DJL's Adam adds it to the gradient (L2,
     * not decoupled), and after normalization it drives weights with small gradients, such as the
     * attention queries and keys early in training, to zero. The relation losses, with the truth probe after
     * decoder layer 2 and at least a fifth of every batch relation questions, keep relation questions off chance
     * (see {@link RelationSupervision}); they assume at least 3 decoder layers.
     */
    public static TrainConfig defaults() {
        return builder().build();
    }

    /** A builder whose every setting starts at its {@link #defaults()} value. */
    public static Builder builder() {
        return new Builder();
    }

    /** Named setters for {@link TrainConfig}; unset fields keep the defaults of {@code qig train}. */
    public static final class Builder {
        private int steps = 16_000;
        private int batchSize = 32;
        private float learningRate = 1e-3f;
        private int warmupSteps = 150;
        private float minLearningRateFraction = 0.05f;
        private float gradientClipNorm = 1.0f;
        private long seed = 7L;
        private int logEvery = 50;
        private int evalEvery = 1000;
        private int evalSamples = 100;
        private float groundingWeight = 1.0f;
        private int groundingLayer = -1;
        private float attentionWeight = 0f;
        private int attentionLayer = 1;
        private int attentionHead = 0;
        private boolean freezeVisionTower = true;
        private float relationWeight = 1.0f;
        private int relationLayer = 1;
        private int relationAnswerLayer = 2;
        private float relationShare = 0.2f;

        private Builder() {}

        public Builder steps(int steps) {
            this.steps = steps;
            return this;
        }

        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        public Builder learningRate(float learningRate) {
            this.learningRate = learningRate;
            return this;
        }

        public Builder warmupSteps(int warmupSteps) {
            this.warmupSteps = warmupSteps;
            return this;
        }

        public Builder minLearningRateFraction(float minLearningRateFraction) {
            this.minLearningRateFraction = minLearningRateFraction;
            return this;
        }

        public Builder gradientClipNorm(float gradientClipNorm) {
            this.gradientClipNorm = gradientClipNorm;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder logEvery(int logEvery) {
            this.logEvery = logEvery;
            return this;
        }

        public Builder evalEvery(int evalEvery) {
            this.evalEvery = evalEvery;
            return this;
        }

        public Builder evalSamples(int evalSamples) {
            this.evalSamples = evalSamples;
            return this;
        }

        public Builder groundingWeight(float groundingWeight) {
            this.groundingWeight = groundingWeight;
            return this;
        }

        public Builder groundingLayer(int groundingLayer) {
            this.groundingLayer = groundingLayer;
            return this;
        }

        public Builder attentionWeight(float attentionWeight) {
            this.attentionWeight = attentionWeight;
            return this;
        }

        public Builder attentionLayer(int attentionLayer) {
            this.attentionLayer = attentionLayer;
            return this;
        }

        public Builder attentionHead(int attentionHead) {
            this.attentionHead = attentionHead;
            return this;
        }

        public Builder freezeVisionTower(boolean freezeVisionTower) {
            this.freezeVisionTower = freezeVisionTower;
            return this;
        }

        public Builder relationWeight(float relationWeight) {
            this.relationWeight = relationWeight;
            return this;
        }

        public Builder relationLayer(int relationLayer) {
            this.relationLayer = relationLayer;
            return this;
        }

        public Builder relationAnswerLayer(int relationAnswerLayer) {
            this.relationAnswerLayer = relationAnswerLayer;
            return this;
        }

        public Builder relationShare(float relationShare) {
            this.relationShare = relationShare;
            return this;
        }

        public TrainConfig build() {
            return new TrainConfig(steps, batchSize, learningRate, warmupSteps, minLearningRateFraction, gradientClipNorm, seed, logEvery, evalEvery, evalSamples, groundingWeight, groundingLayer, attentionWeight, attentionLayer, attentionHead, freezeVisionTower, relationWeight, relationLayer, relationAnswerLayer, relationShare);
        }
    }

    /** Learning rate at a step (1-based): linear warm-up, then cosine decay. */
    public float learningRateAt(int step) {
        if (step <= warmupSteps) {
            return learningRate * step / Math.max(1, warmupSteps);
        }
        double progress = (double) (step - warmupSteps) / Math.max(1, steps - warmupSteps);
        double cosine = 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, progress)));
        return (float) (learningRate * (minLearningRateFraction + (1 - minLearningRateFraction) * cosine));
    }
}
