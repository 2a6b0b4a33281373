package dev.qig.registry.configindex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.inject.Singleton;

import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationTarget;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;
import org.jboss.jandex.FieldInfo;
import org.jboss.jandex.Type;
import org.jboss.logging.Logger;

import apicurio.common.app.components.config.index.DynamicPropertiesInfoRecorder;
import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import io.quarkus.deployment.builditem.CombinedIndexBuildItem;
import io.quarkus.deployment.builditem.FeatureBuildItem;

/**
 * Build step of the config-index extension: finds every field annotated {@code @Dynamic} and
 * {@code @ConfigProperty} in the application's index (which is why registry-server lists the
 * Apicurio jars under {@code quarkus.index-dependency}), describes each as a
 * {@link DynamicConfigPropertyDef} (name, value type, default, label, description, requires), and
 * makes the list a {@link DynamicConfigPropertyList} bean through the runtime half's recorder.
 * Apicurio's dynamic-configuration service ({@code DynamicConfigPropertyIndexImpl}) injects it.
 */
public class ConfigIndexProcessor {

    private static final Logger log = Logger.getLogger(ConfigIndexProcessor.class);
    private static final DotName DYNAMIC = DotName.createSimple("io.apicurio.common.apps.config.Dynamic");
    private static final DotName CONFIG_PROPERTY = DotName.createSimple("org.eclipse.microprofile.config.inject.ConfigProperty");
    // The default of @ConfigProperty(defaultValue) when none is given.
    private static final String UNCONFIGURED = "org.eclipse.microprofile.config.configproperty.unconfigureddvalue";

    @BuildStep
    FeatureBuildItem feature() {
        return new FeatureBuildItem("apicurio-config-index");
    }

    @BuildStep
    @Record(ExecutionTime.STATIC_INIT)
    SyntheticBeanBuildItem dynamicProperties(DynamicPropertiesInfoRecorder recorder, CombinedIndexBuildItem index) {
        Map<String, DynamicConfigPropertyDef> byName = new LinkedHashMap<>();
        for (AnnotationInstance dynamic : index.getIndex().getAnnotations(DYNAMIC)) {
            if (dynamic.target() == null || dynamic.target().kind() != AnnotationTarget.Kind.FIELD) {
                continue;
            }
            FieldInfo field = dynamic.target().asField();
            AnnotationInstance property = field.annotation(CONFIG_PROPERTY);
            if (property == null || property.value("name") == null) {
                log.warnf("@Dynamic field %s.%s has no @ConfigProperty(name): ignored", field.declaringClass().name(), field.name());
                continue;
            }
            DynamicConfigPropertyDef def = new DynamicConfigPropertyDef();
            def.setName(property.value("name").asString());
            def.setType(valueType(field));
            AnnotationValue defaultValue = property.value("defaultValue");
            def.setDefaultValue(defaultValue == null || UNCONFIGURED.equals(defaultValue.asString()) ? null : defaultValue.asString());
            def.setLabel(stringOrNull(dynamic.value("label")));
            def.setDescription(stringOrNull(dynamic.value("description")));
            AnnotationValue requires = dynamic.value("requires");
            def.setRequires(requires == null ? new String[0] : requires.asStringArray());
            byName.putIfAbsent(def.getName(), def);
        }
        List<DynamicConfigPropertyDef> defs = new ArrayList<>(byName.values());
        defs.sort(Comparator.comparing(DynamicConfigPropertyDef::getName));
        log.debugf("dynamic config properties: %s", Arrays.toString(defs.stream().map(DynamicConfigPropertyDef::getName).toArray()));
        return SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class)
                .scope(Singleton.class)
                .unremovable()
                .runtimeValue(recorder.initializePropertiesInfo(defs))
                .done();
    }

    private static String stringOrNull(AnnotationValue value) {
        return value == null || value.asString().isEmpty() ? null : value.asString();
    }

    /** X of a {@code Supplier<X>} field (Apicurio's dynamic properties are injected as suppliers), else the field's type. */
    private static Class<?> valueType(FieldInfo field) {
        Type type = field.type();
        if (type.kind() == Type.Kind.PARAMETERIZED_TYPE && !type.asParameterizedType().arguments().isEmpty()) {
            type = type.asParameterizedType().arguments().get(0);
        }
        String name = type.name().toString();
        try {
            return Class.forName(name, false, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("@Dynamic property " + field.declaringClass().name() + "." + field.name()
                    + ": value type " + name + " not found", e);
        }
    }
}
