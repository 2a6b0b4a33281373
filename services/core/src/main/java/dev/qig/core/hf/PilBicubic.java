package dev.qig.core.hf;

import java.util.Arrays;

/**
 * Bit-exact re-implementation of Pillow 9.4's {@code Image.resize(size, filter)} (no box, no
 * {@code reducing_gap}) for 8-bit images with interleaved channels, so that pixel values match the
 * slow Hugging Face image processors, which resize through PIL.
 *
 * <p>The convolution filters follow {@code libImaging/Resample.c}: separable, horizontal pass first
 * (only over the rows the vertical pass will read), then vertical; a pass is skipped when its size
 * does not change; when down-scaling the kernel is stretched by {@code in/out} (antialiasing);
 * coefficients are normalized in double, rounded to 22-bit fixed point and accumulated in int with
 * a rounding bias, and the result is clipped to uint8 after each pass. The double arithmetic is
 * written in the same order as the C code, so the rounding of every coefficient is identical.
 * {@link #NEAREST} follows the affine nearest-neighbour path ({@code ImagingScaleAffine}) that
 * Pillow uses instead.
 */
final class PilBicubic {

    /** PIL {@code Image.Resampling} ids, as stored in {@code preprocessor_config.json}'s {@code resample}. */
    static final int NEAREST = 0;
    static final int LANCZOS = 1;
    static final int BILINEAR = 2;
    static final int BICUBIC = 3;
    static final int BOX = 4;
    static final int HAMMING = 5;

    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PilBicubic() {}

    static boolean isSupported(int filter) {
        return filter >= NEAREST && filter <= HAMMING;
    }

    static String name(int filter) {
        return switch (filter) {
            case NEAREST -> "NEAREST";
            case LANCZOS -> "LANCZOS";
            case BILINEAR -> "BILINEAR";
            case BICUBIC -> "BICUBIC";
            case BOX -> "BOX";
            case HAMMING -> "HAMMING";
            default -> "unknown(" + filter + ")";
        };
    }

    /**
     * Resizes {@code src} (row-major, {@code channels} interleaved uint8 per pixel) from
     * {@code inW x inH} to {@code outW x outH} exactly like Pillow 9.4 {@code Image.resize}.
     *
     * @return a new array of {@code outW * outH * channels} bytes
     */
    static byte[] resize(byte[] src, int inW, int inH, int channels, int outW, int outH, int filter) {
        if (inW < 1 || inH < 1 || outW < 1 || outH < 1) {
            throw new IllegalArgumentException("sizes must be positive: " + inW + "x" + inH + " -> " + outW + "x" + outH);
        }
        if (channels < 1 || src.length != (long) inW * inH * channels) {
            throw new IllegalArgumentException("expected " + inW + "x" + inH + "x" + channels + " bytes, got " + src.length);
        }
        if (!isSupported(filter)) {
            throw new IllegalArgumentException("unsupported PIL resampling filter " + filter);
        }
        // Image.resize: same size and whole-image box -> plain copy.
        if (inW == outW && inH == outH) {
            return src.clone();
        }
        if (filter == NEAREST) {
            return nearest(src, inW, inH, channels, outW, outH);
        }
        Coeffs horiz = Coeffs.of(inW, outW, filter);
        Coeffs vert = Coeffs.of(inH, outH, filter);
        boolean needHorizontal = outW != inW;
        boolean needVertical = outH != inH;

        byte[] img = src;
        int w = inW;
        int rowOffset = 0;
        if (needHorizontal) {
            // Only the rows the vertical pass reads are resampled; its bounds are shifted accordingly.
            int yFirst = vert.bounds[0];
            int yLast = vert.bounds[(outH - 1) * 2] + vert.bounds[(outH - 1) * 2 + 1];
            img = horizontal(src, inW, yFirst, yLast - yFirst, channels, horiz, outW);
            w = outW;
            rowOffset = yFirst;
        }
        if (needVertical) {
            img = vertical(img, w, channels, vert, outH, rowOffset);
        }
        return img == src ? src.clone() : img;
    }

    private static byte[] horizontal(byte[] src, int inW, int yFirst, int rows, int channels, Coeffs c, int outW) {
        byte[] out = new byte[outW * rows * channels];
        int[] acc = new int[channels];
        for (int yy = 0; yy < rows; yy++) {
            int rowBase = (yy + yFirst) * inW;
            for (int xx = 0; xx < outW; xx++) {
                int xmin = c.bounds[xx * 2];
                int xmax = c.bounds[xx * 2 + 1];
                int k0 = xx * c.ksize;
                Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
                for (int x = 0; x < xmax; x++) {
                    int k = c.kk[k0 + x];
                    int p = (rowBase + x + xmin) * channels;
                    for (int ch = 0; ch < channels; ch++) {
                        acc[ch] += (src[p + ch] & 0xff) * k;
                    }
                }
                int o = (yy * outW + xx) * channels;
                for (int ch = 0; ch < channels; ch++) {
                    out[o + ch] = clip8(acc[ch]);
                }
            }
        }
        return out;
    }

    /** {@code rowOffset} is subtracted from the bounds: the input may start at that source row. */
    private static byte[] vertical(byte[] src, int w, int channels, Coeffs c, int outH, int rowOffset) {
        byte[] out = new byte[w * outH * channels];
        int[] acc = new int[channels];
        for (int yy = 0; yy < outH; yy++) {
            int ymin = c.bounds[yy * 2] - rowOffset;
            int ymax = c.bounds[yy * 2 + 1];
            int k0 = yy * c.ksize;
            for (int xx = 0; xx < w; xx++) {
                Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
                for (int y = 0; y < ymax; y++) {
                    int k = c.kk[k0 + y];
                    int p = ((y + ymin) * w + xx) * channels;
                    for (int ch = 0; ch < channels; ch++) {
                        acc[ch] += (src[p + ch] & 0xff) * k;
                    }
                }
                int o = (yy * w + xx) * channels;
                for (int ch = 0; ch < channels; ch++) {
                    out[o + ch] = clip8(acc[ch]);
                }
            }
        }
        return out;
    }

    private static byte clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    /** Pillow's {@code ImagingScaleAffine}: source positions accumulated in double, truncated. */
    private static byte[] nearest(byte[] src, int inW, int inH, int channels, int outW, int outH) {
        byte[] out = new byte[outW * outH * channels]; // pixels mapping outside stay 0 (fill)
        double a0 = (double) (float) inW / outW;
        double a4 = (double) (float) inH / outH;
        int[] xin = new int[outW];
        double xo = a0 * 0.5;
        for (int x = 0; x < outW; x++) {
            xin[x] = xo < 0.0 ? -1 : (int) xo;
            xo += a0;
        }
        double yo = a4 * 0.5;
        for (int y = 0; y < outH; y++) {
            int yi = yo < 0.0 ? -1 : (int) yo;
            yo += a4;
            if (yi < 0 || yi >= inH) {
                continue;
            }
            for (int x = 0; x < outW; x++) {
                if (xin[x] >= 0 && xin[x] < inW) {
                    System.arraycopy(src, (yi * inW + xin[x]) * channels, out, (y * outW + x) * channels, channels);
                }
            }
        }
        return out;
    }

    /** Per-output-pixel source window ({@code bounds}: xmin, count) and fixed-point weights. */
    private record Coeffs(int ksize, int[] bounds, int[] kk) {

        static Coeffs of(int inSize, int outSize, int filter) {
            double filterSupport = support(filter);
            // Pillow passes the box as floats: (double)(in1 - in0) / outSize with in0 = 0.
            double scale = (double) (float) inSize / outSize;
            double filterscale = scale < 1.0 ? 1.0 : scale;
            double support = filterSupport * filterscale;
            int ksize = (int) Math.ceil(support) * 2 + 1;
            double ss = 1.0 / filterscale;
            int[] bounds = new int[outSize * 2];
            int[] kk = new int[outSize * ksize];
            double[] k = new double[ksize];
            for (int xx = 0; xx < outSize; xx++) {
                double center = 0.0 + (xx + 0.5) * scale;
                double ww = 0.0;
                int xmin = (int) (center - support + 0.5);
                if (xmin < 0) {
                    xmin = 0;
                }
                int xmax = (int) (center + support + 0.5);
                if (xmax > inSize) {
                    xmax = inSize;
                }
                xmax -= xmin;
                for (int x = 0; x < xmax; x++) {
                    double w = kernel(filter, ((x + xmin) - center + 0.5) * ss);
                    k[x] = w;
                    ww += w;
                }
                for (int x = 0; x < ksize; x++) {
                    double v = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
                    kk[xx * ksize + x] = v < 0
                            ? (int) (-0.5 + v * (1 << PRECISION_BITS))
                            : (int) (0.5 + v * (1 << PRECISION_BITS));
                }
                bounds[xx * 2] = xmin;
                bounds[xx * 2 + 1] = xmax;
            }
            return new Coeffs(ksize, bounds, kk);
        }
    }

    private static double support(int filter) {
        return switch (filter) {
            case BOX -> 0.5;
            case BILINEAR, HAMMING -> 1.0;
            case BICUBIC -> 2.0;
            case LANCZOS -> 3.0;
            default -> throw new IllegalArgumentException("no convolution kernel for filter " + filter);
        };
    }

    private static double kernel(int filter, double x) {
        switch (filter) {
            case BOX:
                return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
            case BILINEAR:
                x = Math.abs(x);
                return x < 1.0 ? 1.0 - x : 0.0;
            case HAMMING:
                x = Math.abs(x);
                if (x == 0.0) {
                    return 1.0;
                }
                if (x >= 1.0) {
                    return 0.0;
                }
                x = x * Math.PI;
                return Math.sin(x) / x * (0.54f + 0.46f * Math.cos(x));
            case BICUBIC: {
                final double a = -0.5;
                x = Math.abs(x);
                if (x < 1.0) {
                    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                }
                if (x < 2.0) {
                    return (((x - 5) * x + 8) * x - 4) * a;
                }
                return 0.0;
            }
            case LANCZOS:
                return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
            default:
                throw new IllegalArgumentException("no convolution kernel for filter " + filter);
        }
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        x = x * Math.PI;
        return Math.sin(x) / x;
    }
}
