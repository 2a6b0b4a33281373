package dev.qig.core.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The slow (PIL) Hugging Face {@code CLIPImageProcessor} / {@code SiglipImageProcessor} as configured
 * by a checkpoint's {@code preprocessor_config.json}, reproduced bit for bit so that Java-side
 * {@code pixel_values} equal transformers' (Pillow 9.4) up to float32 rounding of the last step.
 *
 * <p>Steps: convert to RGB (alpha dropped, as PIL's {@code convert("RGB")}); resize with PIL's
 * filter ({@link PilBicubic}); CLIP: short side to {@code size.shortest_edge} (long side truncated,
 * as Python's {@code int()}) or to {@code size.height x size.width}, then center crop (zero padding
 * where the crop is larger, as {@code image_transforms.center_crop}); SigLIP: resize to exactly
 * {@code size.height x size.width}; rescale {@code uint8 * rescale_factor} in double, cast to float;
 * normalize {@code (x - mean) / std} in float. Output is CHW float32.
 *
 * <p>Keys missing from the JSON take the defaults of the transformers class, except {@code size} and
 * {@code image_processor_type}, which are required. {@code do_convert_rgb: null} converts. Anything
 * this class cannot reproduce (another processor type including the torchvision "Fast" variants, an
 * unknown {@code resample}, a variable output size) is an {@link IllegalArgumentException} naming the
 * file and the key. EXIF orientation is the caller's business (transformers' {@code load_image}
 * applies it before the processor sees the image).
 *
 * <p>Immutable and thread-safe.
 */
public final class HfImageProcessor {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONFIG_FILE = "preprocessor_config.json";
    private static final float[] OPENAI_CLIP_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    private static final float[] OPENAI_CLIP_STD = {0.26862954f, 0.26130258f, 0.27577711f};
    private static final float[] IMAGENET_STANDARD = {0.5f, 0.5f, 0.5f};

    private enum Kind { CLIP, SIGLIP }

    private final Kind kind;
    private final boolean doConvertRgb;
    private final boolean doResize;
    /** > 0: CLIP shortest-edge resize; otherwise resize to resizeHeight x resizeWidth. */
    private final int shortestEdge;
    private final int resizeHeight;
    private final int resizeWidth;
    private final int resample;
    private final boolean doCenterCrop;
    private final int cropHeight;
    private final int cropWidth;
    private final boolean doRescale;
    private final double rescaleFactor;
    private final boolean doNormalize;
    private final float[] mean;
    private final float[] std;
    private final int height;
    private final int width;

    private HfImageProcessor(Parser p) {
        this.kind = p.kind;
        this.doConvertRgb = p.doConvertRgb;
        this.doResize = p.doResize;
        this.shortestEdge = p.shortestEdge;
        this.resizeHeight = p.resizeHeight;
        this.resizeWidth = p.resizeWidth;
        this.resample = p.resample;
        this.doCenterCrop = p.doCenterCrop;
        this.cropHeight = p.cropHeight;
        this.cropWidth = p.cropWidth;
        this.doRescale = p.doRescale;
        this.rescaleFactor = p.rescaleFactor;
        this.doNormalize = p.doNormalize;
        this.mean = p.mean;
        this.std = p.std;
        this.height = doCenterCrop ? cropHeight : resizeHeight;
        this.width = doCenterCrop ? cropWidth : resizeWidth;
    }

    /**
     * Reads {@code preprocessor_config.json} of a checkpoint folder; IllegalArgumentException naming
     * the file and key on anything unsupported (unknown {@code image_processor_type} other than
     * CLIPImageProcessor/SiglipImageProcessor, missing {@code size}, etc.).
     */
    public static HfImageProcessor fromFolder(Path dir) throws IOException {
        Path file = dir.resolve(CONFIG_FILE);
        return fromJson(Files.readString(file), file.toString());
    }

    /** Parses a preprocessor config; {@code sourceName} (usually the file path) prefixes every error. */
    public static HfImageProcessor fromJson(String json, String sourceName) {
        Objects.requireNonNull(json, "json");
        Objects.requireNonNull(sourceName, "sourceName");
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(sourceName + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(sourceName + ": expected a JSON object");
        }
        return new HfImageProcessor(new Parser(root, sourceName));
    }

    /** Output height (rows of one channel of {@link #pixelValues}). */
    public int height() {
        return height;
    }

    /** Output width. */
    public int width() {
        return width;
    }

    /** Decoded image -> resized/cropped and rescaled (no normalization), CHW float32 (values k*rescale_factor). */
    public float[] rescaled(BufferedImage image) {
        byte[] rgb = resizedRgb(image);
        int plane = height * width;
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                int v = rgb[i * 3 + c] & 0xff;
                out[c * plane + i] = doRescale ? (float) (v * rescaleFactor) : (float) v;
            }
        }
        return out;
    }

    /** Normalizes a rescaled CHW array (returns a new array). */
    public float[] normalize(float[] rescaledChw) {
        int plane = height * width;
        if (rescaledChw.length != 3 * plane) {
            throw new IllegalArgumentException("expected 3x" + height + "x" + width + " values, got " + rescaledChw.length);
        }
        float[] out = rescaledChw.clone();
        if (!doNormalize) {
            return out;
        }
        for (int c = 0; c < 3; c++) {
            float m = mean[c];
            float s = std[c];
            for (int i = c * plane, end = i + plane; i < end; i++) {
                out[i] = (out[i] - m) / s;
            }
        }
        return out;
    }

    /** rescaled + normalize: the pixel_values of one image, CHW. */
    public float[] pixelValues(BufferedImage image) {
        float[] r = rescaled(image);
        return doNormalize ? normalize(r) : r;
    }

    /** For tests and tools: the resized+cropped RGB image as uint8 HWC bytes. */
    public byte[] resizedRgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] rgb = toRgb(image, doConvertRgb);
        if (doResize) {
            int[] size = resizeOutputSize(w, h);
            rgb = PilBicubic.resize(rgb, w, h, 3, size[1], size[0], resample);
            h = size[0];
            w = size[1];
        }
        if (doCenterCrop) {
            rgb = centerCrop(rgb, w, h, cropWidth, cropHeight);
            h = cropHeight;
            w = cropWidth;
        }
        if (h != height || w != width) { // only reachable without resize and crop, which the parser refuses
            throw new IllegalStateException("produced " + w + "x" + h + ", expected " + width + "x" + height);
        }
        return rgb;
    }

    /**
     * The resize target {height, width} for a {@code w x h} input: transformers'
     * {@code get_resize_output_image_size} (shortest edge, long side {@code int(S * long / short)}) or
     * the configured fixed size.
     */
    int[] resizeOutputSize(int w, int h) {
        if (shortestEdge <= 0) {
            return new int[] {resizeHeight, resizeWidth};
        }
        int shortSide = Math.min(w, h);
        int longSide = Math.max(w, h);
        int newLong = (int) ((double) ((long) shortestEdge * longSide) / shortSide);
        return w <= h ? new int[] {newLong, shortestEdge} : new int[] {shortestEdge, newLong};
    }

    /** {@code image_transforms.center_crop}: floor-centred window, zero padding where the crop is larger. */
    static byte[] centerCrop(byte[] rgb, int w, int h, int cropW, int cropH) {
        int top = Math.floorDiv(h - cropH, 2);
        int left = Math.floorDiv(w - cropW, 2);
        if (top >= 0 && left >= 0 && top + cropH <= h && left + cropW <= w) {
            byte[] out = new byte[cropW * cropH * 3];
            for (int y = 0; y < cropH; y++) {
                System.arraycopy(rgb, ((y + top) * w + left) * 3, out, y * cropW * 3, cropW * 3);
            }
            return out;
        }
        // Pad to max(crop, orig) with the image at ceil(diff / 2), then take the window from there.
        int newH = Math.max(cropH, h);
        int newW = Math.max(cropW, w);
        int topPad = (newH - h + 1) / 2;
        int leftPad = (newW - w + 1) / 2;
        top += topPad;
        left += leftPad;
        int y0 = Math.max(0, top);
        int y1 = Math.min(newH, top + cropH);
        int x0 = Math.max(0, left);
        int x1 = Math.min(newW, left + cropW);
        int outH = y1 - y0;
        int outW = x1 - x0;
        if (outH != cropH || outW != cropW) {
            throw new IllegalStateException("center crop produced " + outW + "x" + outH);
        }
        byte[] out = new byte[outW * outH * 3];
        for (int y = 0; y < outH; y++) {
            int sy = y + y0 - topPad;
            if (sy < 0 || sy >= h) {
                continue;
            }
            for (int x = 0; x < outW; x++) {
                int sx = x + x0 - leftPad;
                if (sx >= 0 && sx < w) {
                    System.arraycopy(rgb, (sy * w + sx) * 3, out, (y * outW + x) * 3, 3);
                }
            }
        }
        return out;
    }

    /**
     * Raw 8-bit RGB of the image, HWC. Reads the raster rather than {@code getRGB} where that would
     * colour-convert (grayscale rasters are linear-gray in Java2D, so {@code getRGB} changes their
     * values); mirrors PIL's conversions: alpha dropped, gray replicated, palette looked up, 16-bit RGB
     * reduced to its high byte and 16-bit gray clipped at 255 (PIL opens it as mode "I").
     */
    static byte[] toRgb(BufferedImage image, boolean convert) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] out = new byte[w * h * 3];
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        int csType = cm.getColorSpace().getType();
        if (!convert && (cm.hasAlpha() || csType != ColorSpace.TYPE_RGB || cm instanceof IndexColorModel)) {
            throw new IllegalArgumentException("do_convert_rgb is false but the image is not plain RGB ("
                    + describe(image) + ")");
        }
        if (cm instanceof IndexColorModel icm) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int idx = raster.getSample(x, y, 0);
                    int o = (y * w + x) * 3;
                    out[o] = (byte) icm.getRed(idx);
                    out[o + 1] = (byte) icm.getGreen(idx);
                    out[o + 2] = (byte) icm.getBlue(idx);
                }
            }
            return out;
        }
        if (cm instanceof ComponentColorModel && !cm.isAlphaPremultiplied() && uniformBits(cm)) {
            int bits = cm.getComponentSize(0);
            int colors = cm.getNumColorComponents();
            if ((bits == 8 || bits == 16) && ((csType == ColorSpace.TYPE_RGB && colors == 3)
                    || (csType == ColorSpace.TYPE_GRAY && colors == 1))) {
                boolean gray = colors == 1;
                int[] px = new int[raster.getNumBands()];
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        raster.getPixel(x, y, px);
                        int o = (y * w + x) * 3;
                        for (int c = 0; c < 3; c++) {
                            int v = px[gray ? 0 : c];
                            if (bits == 16) {
                                v = gray ? Math.min(v, 255) : v >>> 8;
                            }
                            out[o + c] = (byte) v;
                        }
                    }
                }
                return out;
            }
        }
        // Packed int RGB(A) and anything exotic: Java2D's sRGB conversion, un-premultiplied.
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int argb = image.getRGB(x, y);
                int o = (y * w + x) * 3;
                out[o] = (byte) (argb >>> 16);
                out[o + 1] = (byte) (argb >>> 8);
                out[o + 2] = (byte) argb;
            }
        }
        return out;
    }

    private static boolean uniformBits(ColorModel cm) {
        for (int i = 1; i < cm.getNumComponents(); i++) {
            if (cm.getComponentSize(i) != cm.getComponentSize(0)) {
                return false;
            }
        }
        return true;
    }

    private static String describe(BufferedImage image) {
        ColorModel cm = image.getColorModel();
        return "type " + image.getType() + ", " + cm.getNumComponents() + " components"
                + (cm.hasAlpha() ? " with alpha" : "") + (cm instanceof IndexColorModel ? ", indexed" : "");
    }

    @Override
    public String toString() {
        return "HfImageProcessor[" + kind + ", " + width + "x" + height + ", resample="
                + PilBicubic.name(resample) + "]";
    }

    /** Validating reader of the JSON fields; every error names the source and the key. */
    private static final class Parser {
        private final JsonNode root;
        private final String source;

        Kind kind;
        boolean doConvertRgb;
        boolean doResize;
        int shortestEdge;
        int resizeHeight;
        int resizeWidth;
        int resample;
        boolean doCenterCrop;
        int cropHeight;
        int cropWidth;
        boolean doRescale;
        double rescaleFactor;
        boolean doNormalize;
        float[] mean;
        float[] std;

        Parser(JsonNode root, String source) {
            this.root = root;
            this.source = source;
            JsonNode type = root.get("image_processor_type");
            if (type == null || !type.isTextual()) {
                throw error("image_processor_type", "missing or not a string; supported: CLIPImageProcessor, "
                        + "SiglipImageProcessor");
            }
            kind = switch (type.asText()) {
                case "CLIPImageProcessor" -> Kind.CLIP;
                case "SiglipImageProcessor" -> Kind.SIGLIP;
                default -> throw error("image_processor_type", "'" + type.asText() + "' is not supported; "
                        + "supported: CLIPImageProcessor, SiglipImageProcessor (the slow PIL path)");
            };
            JsonNode convert = root.get("do_convert_rgb");
            doConvertRgb = convert == null || convert.isNull() || bool("do_convert_rgb", true);
            doResize = bool("do_resize", true);
            resample = integer("resample", PilBicubic.BICUBIC);
            if (!PilBicubic.isSupported(resample)) {
                throw error("resample", resample + " is not a supported PIL filter (0 NEAREST, 1 LANCZOS, "
                        + "2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)");
            }
            parseSize();
            doCenterCrop = kind == Kind.CLIP && bool("do_center_crop", true);
            if (doCenterCrop) {
                JsonNode crop = root.get("crop_size");
                if (crop == null) {
                    cropHeight = cropWidth = 224;
                } else if (crop.isInt()) {
                    cropHeight = cropWidth = positive("crop_size", crop.asInt());
                } else if (crop.isObject() && crop.has("height") && crop.has("width")) {
                    cropHeight = positive("crop_size.height", intValue("crop_size.height", crop.get("height")));
                    cropWidth = positive("crop_size.width", intValue("crop_size.width", crop.get("width")));
                } else {
                    throw error("crop_size", "expected {height, width} or an int, got " + crop);
                }
            }
            if (!doCenterCrop && (!doResize || shortestEdge > 0)) {
                throw error(doResize ? "size" : "do_resize", "without a center crop this gives a variable output "
                        + "size, which is not supported");
            }
            doRescale = bool("do_rescale", true);
            rescaleFactor = number("rescale_factor", 1.0 / 255.0);
            doNormalize = bool("do_normalize", true);
            mean = triple("image_mean", kind == Kind.CLIP ? OPENAI_CLIP_MEAN : IMAGENET_STANDARD);
            std = triple("image_std", kind == Kind.CLIP ? OPENAI_CLIP_STD : IMAGENET_STANDARD);
        }

        private void parseSize() {
            JsonNode size = root.get("size");
            if (size == null || size.isNull()) {
                throw error("size", "missing");
            }
            if (kind == Kind.CLIP && size.isInt()) { // get_size_dict(int, default_to_square=False)
                shortestEdge = positive("size", size.asInt());
            } else if (kind == Kind.CLIP && size.isObject() && size.has("shortest_edge")) {
                shortestEdge = positive("size.shortest_edge", intValue("size.shortest_edge", size.get("shortest_edge")));
            } else if (size.isObject() && size.has("height") && size.has("width")) {
                resizeHeight = positive("size.height", intValue("size.height", size.get("height")));
                resizeWidth = positive("size.width", intValue("size.width", size.get("width")));
            } else {
                throw error("size", "expected " + (kind == Kind.CLIP ? "{shortest_edge} or " : "")
                        + "{height, width}, got " + size);
            }
        }

        private boolean bool(String key, boolean dflt) {
            JsonNode n = root.get(key);
            if (n == null) {
                return dflt;
            }
            if (!n.isBoolean()) {
                throw error(key, "expected true or false, got " + n);
            }
            return n.asBoolean();
        }

        private int integer(String key, int dflt) {
            JsonNode n = root.get(key);
            return n == null ? dflt : intValue(key, n);
        }

        private int intValue(String key, JsonNode n) {
            if (n == null || !n.isInt()) {
                throw error(key, "expected an integer, got " + n);
            }
            return n.asInt();
        }

        private int positive(String key, int v) {
            if (v < 1) {
                throw error(key, "must be positive, got " + v);
            }
            return v;
        }

        private double number(String key, double dflt) {
            JsonNode n = root.get(key);
            if (n == null) {
                return dflt;
            }
            if (!n.isNumber()) {
                throw error(key, "expected a number, got " + n);
            }
            return n.asDouble();
        }

        /** A list of 3 numbers or one number for all channels, as float32 (numpy casts to the image dtype). */
        private float[] triple(String key, float[] dflt) {
            JsonNode n = root.get(key);
            if (n == null) {
                return dflt.clone();
            }
            if (n.isNumber()) {
                float v = (float) n.asDouble();
                return new float[] {v, v, v};
            }
            if (!n.isArray() || n.size() != 3) {
                throw error(key, "expected 3 numbers, got " + n);
            }
            float[] out = new float[3];
            for (int i = 0; i < 3; i++) {
                if (!n.get(i).isNumber()) {
                    throw error(key, "expected 3 numbers, got " + n);
                }
                out[i] = (float) n.get(i).asDouble();
            }
            return out;
        }

        private IllegalArgumentException error(String key, String what) {
            return new IllegalArgumentException(source + ": key '" + key + "': " + what);
        }
    }
}
