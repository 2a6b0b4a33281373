package dev.qig.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * Converts between CHW float images (RGB, values in [0, 1]) and PNG/JPEG bytes. Resizing is done in Java
 * (area averaging) rather than with Graphics2D so results do not depend on the JDK's rendering pipeline.
 */
public final class ImageCodec {

    /** Refuse to decode images larger than this many pixels, so hostile headers cannot exhaust memory. */
    public static final long MAX_PIXELS = 4096L * 4096L;

    private ImageCodec() {}

    /**
     * Decodes PNG or JPEG bytes to a CHW float image of {@code size x size}, stretching if the aspect ratio
     * differs. Alpha is ignored; grey and palette images become RGB.
     *
     * @throws InvalidImageException if the bytes are empty, corrupt, not PNG/JPEG or larger than {@link #MAX_PIXELS}
     */
    public static float[] decode(byte[] bytes, int size) {
        requirePositive(size);
        return fromImage(read(bytes), size);
    }

    /**
     * Decodes PNG or JPEG bytes as they are, for an image processor that resizes them its own way.
     *
     * @throws InvalidImageException if the bytes are empty, corrupt, not PNG/JPEG or larger than {@link #MAX_PIXELS}
     */
    public static BufferedImage read(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            throw new InvalidImageException("no image bytes");
        }
        BufferedImage image;
        // Memory-cached streams: ImageIO's default stream factory spills to temp files.
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new InvalidImageException("not a PNG or JPEG image (" + bytes.length + " bytes, unknown format)");
            }
            ImageReader reader = readers.next();
            try {
                String format = reader.getFormatName();
                if (!format.equalsIgnoreCase("png") && !format.equalsIgnoreCase("jpeg")) {
                    throw new InvalidImageException("unsupported image format " + format + ", expected PNG or JPEG");
                }
                reader.setInput(in, true, true);
                long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
                if (pixels > MAX_PIXELS) {
                    throw new InvalidImageException("image of " + reader.getWidth(0) + "x" + reader.getHeight(0)
                            + " pixels exceeds the limit of " + MAX_PIXELS + " pixels", true);
                }
                image = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (InvalidImageException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // ImageIO readers signal corrupt data with assorted runtime exceptions as well as IIOException.
            throw new InvalidImageException("corrupt or truncated image (" + bytes.length + " bytes): " + e.getMessage(), e);
        }
        return image;
    }

    /** Encodes a CHW float image as PNG; values are clamped to [0, 1] and rounded to 8 bits. */
    public static byte[] encodePng(float[] chw, int size) {
        BufferedImage image = toImage(chw, size);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
            ImageIO.write(image, "png", stream);
        } catch (IOException e) {
            throw new UncheckedIOException("PNG encoding failed", e);
        }
        return out.toByteArray();
    }

    /** A {@code TYPE_INT_RGB} copy of a CHW float image. */
    public static BufferedImage toImage(float[] chw, int size) {
        requireChw(chw, size);
        int plane = size * size;
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int i = y * size + x;
                image.setRGB(x, y, (toByte(chw[i]) << 16) | (toByte(chw[plane + i]) << 8) | toByte(chw[2 * plane + i]));
            }
        }
        return image;
    }

    /** Converts any image to a {@code size x size} CHW float image, area-averaging when the size differs. */
    public static float[] fromImage(BufferedImage image, int size) {
        requirePositive(size);
        int w = image.getWidth();
        int h = image.getHeight();
        int plane = size * size;
        float[] chw = new float[3 * plane];
        double sx = (double) w / size;
        double sy = (double) h / size;
        for (int oy = 0; oy < size; oy++) {
            for (int ox = 0; ox < size; ox++) {
                // Average the source pixels overlapping output pixel (ox, oy), weighted by overlap area.
                double x0 = ox * sx;
                double x1 = x0 + sx;
                double y0 = oy * sy;
                double y1 = y0 + sy;
                double r = 0;
                double g = 0;
                double b = 0;
                double total = 0;
                for (int y = (int) y0; y < Math.min(h, Math.ceil(y1)); y++) {
                    double wy = Math.min(y1, y + 1) - Math.max(y0, y);
                    for (int x = (int) x0; x < Math.min(w, Math.ceil(x1)); x++) {
                        double weight = wy * (Math.min(x1, x + 1) - Math.max(x0, x));
                        int rgb = image.getRGB(x, y);
                        r += weight * ((rgb >> 16) & 0xff);
                        g += weight * ((rgb >> 8) & 0xff);
                        b += weight * (rgb & 0xff);
                        total += weight;
                    }
                }
                int i = oy * size + ox;
                chw[i] = (float) (r / total / 255.0);
                chw[plane + i] = (float) (g / total / 255.0);
                chw[2 * plane + i] = (float) (b / total / 255.0);
            }
        }
        return chw;
    }

    static void requireChw(float[] chw, int size) {
        requirePositive(size);
        if (chw == null || chw.length != 3 * size * size) {
            throw new IllegalArgumentException("expected a CHW image of 3x" + size + "x" + size + " = " + 3 * size * size
                    + " floats, got " + (chw == null ? "null" : chw.length));
        }
    }

    private static void requirePositive(int size) {
        if (size <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + size);
        }
    }

    private static int toByte(float v) {
        if (Float.isNaN(v)) {
            throw new IllegalArgumentException("image contains NaN");
        }
        return Math.round(Math.max(0f, Math.min(1f, v)) * 255f);
    }
}
