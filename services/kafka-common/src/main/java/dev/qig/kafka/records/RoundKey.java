package dev.qig.kafka.records;

import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.quant.GptqOptions;
import dev.qig.schemas.EngineSettings;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * What a calibration round is for: a model (content id), a scheme and the engine settings that
 * change results. Partial sums are only ever added within one round key; it is the key of the
 * layer-stats and plans topics, so one partition (and one aggregator task) holds a whole round.
 * Written {@code model/scheme/settings}, e.g.
 * {@code sha256-0123456789abcdef/w3a16/reference_code-ig32-iqr-rtn+awq+mbq+qig}.
 */
public record RoundKey(String model, QuantScheme scheme, String settings) {

    public RoundKey {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(settings, "settings");
        if (model.isBlank() || model.contains("/") || settings.contains("/")) {
            throw new IllegalArgumentException("model and settings must be non-blank and free of '/': " + model + ", " + settings);
        }
    }

    public static RoundKey of(String model, QuantScheme scheme, EngineSettings settings) {
        return new RoundKey(model, scheme, settingsId(settings));
    }

    public static RoundKey of(String model, CalibrationSettings settings, Set<Method> methods) {
        return of(model, settings.scheme(), Records.settingsRecord(settings, methods));
    }

    /** A readable id of the settings: behaviour, steps, clip, counter bug, methods. */
    public static String settingsId(EngineSettings s) {
        List<String> methods = s.getMethods().stream().map(m -> Method.parse(m).id()).sorted(
                (a, b) -> Integer.compare(Method.parse(a).ordinal(), Method.parse(b).ordinal())).toList();
        String rule = "endpoints".equals(s.getIgRule()) ? "" : s.getIgRule().substring(0, 3);
        // GPTQ's options name the round only where they matter and differ from the reference's, so keys of
        // rounds without GPTQ (and with its defaults) stay as they were.
        boolean gptq = methods.stream().anyMatch(m -> Method.parse(m).roundsWithGptq());
        String gptqOptions = !gptq ? "" : (s.getGptqDamp() == GptqOptions.DEFAULT.damp() ? "" : "-damp" + s.getGptqDamp())
                + (s.getGptqActOrder() ? "-actorder" : "");
        return s.getBehaviour().toLowerCase(Locale.ROOT) + "-ig" + s.getIgSteps() + rule + (s.getIqrClip() ? "-iqr" : "-noiqr")
                + (s.getCodeFaithfulCounterBug() ? "-counterbug" : "") + "-" + String.join("+", methods) + gptqOptions;
    }

    public static RoundKey parse(String key) {
        String[] parts = key.split("/");
        if (parts.length != 3) {
            throw new IllegalArgumentException("round key '" + key + "' is not model/scheme/settings");
        }
        return new RoundKey(parts[0], QuantScheme.parse(parts[1]), parts[2]);
    }

    /** The key of a method's config in the configs topic: {@code model/scheme/settings/method}. */
    public String configKey(Method method) {
        return this + "/" + method.id();
    }

    /** The key of the drift-events and active-configs topics: {@code model/scheme} (a drift or a promotion is not per settings). */
    public String modelSchemeKey() {
        return model + "/" + scheme.id();
    }

    @Override
    public String toString() {
        return model + "/" + scheme.id() + "/" + settings;
    }

}
