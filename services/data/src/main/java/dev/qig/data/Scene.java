package dev.qig.data;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/** The ground truth behind an image: its objects, each in a distinct layout-grid cell. */
public record Scene(List<SceneObject> objects) {

    public Scene {
        objects = List.copyOf(objects);
        Set<Integer> cells = new HashSet<>();
        for (SceneObject o : objects) {
            if (!cells.add(o.patch())) {
                throw new IllegalArgumentException("two objects share cell (" + o.row() + "," + o.col() + ")");
            }
        }
    }

    public List<SceneObject> matching(Predicate<SceneObject> predicate) {
        return objects.stream().filter(predicate).toList();
    }

    public int count(Predicate<SceneObject> predicate) {
        return (int) objects.stream().filter(predicate).count();
    }

    public int count(ShapeKind shape) {
        return count(o -> o.shape() == shape);
    }

    public int count(ColorName color) {
        return count(o -> o.color() == color);
    }

    /** Number of objects with this exact color and shape. */
    public int count(ColorName color, ShapeKind shape) {
        return count(o -> o.color() == color && o.shape() == shape);
    }
}
