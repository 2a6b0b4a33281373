package dev.qig.quant;

/** One equalization group of one decoder layer, e.g. (3, GATE_UP). Orders by layer, then group. */
public record GroupKey(int layer, EqualizationGroup group) implements Comparable<GroupKey> {

    @Override
    public int compareTo(GroupKey o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : group.compareTo(o.group);
    }

    @Override
    public String toString() {
        return "layer" + layer + "." + group.id();
    }
}
