package dev.qig.viz;

import dev.qig.data.TokenModality;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Renders the QIG attribution of one calibration sample as a single figure: the image with a per-patch heatmap
 * on the left, one bar per text token on the right, and the share of the total weight per modality on top.
 *
 * <p>Both scales start at zero because a QIG weight of zero means "no influence": the heatmap runs from 0 to
 * the largest patch weight (so spatial structure stays visible even when a text token dominates), and every bar is
 * scaled to the largest token weight, vision tokens included, so bar lengths compare with the patch values.
 *
 * <p>Only off-screen {@link BufferedImage} drawing with logical fonts is used, so this works headless.
 */
public final class AttributionPlot {

    /** Matplotlib's viridis sampled at t = 0, 0.1, ..., 1: perceptually uniform and readable in greyscale. */
    static final Color[] COLORMAP = {
        new Color(0x440154), new Color(0x482475), new Color(0x414487), new Color(0x355f8d),
        new Color(0x2a788e), new Color(0x21918c), new Color(0x22a884), new Color(0x44bf70),
        new Color(0x7ad151), new Color(0xbddf26), new Color(0xfde725),
    };
    /** Opacity of the heatmap over the image: strong enough to read the color, weak enough to see the objects. */
    static final float OVERLAY_ALPHA = 0.6f;
    /** Upscaled image side the scale factor aims for. */
    static final int TARGET_IMAGE_PX = 384;

    static final Color SYSTEM_COLOR = new Color(0x8c8c8c);
    static final Color PROMPT_COLOR = new Color(0x1f77b4);
    static final Color ANSWER_COLOR = new Color(0xff7f0e);
    static final Color VISION_COLOR = new Color(0x2ca02c);

    private static final Color BACKGROUND = Color.WHITE;
    private static final Color INK = new Color(0x222222);
    private static final Color MUTED = new Color(0x555555);
    private static final Color RULE = new Color(0xbbbbbb);

    private static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 16);
    private static final Font SUBTITLE_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    private static final Font HEADER_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 12);
    private static final Font TOKEN_FONT = new Font(Font.MONOSPACED, Font.PLAIN, 12);
    private static final Font SMALL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
    private static final Font CELL_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 11);
    private static final Font TINY_CELL_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 9);

    private static final int MARGIN = 24;
    private static final int MAX_TITLE_LINES = 3;
    private static final int COLORBAR_GAP = 12;
    private static final int COLORBAR_WIDTH = 14;
    private static final int PANEL_GAP = 40;
    private static final int MAX_LABEL_WIDTH = 180;
    private static final int BAR_WIDTH = 240;
    private static final int ROW_HEIGHT = 20;
    private static final int BAR_HEIGHT = 12;

    private AttributionPlot() {}

    /** The figure as an RGB image; its size depends on the title, the image size and the number of text tokens. */
    public static BufferedImage render(AttributionView v) {
        Layout layout = layout(v);
        BufferedImage out = new BufferedImage(layout.width, layout.height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            configure(g);
            g.setColor(BACKGROUND);
            g.fillRect(0, 0, layout.width, layout.height);
            drawHeader(g, v, layout);
            drawHeatmap(g, v, layout);
            drawColorbar(g, layout);
            drawBars(g, layout);
            drawLegend(g, layout);
            drawThumbnail(g, v, layout);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** The figure as PNG bytes. */
    public static byte[] toPng(AttributionView v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        writePng(render(v), out);
        return out.toByteArray();
    }

    /** Writes the figure as a PNG file, creating missing parent directories. */
    public static void writePng(AttributionView v, Path file) {
        BufferedImage image = render(v);
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try (OutputStream out = Files.newOutputStream(file)) {
                writePng(image, out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write attribution plot to " + file, e);
        }
    }

    private static void writePng(BufferedImage image, OutputStream out) {
        try {
            if (!ImageIO.write(image, "png", out)) {
                throw new IllegalStateException("no PNG writer available");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("PNG encoding failed", e);
        }
    }

    /** Viridis at {@code t} in [0, 1] (clamped; NaN counts as 0), linearly interpolated between control points. */
    static Color colormap(double t) {
        double x = Double.isNaN(t) ? 0 : Math.max(0, Math.min(1, t)) * (COLORMAP.length - 1);
        int i = Math.min((int) x, COLORMAP.length - 2);
        double f = x - i;
        Color a = COLORMAP[i];
        Color b = COLORMAP[i + 1];
        return new Color(lerp(a.getRed(), b.getRed(), f), lerp(a.getGreen(), b.getGreen(), f),
                lerp(a.getBlue(), b.getBlue(), f));
    }

    static Color modalityColor(TokenModality m) {
        return switch (m) {
            case SYSTEM -> SYSTEM_COLOR;
            case PROMPT -> PROMPT_COLOR;
            case ANSWER -> ANSWER_COLOR;
            case VISION -> VISION_COLOR;
            case PAD -> RULE;
        };
    }

    private static int lerp(int a, int b, double f) {
        return (int) Math.round(a + (b - a) * f);
    }

    // ---- layout ------------------------------------------------------------------------------------------------

    /** One bar of the right panel; {@code token} is the sequence index, or -1 for the vision summary row. */
    record Row(String label, double weight, Color color, int token) {}

    /**
     * Every position the renderer uses, computed once so tests can find cells and bars. Built with
     * {@link Builder}'s named setters: 21 values, most of them ints, are too many to pass by position.
     */
    static final class Layout {
        private final int width;
        private final int height;
        private final List<String> titleLines;
        private final String subtitle;
        private final int titleY;
        private final int headerY;
        private final int scale;
        private final int grid;
        private final Rectangle image;
        private final Rectangle colorbar;
        private final int rightX;
        private final int labelRight;
        private final int barX;
        private final int contentTop;
        private final List<Row> rows;
        private final double tokenMax;
        private final double patchMax;
        private final Format patchFormat;
        private final Format tokenFormat;
        private final int legendY;
        private final Rectangle thumbnail;

        private Layout(Builder b) {
            this.width = b.width;
            this.height = b.height;
            this.titleLines = java.util.Objects.requireNonNull(b.titleLines, "titleLines");
            this.subtitle = java.util.Objects.requireNonNull(b.subtitle, "subtitle");
            this.titleY = b.titleY;
            this.headerY = b.headerY;
            this.scale = b.scale;
            this.grid = b.grid;
            this.image = java.util.Objects.requireNonNull(b.image, "image");
            this.colorbar = java.util.Objects.requireNonNull(b.colorbar, "colorbar");
            this.rightX = b.rightX;
            this.labelRight = b.labelRight;
            this.barX = b.barX;
            this.contentTop = b.contentTop;
            this.rows = java.util.Objects.requireNonNull(b.rows, "rows");
            this.tokenMax = b.tokenMax;
            this.patchMax = b.patchMax;
            this.patchFormat = java.util.Objects.requireNonNull(b.patchFormat, "patchFormat");
            this.tokenFormat = java.util.Objects.requireNonNull(b.tokenFormat, "tokenFormat");
            this.legendY = b.legendY;
            this.thumbnail = java.util.Objects.requireNonNull(b.thumbnail, "thumbnail");
        }

        int width() {
            return width;
        }

        int height() {
            return height;
        }

        List<String> titleLines() {
            return titleLines;
        }

        String subtitle() {
            return subtitle;
        }

        int titleY() {
            return titleY;
        }

        int headerY() {
            return headerY;
        }

        int scale() {
            return scale;
        }

        int grid() {
            return grid;
        }

        Rectangle image() {
            return image;
        }

        Rectangle colorbar() {
            return colorbar;
        }

        int rightX() {
            return rightX;
        }

        int labelRight() {
            return labelRight;
        }

        int barX() {
            return barX;
        }

        int contentTop() {
            return contentTop;
        }

        List<Row> rows() {
            return rows;
        }

        double tokenMax() {
            return tokenMax;
        }

        double patchMax() {
            return patchMax;
        }

        Format patchFormat() {
            return patchFormat;
        }

        Format tokenFormat() {
            return tokenFormat;
        }

        int legendY() {
            return legendY;
        }

        Rectangle thumbnail() {
            return thumbnail;
        }

        int cellSize() {
            return image.width / grid;
        }

        /** Screen rectangle of patch {@code p} (row-major). */
        Rectangle cell(int p) {
            int c = cellSize();
            return new Rectangle(image.x + (p % grid) * c, image.y + (p / grid) * c, c, c);
        }

        int rowTop(int row) {
            return contentTop + row * ROW_HEIGHT;
        }

        /** Vertical middle of a bar. */
        int rowCenterY(int row) {
            return rowTop(row) + ROW_HEIGHT / 2;
        }

        /** Row showing sequence position {@code token}, or -1 if it has none (vision and padding). */
        int rowOfToken(int token) {
            for (int r = 0; r < rows.size(); r++) {
                if (rows.get(r).token() == token) {
                    return r;
                }
            }
            return -1;
        }

        int visionRow() {
            return rowOfToken(-1);
        }

        /** Bars are relative to the largest token weight; the vision sum may exceed it and is capped. */
        int barLength(double weight) {
            return tokenMax > 0 ? (int) Math.round(Math.min(1.0, weight / tokenMax) * BAR_WIDTH) : 0;
        }

        /** Every value is set by name; the object ones must be set. */
        static final class Builder {
            private int width;
            private int height;
            private List<String> titleLines;
            private String subtitle;
            private int titleY;
            private int headerY;
            private int scale;
            private int grid;
            private Rectangle image;
            private Rectangle colorbar;
            private int rightX;
            private int labelRight;
            private int barX;
            private int contentTop;
            private List<Row> rows;
            private double tokenMax;
            private double patchMax;
            private Format patchFormat;
            private Format tokenFormat;
            private int legendY;
            private Rectangle thumbnail;

            Builder width(int width) {
                this.width = width;
                return this;
            }

            Builder height(int height) {
                this.height = height;
                return this;
            }

            Builder titleLines(List<String> titleLines) {
                this.titleLines = titleLines;
                return this;
            }

            Builder subtitle(String subtitle) {
                this.subtitle = subtitle;
                return this;
            }

            Builder titleY(int titleY) {
                this.titleY = titleY;
                return this;
            }

            Builder headerY(int headerY) {
                this.headerY = headerY;
                return this;
            }

            Builder scale(int scale) {
                this.scale = scale;
                return this;
            }

            Builder grid(int grid) {
                this.grid = grid;
                return this;
            }

            Builder image(Rectangle image) {
                this.image = image;
                return this;
            }

            Builder colorbar(Rectangle colorbar) {
                this.colorbar = colorbar;
                return this;
            }

            Builder rightX(int rightX) {
                this.rightX = rightX;
                return this;
            }

            Builder labelRight(int labelRight) {
                this.labelRight = labelRight;
                return this;
            }

            Builder barX(int barX) {
                this.barX = barX;
                return this;
            }

            Builder contentTop(int contentTop) {
                this.contentTop = contentTop;
                return this;
            }

            Builder rows(List<Row> rows) {
                this.rows = rows;
                return this;
            }

            Builder tokenMax(double tokenMax) {
                this.tokenMax = tokenMax;
                return this;
            }

            Builder patchMax(double patchMax) {
                this.patchMax = patchMax;
                return this;
            }

            Builder patchFormat(Format patchFormat) {
                this.patchFormat = patchFormat;
                return this;
            }

            Builder tokenFormat(Format tokenFormat) {
                this.tokenFormat = tokenFormat;
                return this;
            }

            Builder legendY(int legendY) {
                this.legendY = legendY;
                return this;
            }

            Builder thumbnail(Rectangle thumbnail) {
                this.thumbnail = thumbnail;
                return this;
            }

            Layout build() {
                return new Layout(this);
            }
        }
    }

    static Layout layout(AttributionView v) {
        BufferedImage scratch = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = scratch.createGraphics();
        try {
            configure(g);
            return layout(v, g);
        } finally {
            g.dispose();
        }
    }

    private static Layout layout(AttributionView v, Graphics2D g) {
        float[] patches = v.patchWeights();
        float[] weights = v.tokenWeights();
        double patchMax = max(patches);
        double tokenMax = max(weights);
        List<Row> rows = rows(v, weights);
        // Cells and bars each get two significant digits of their own maximum, so small values do not round to 0.
        Format patchFormat = Format.forMax(patchMax);
        Format tokenFormat = Format.forMax(tokenMax);

        int scale = Math.max(1, Math.round((float) TARGET_IMAGE_PX / v.imageSize()));
        int imagePx = v.imageSize() * scale;

        // Horizontal: image | colorbar + labels | token labels | bars + values.
        FontMetrics small = g.getFontMetrics(SMALL_FONT);
        int colorbarX = MARGIN + imagePx + COLORBAR_GAP;
        int colorbarLabels = Math.max(small.stringWidth(patchFormat.of(patchMax)), small.stringWidth("0"));
        int rightX = colorbarX + COLORBAR_WIDTH + 6 + colorbarLabels + PANEL_GAP;
        FontMetrics token = g.getFontMetrics(TOKEN_FONT);
        int labelWidth = 0;
        for (Row r : rows) {
            labelWidth = Math.max(labelWidth, token.stringWidth(r.label()));
        }
        labelWidth = Math.min(labelWidth, MAX_LABEL_WIDTH);
        int labelRight = rightX + labelWidth;
        int barX = labelRight + 8;
        int valueWidth = 0;
        for (Row r : rows) {
            valueWidth = Math.max(valueWidth, small.stringWidth(tokenFormat.of(r.weight())));
        }
        int right = Math.max(barX + BAR_WIDTH + 6 + valueWidth, rightX + legendWidth(g));
        right = Math.max(right, rightX + g.getFontMetrics(HEADER_FONT).stringWidth(barHeader(tokenFormat, tokenMax)));
        right = Math.max(right, MARGIN + g.getFontMetrics(HEADER_FONT).stringWidth(heatmapHeader(v)));
        String subtitle = subtitle(v, weights);
        right = Math.max(right, MARGIN + g.getFontMetrics(SUBTITLE_FONT).stringWidth(subtitle));
        int width = right + MARGIN;

        // Vertical: title lines, subtitle, panel headers, then the panels side by side.
        FontMetrics title = g.getFontMetrics(TITLE_FONT);
        List<String> titleLines = wrap(v.title(), title, width - 2 * MARGIN);
        int titleY = MARGIN;
        int y = titleY + titleLines.size() * title.getHeight();
        y += 4 + g.getFontMetrics(SUBTITLE_FONT).getHeight();
        int headerY = y + 16;
        int contentTop = headerY + g.getFontMetrics(HEADER_FONT).getHeight() + 8;
        int legendY = contentTop + rows.size() * ROW_HEIGHT + 12;
        // The overlay tints the objects, so the untouched input goes below the legend for comparison.
        int thumbPx = v.imageSize() * Math.max(1, scale * 3 / 8);
        int thumbY = legendY + ROW_HEIGHT + 16 + g.getFontMetrics(HEADER_FONT).getHeight() + 6;
        Rectangle thumbnail = new Rectangle(rightX, thumbY, thumbPx, thumbPx);
        int bottom = Math.max(contentTop + imagePx, thumbY + thumbPx);
        int height = bottom + MARGIN;

        return new Layout.Builder()
                .width(width).height(height)
                .titleLines(titleLines).subtitle(subtitle).titleY(titleY).headerY(headerY)
                .scale(scale).grid(v.grid())
                .image(new Rectangle(MARGIN, contentTop, imagePx, imagePx))
                .colorbar(new Rectangle(colorbarX, contentTop, COLORBAR_WIDTH, imagePx))
                .rightX(rightX).labelRight(labelRight).barX(barX).contentTop(contentTop)
                .rows(rows).tokenMax(tokenMax).patchMax(patchMax).patchFormat(patchFormat).tokenFormat(tokenFormat)
                .legendY(legendY).thumbnail(thumbnail)
                .build();
    }

    /** Text tokens in sequence order, with all vision tokens folded into one row where the first one sits. */
    private static List<Row> rows(AttributionView v, float[] weights) {
        List<TokenModality> modalities = v.modalities();
        List<String> tokens = v.tokens();
        List<Row> rows = new ArrayList<>();
        int visionCount = 0;
        double visionSum = 0;
        int visionAt = -1;
        for (int i = 0; i < tokens.size(); i++) {
            TokenModality m = modalities.get(i);
            if (m == TokenModality.VISION) {
                if (visionAt < 0) {
                    visionAt = rows.size();
                }
                visionCount++;
                visionSum += weights[i];
            } else if (m != TokenModality.PAD) {
                rows.add(new Row(displayToken(tokens.get(i)), weights[i], modalityColor(m), i));
            }
        }
        String label = "vision (" + visionCount + (visionCount == 1 ? " token)" : " tokens)");
        rows.add(Math.max(visionAt, 0), new Row(label, visionSum, VISION_COLOR, -1));
        return rows;
    }

    private static String displayToken(String token) {
        // Make blank tokens visible instead of leaving an unlabeled bar.
        return token.isBlank() ? "\u2423" : token.strip();
    }

    private static String heatmapHeader(AttributionView v) {
        return "patch weights (" + v.grid() + "\u00d7" + v.grid() + " grid, color scale 0 to max)";
    }

    private static String barHeader(Format format, double tokenMax) {
        return "token weights (full bar = max token, " + format.of(tokenMax) + ")";
    }

    /** Percent of the total weight per modality, e.g. "vision 41% · prompt 22% · answer 30% · system 7%". */
    private static String subtitle(AttributionView v, float[] weights) {
        Map<TokenModality, Double> sums = new EnumMap<>(TokenModality.class);
        double total = 0;
        for (int i = 0; i < weights.length; i++) {
            sums.merge(v.modalities().get(i), (double) weights[i], Double::sum);
            total += weights[i];
        }
        if (!(total > 0)) {
            return "all weights are 0: no attribution to show";
        }
        List<String> parts = new ArrayList<>();
        for (TokenModality m : List.of(TokenModality.VISION, TokenModality.PROMPT, TokenModality.ANSWER,
                TokenModality.SYSTEM, TokenModality.PAD)) {
            double share = sums.getOrDefault(m, 0.0) / total;
            // Padding should carry nothing; mention it only when it does, since that signals a bug upstream.
            if (m == TokenModality.PAD && share == 0) {
                continue;
            }
            long percent = Math.round(100 * share);
            String text = percent == 0 && share > 0 ? "<1%" : percent + "%";
            parts.add(m.name().toLowerCase(Locale.ROOT) + " " + text);
        }
        return String.join(" \u00b7 ", parts) + "   (total " + Format.forMax(total).of(total) + ")";
    }

    /** Greedy word wrap; the last allowed line ends with an ellipsis if text remains. */
    static List<String> wrap(String text, FontMetrics fm, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.strip().split("\\s+")) {
            String candidate = line.isEmpty() ? word : line + " " + word;
            if (fm.stringWidth(candidate) <= width || line.isEmpty()) {
                line.setLength(0);
                line.append(candidate);
            } else {
                lines.add(line.toString());
                line.setLength(0);
                line.append(word);
            }
        }
        lines.add(line.toString());
        List<String> fitted = new ArrayList<>();
        for (int i = 0; i < Math.min(lines.size(), MAX_TITLE_LINES); i++) {
            boolean cut = i == MAX_TITLE_LINES - 1 && lines.size() > MAX_TITLE_LINES;
            fitted.add(ellipsize(lines.get(i) + (cut ? " \u2026" : ""), fm, width));
        }
        return fitted;
    }

    static String ellipsize(String text, FontMetrics fm, int width) {
        if (fm.stringWidth(text) <= width) {
            return text;
        }
        String s = text;
        while (!s.isEmpty() && fm.stringWidth(s + "\u2026") > width) {
            s = s.substring(0, s.length() - 1);
        }
        return s + "\u2026";
    }

    private static int legendWidth(Graphics2D g) {
        FontMetrics fm = g.getFontMetrics(SMALL_FONT);
        int w = 0;
        for (String name : LEGEND_NAMES) {
            w += 12 + 4 + fm.stringWidth(name) + 14;
        }
        return w;
    }

    private static final String[] LEGEND_NAMES = {"system", "vision (sum)", "prompt", "answer"};
    private static final Color[] LEGEND_COLORS = {SYSTEM_COLOR, VISION_COLOR, PROMPT_COLOR, ANSWER_COLOR};

    // ---- drawing -----------------------------------------------------------------------------------------------

    private static void configure(Graphics2D g) {
        // Only text is antialiased: rectangles sit on whole pixels and stay crisp, and exact fill colors keep tests simple.
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
    }

    private static void drawHeader(Graphics2D g, AttributionView v, Layout l) {
        g.setFont(TITLE_FONT);
        g.setColor(INK);
        FontMetrics title = g.getFontMetrics();
        int y = l.titleY();
        for (String line : l.titleLines()) {
            g.drawString(line, MARGIN, y + title.getAscent());
            y += title.getHeight();
        }
        g.setFont(SUBTITLE_FONT);
        g.setColor(MUTED);
        g.drawString(l.subtitle(), MARGIN, y + 4 + g.getFontMetrics().getAscent());

        g.setFont(HEADER_FONT);
        g.setColor(INK);
        int baseline = l.headerY() + g.getFontMetrics().getAscent();
        g.drawString(heatmapHeader(v), MARGIN, baseline);
        g.drawString(barHeader(l.tokenFormat(), l.tokenMax()), l.rightX(),
                baseline);
    }

    private static void drawHeatmap(Graphics2D g, AttributionView v, Layout l) {
        int size = v.imageSize();
        float[] chw = v.imageChw();
        g.drawImage(upscale(chw, size, l.scale()), l.image().x, l.image().y, null);

        float[] patches = v.patchWeights();
        int grid = v.grid();
        int patchPx = size / grid;
        for (int p = 0; p < patches.length; p++) {
            Rectangle c = l.cell(p);
            Color color = colormap(l.patchMax() > 0 ? patches[p] / l.patchMax() : 0);
            g.setColor(new Color(color.getRed(), color.getGreen(), color.getBlue(), Math.round(OVERLAY_ALPHA * 255)));
            g.fillRect(c.x, c.y, c.width, c.height);
        }

        // Grid lines between patches, drawn as translucent dark lines so they show on both ends of the colormap.
        g.setColor(new Color(0, 0, 0, 110));
        for (int k = 1; k < grid; k++) {
            int off = k * l.cellSize();
            g.fillRect(l.image().x + off, l.image().y, 1, l.image().height);
            g.fillRect(l.image().x, l.image().y + off, l.image().width, 1);
        }
        g.setColor(INK);
        g.drawRect(l.image().x - 1, l.image().y - 1, l.image().width + 1, l.image().height + 1);

        for (int p = 0; p < patches.length; p++) {
            Rectangle c = l.cell(p);
            String text = l.patchFormat().of(patches[p]);
            Font font = CELL_FONT;
            if (g.getFontMetrics(font).stringWidth(text) > c.width - 4) {
                font = TINY_CELL_FONT;
            }
            FontMetrics fm = g.getFontMetrics(font);
            if (fm.stringWidth(text) > c.width - 2 || fm.getAscent() > c.height - 2) {
                continue; // Cells too small for numbers; the colors still carry the information.
            }
            double luminance = cellLuminance(chw, size, p / grid * patchPx, p % grid * patchPx, patchPx,
                    colormap(l.patchMax() > 0 ? patches[p] / l.patchMax() : 0));
            boolean light = luminance > 0.5;
            Rectangle box = labelBox(chw, size, l.scale(), l.image(), c, fm.stringWidth(text),
                    fm.getAscent() - fm.getDescent());
            int x = box.x;
            int y = box.y + box.height;
            g.setFont(font);
            drawHaloText(g, text, x, y, light ? Color.BLACK : Color.WHITE, light ? Color.WHITE : Color.BLACK);
        }
    }

    /** Nearest-neighbour upscaling done by hand, so every source pixel becomes an exact {@code s x s} block. */
    private static BufferedImage upscale(float[] chw, int size, int s) {
        int plane = size * size;
        BufferedImage big = new BufferedImage(size * s, size * s, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size * s; y++) {
            for (int x = 0; x < size * s; x++) {
                int i = (y / s) * size + x / s;
                big.setRGB(x, y, (toByte(chw[i]) << 16) | (toByte(chw[plane + i]) << 8) | toByte(chw[2 * plane + i]));
            }
        }
        return big;
    }

    private static void drawThumbnail(Graphics2D g, AttributionView v, Layout l) {
        Rectangle t = l.thumbnail();
        g.setFont(HEADER_FONT);
        g.setColor(INK);
        FontMetrics fm = g.getFontMetrics();
        g.drawString("input image (no overlay)", t.x, t.y - 6 - fm.getDescent());
        g.drawImage(upscale(v.imageChw(), v.imageSize(), t.width / v.imageSize()), t.x, t.y, null);
        g.drawRect(t.x - 1, t.y - 1, t.width + 1, t.height + 1);
    }

    /**
     * Where a cell's value label goes: the bottom-right corner unless an object lies under it, then the corner that
     * covers the least of one, so the numbers do not hide the content the weights are about.
     */
    private static Rectangle labelBox(float[] chw, int size, int scale, Rectangle image, Rectangle cell, int textW,
            int textH) {
        int pad = Math.max(3, cell.width / 24);
        int w = Math.min(textW, cell.width - 2);
        int h = Math.min(textH, cell.height - 2);
        int right = Math.max(cell.x + pad, cell.x + cell.width - pad - w);
        int bottom = Math.max(cell.y + pad, cell.y + cell.height - pad - h);
        Rectangle[] corners = {
            new Rectangle(right, bottom, w, h),
            new Rectangle(cell.x + pad, bottom, w, h),
            new Rectangle(right, cell.y + pad, w, h),
            new Rectangle(cell.x + pad, cell.y + pad, w, h),
        };
        Background bg = Background.of(chw, size, (cell.x - image.x) / scale, (cell.y - image.y) / scale,
                cell.width / scale);
        Rectangle best = corners[0];
        double bestCover = bg.cover(chw, size, scale, image, best);
        // A few stray pixels (noise, anti-aliased edges) do not justify moving the label away from its usual place.
        for (int k = 1; k < corners.length && bestCover > 0.05; k++) {
            double c = bg.cover(chw, size, scale, image, corners[k]);
            if (c < bestCover) {
                best = corners[k];
                bestCover = c;
            }
        }
        return best;
    }

    /**
     * A cell's background, estimated from its outermost source pixels (objects never reach a cell's edge), with the
     * deviation a pixel needs to count as content: well above the background's own noise or texture.
     */
    private record Background(double[] mean, double threshold) {

        static Background of(float[] chw, int size, int x0, int y0, int n) {
            int plane = size * size;
            List<double[]> border = new ArrayList<>();
            for (int y = y0; y < y0 + n; y++) {
                for (int x = x0; x < x0 + n; x++) {
                    if (y == y0 || y == y0 + n - 1 || x == x0 || x == x0 + n - 1) {
                        int i = y * size + x;
                        border.add(new double[] {clamp01(chw[i]), clamp01(chw[plane + i]), clamp01(chw[2 * plane + i])});
                    }
                }
            }
            double[] mean = new double[3];
            for (double[] px : border) {
                for (int ch = 0; ch < 3; ch++) {
                    mean[ch] += px[ch] / border.size();
                }
            }
            double spread = 0;
            for (double[] px : border) {
                spread = Math.max(spread, deviation(px, mean));
            }
            return new Background(mean, Math.max(0.15, 1.5 * spread));
        }

        /** Fraction of the source pixels under a screen rectangle that differ from the background. */
        double cover(float[] chw, int size, int scale, Rectangle image, Rectangle box) {
            int plane = size * size;
            int hits = 0;
            int count = 0;
            int x1 = Math.min(size - 1, (box.x + box.width - 1 - image.x) / scale);
            int y1 = Math.min(size - 1, (box.y + box.height - 1 - image.y) / scale);
            for (int y = (box.y - image.y) / scale; y <= y1; y++) {
                for (int x = (box.x - image.x) / scale; x <= x1; x++) {
                    int i = y * size + x;
                    double[] px = {clamp01(chw[i]), clamp01(chw[plane + i]), clamp01(chw[2 * plane + i])};
                    if (deviation(px, mean) > threshold) {
                        hits++;
                    }
                    count++;
                }
            }
            return (double) hits / Math.max(1, count);
        }

        /** Sum over channels of the absolute difference. */
        private static double deviation(double[] px, double[] mean) {
            return Math.abs(px[0] - mean[0]) + Math.abs(px[1] - mean[1]) + Math.abs(px[2] - mean[2]);
        }
    }

    /** Relative luminance in [0, 1] of a patch after the overlay, to pick a text color that contrasts with it. */
    private static double cellLuminance(float[] chw, int size, int top, int left, int patchPx, Color overlay) {
        int plane = size * size;
        double[] mean = new double[3];
        for (int y = top; y < top + patchPx; y++) {
            for (int x = left; x < left + patchPx; x++) {
                for (int ch = 0; ch < 3; ch++) {
                    mean[ch] += Math.max(0, Math.min(1, chw[ch * plane + y * size + x]));
                }
            }
        }
        int n = patchPx * patchPx;
        double[] over = {overlay.getRed() / 255.0, overlay.getGreen() / 255.0, overlay.getBlue() / 255.0};
        double[] coeff = {0.2126, 0.7152, 0.0722};
        double lum = 0;
        for (int ch = 0; ch < 3; ch++) {
            lum += coeff[ch] * (OVERLAY_ALPHA * over[ch] + (1 - OVERLAY_ALPHA) * mean[ch] / n);
        }
        return lum;
    }

    /** Text with a one-pixel outline in a contrasting color, legible on any background. */
    private static void drawHaloText(Graphics2D g, String text, int x, int y, Color fill, Color halo) {
        g.setColor(new Color(halo.getRed(), halo.getGreen(), halo.getBlue(), 200));
        for (int dx = -1; dx <= 1; dx++) {
            for (int dy = -1; dy <= 1; dy++) {
                if (dx != 0 || dy != 0) {
                    g.drawString(text, x + dx, y + dy);
                }
            }
        }
        g.setColor(fill);
        g.drawString(text, x, y);
    }

    private static void drawColorbar(Graphics2D g, Layout l) {
        Rectangle r = l.colorbar();
        for (int y = 0; y < r.height; y++) {
            // Top is the maximum, as on a y axis.
            g.setColor(colormap(1.0 - (double) y / Math.max(1, r.height - 1)));
            g.fillRect(r.x, r.y + y, r.width, 1);
        }
        g.setColor(INK);
        g.drawRect(r.x - 1, r.y - 1, r.width + 1, r.height + 1);
        g.setFont(SMALL_FONT);
        FontMetrics fm = g.getFontMetrics();
        int x = r.x + r.width + 6;
        g.drawString(l.patchFormat().of(l.patchMax()), x, r.y + fm.getAscent());
        g.drawString("0", x, r.y + r.height);
    }

    private static void drawBars(Graphics2D g, Layout l) {
        FontMetrics token = g.getFontMetrics(TOKEN_FONT);
        FontMetrics small = g.getFontMetrics(SMALL_FONT);
        int labelLeft = l.rightX();
        for (int r = 0; r < l.rows().size(); r++) {
            Row row = l.rows().get(r);
            int mid = l.rowCenterY(r);
            String label = ellipsize(row.label(), token, l.labelRight() - labelLeft);
            g.setFont(TOKEN_FONT);
            g.setColor(row.token() < 0 ? VISION_COLOR.darker() : INK);
            g.drawString(label, l.labelRight() - token.stringWidth(label),
                    mid + (token.getAscent() - token.getDescent()) / 2);

            int len = l.barLength(row.weight());
            g.setColor(row.color());
            g.fillRect(l.barX(), mid - BAR_HEIGHT / 2, len, BAR_HEIGHT);
            boolean clipped = l.tokenMax() > 0 && row.weight() > l.tokenMax();
            if (clipped) {
                // Axis-break marks: the vision sum can exceed the per-token scale.
                g.setColor(BACKGROUND);
                g.setStroke(new BasicStroke(2f));
                for (int k = 0; k < 2; k++) {
                    int bx = l.barX() + len - 18 + 6 * k;
                    g.drawLine(bx, mid + BAR_HEIGHT / 2, bx + 4, mid - BAR_HEIGHT / 2);
                }
                g.setStroke(new BasicStroke(1f));
            }
            g.setFont(SMALL_FONT);
            g.setColor(MUTED);
            g.drawString(l.tokenFormat().of(row.weight()), l.barX() + len + 6,
                    mid + (small.getAscent() - small.getDescent()) / 2);
        }
        // Zero line of the bar axis.
        g.setColor(RULE);
        g.fillRect(l.barX() - 1, l.contentTop(), 1, l.rows().size() * ROW_HEIGHT);
    }

    private static void drawLegend(Graphics2D g, Layout l) {
        g.setFont(SMALL_FONT);
        FontMetrics fm = g.getFontMetrics();
        int x = l.rightX();
        int mid = l.legendY() + ROW_HEIGHT / 2;
        for (int i = 0; i < LEGEND_NAMES.length; i++) {
            g.setColor(LEGEND_COLORS[i]);
            g.fillRect(x, mid - 6, 12, 12);
            g.setColor(INK);
            g.drawString(LEGEND_NAMES[i], x + 16, mid + (fm.getAscent() - fm.getDescent()) / 2);
            x += 12 + 4 + fm.stringWidth(LEGEND_NAMES[i]) + 14;
        }
    }

    private static double max(float[] values) {
        double m = 0;
        for (float f : values) {
            m = Math.max(m, f);
        }
        return m;
    }

    private static double clamp01(float v) {
        return Math.max(0.0, Math.min(1.0, v));
    }

    private static int toByte(float v) {
        return Math.round(Math.max(0f, Math.min(1f, v)) * 255f);
    }

    /** Fixed-point formatting with two significant digits for the largest value of a scale, shared by its numbers. */
    record Format(int decimals) {

        static Format forMax(double max) {
            if (!(max > 0)) {
                return new Format(2);
            }
            int decimals = 1 - (int) Math.floor(Math.log10(max));
            return new Format(Math.max(0, Math.min(6, decimals)));
        }

        String of(double v) {
            return String.format(Locale.ROOT, "%." + decimals + "f", v);
        }
    }
}
