package dev.qig.registry.it;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives test methods and {@code @BeforeAll} methods the shared {@link RegistryServer} as a
 * parameter, starting it on first use: {@code @ExtendWith(RealRegistry.class)}.
 */
final class RealRegistry implements ParameterResolver {

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == RegistryServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return RegistryServer.shared(context);
    }
}
