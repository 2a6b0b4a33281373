package dev.qig.data;

import java.util.Objects;

/**
 * One object of a scene. {@code row}/{@code col} are its layout-grid cell; {@code x}/{@code y} the top-left pixel
 * of its {@code extent x extent} bounding box, which always lies inside that cell.
 */
public record SceneObject(ShapeKind shape, ColorName color, SizeClass size, int row, int col, int x, int y,
        int extent) {

    public SceneObject {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(color, "color");
        Objects.requireNonNull(size, "size");
        int grid = SyntheticWorld.GRID;
        int cell = SyntheticWorld.CELL_SIZE;
        if (row < 0 || row >= grid || col < 0 || col >= grid) {
            throw new IllegalArgumentException("cell (" + row + "," + col + ") outside the " + grid + "x" + grid + " grid");
        }
        if (extent < size.minExtent() || extent > size.maxExtent()) {
            throw new IllegalArgumentException("extent " + extent + " does not fit size " + size.word());
        }
        if (x < col * cell || x + extent > (col + 1) * cell || y < row * cell || y + extent > (row + 1) * cell) {
            throw new IllegalArgumentException("bounding box at (" + x + "," + y + ") leaves cell (" + row + "," + col + ")");
        }
    }

    /** Row-major index of the cell, equal to the index of the 12x12 image patch that holds the object. */
    public int patch() {
        return row * SyntheticWorld.GRID + col;
    }

    public SceneObject withShape(ShapeKind newShape) {
        return new SceneObject(newShape, color, size, row, col, x, y, extent);
    }

    public SceneObject withColor(ColorName newColor) {
        return new SceneObject(shape, newColor, size, row, col, x, y, extent);
    }
}
