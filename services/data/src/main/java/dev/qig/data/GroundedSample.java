package dev.qig.data;

import java.util.List;
import java.util.Objects;

/**
 * A sample with the scene it was rendered from. {@code referents} are the objects the answer depends on
 * (empty for "how many ... ?" = zero and for "is there ... ?" = no); their {@link SceneObject#patch()} indices
 * are the image patches an attribution method should point at.
 */
public record GroundedSample(VqaSample sample, Scene scene, List<SceneObject> referents) {

    public GroundedSample {
        Objects.requireNonNull(sample, "sample");
        Objects.requireNonNull(scene, "scene");
        referents = List.copyOf(referents);
    }
}
