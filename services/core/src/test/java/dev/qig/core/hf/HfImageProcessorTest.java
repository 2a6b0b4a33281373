package dev.qig.core.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.io.SafetensorsReader;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HfImageProcessorTest {

    private static final String CLIP = "llava-clip-llama";
    private static final String SIGLIP = "llava-siglip-qwen2";

    @TempDir
    Path tmp;

    // ---- goldens (transformers slow processors on Pillow 9.4.0) ----

    static Stream<Arguments> goldenCases() {
        return Stream.of(SIGLIP, CLIP).flatMap(ckpt -> Stream.of(
                Arguments.of(ckpt, "case0", 0, "image_a.png"),
                Arguments.of(ckpt, "case1", 0, "image_b.png"),
                Arguments.of(ckpt, "case2", 0, "image_a.png"),
                Arguments.of(ckpt, "case2", 1, "image_b.png")));
    }

    @ParameterizedTest(name = "{0} {1}[{2}] {3}")
    @MethodSource("goldenCases")
    void pixelValuesMatchGolden(String ckpt, String caseName, int index, String imageName) throws IOException {
        Path dir = HfFixtures.checkpoint(ckpt);
        HfImageProcessor proc = HfImageProcessor.fromFolder(dir);
        BufferedImage image = read(dir.resolve("golden").resolve(imageName));
        float[] actual = proc.pixelValues(image);

        String name = caseName + ".pixel_values";
        float[] golden;
        long[] shape;
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("golden").resolve("golden.safetensors"))) {
            shape = r.shape(name);
            golden = r.tensor(name).toFloatArray();
        }
        assertEquals(4, shape.length, "golden rank");
        assertArrayEquals(new long[] {3, proc.height(), proc.width()}, Arrays.copyOfRange(shape, 1, 4),
                "golden [C,H,W] vs processor output size");
        int per = 3 * proc.height() * proc.width();
        assertEquals(per, actual.length);
        assertTrue(index < shape[0]);

        double maxAbs = 0;
        for (int i = 0; i < per; i++) {
            maxAbs = Math.max(maxAbs, Math.abs((double) actual[i] - golden[index * per + i]));
        }
        System.out.printf("HfImageProcessorTest %s %s[%d] %s: max |java - golden| = %.3e%n",
                ckpt, caseName, index, imageName, maxAbs);
        assertTrue(maxAbs <= 1e-6, ckpt + " " + name + "[" + index + "] (" + imageName
                + "): max |java - golden| = " + maxAbs + " > 1e-6");
    }

    @ParameterizedTest
    @ValueSource(strings = {"image_a.png", "image_b.png"})
    void fixturePngsReadAsTheirRawRgb(String imageName) throws IOException {
        BufferedImage image = read(HfFixtures.checkpoint(CLIP).resolve("golden").resolve(imageName));
        byte[] rgb = HfImageProcessor.toRgb(image, true);
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int o = (y * image.getWidth() + x) * 3;
                int raw = ((rgb[o] & 0xff) << 16) | ((rgb[o + 1] & 0xff) << 8) | (rgb[o + 2] & 0xff);
                assertEquals(image.getRGB(x, y) & 0xffffff, raw, "pixel " + x + "," + y);
            }
        }
    }

    // ---- the resampler alone ----

    @Test
    void upscaleHandComputedBicubic() {
        // 2x1 [0, 255] -> 4x1: centres 0.25 and 0.75 give weights (0.8671875, -0.0703125) and
        // (0.8671875, 0.2265625) before normalization: 255*0.2265625/1.09375 = 52.8 -> 53, first clipped to 0.
        byte[] out = PilBicubic.resize(bytes(0, 255), 2, 1, 1, 4, 1, PilBicubic.BICUBIC);
        assertArrayEquals(bytes(0, 53, 202, 255), out);
    }

    @Test
    void downscaleHandComputedAntialiasedBicubic() {
        // 4x1 [0,0,255,255] -> 2x1: kernel stretched by 2, weights at (x-0.5)/2 = -0.25,0.25,0.75,1.25:
        // 255*(0.2265625-0.0703125)/1.890625 = 21.07 -> 21, symmetric 234.
        byte[] out = PilBicubic.resize(bytes(0, 0, 255, 255), 4, 1, 1, 2, 1, PilBicubic.BICUBIC);
        assertArrayEquals(bytes(21, 234), out);
    }

    @Test
    void verticalPassMatchesHorizontalPass() {
        byte[] row = bytes(3, 200, 17, 90, 255, 0, 64);
        byte[] horizontal = PilBicubic.resize(row, 7, 1, 1, 11, 1, PilBicubic.BICUBIC);
        byte[] vertical = PilBicubic.resize(row, 1, 7, 1, 1, 11, PilBicubic.BICUBIC);
        assertArrayEquals(horizontal, vertical);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4, 5})
    void constantImageStaysConstant(int filter) {
        int[][] sizes = {{5, 4, 13, 9}, {45, 37, 35, 35}, {24, 24, 35, 35}, {45, 37, 38, 32}, {9, 3, 2, 7}};
        for (int value : new int[] {0, 1, 128, 254, 255}) {
            for (int[] s : sizes) {
                byte[] src = new byte[s[0] * s[1] * 3];
                Arrays.fill(src, (byte) value);
                byte[] out = PilBicubic.resize(src, s[0], s[1], 3, s[2], s[3], filter);
                assertEquals(s[2] * s[3] * 3, out.length);
                for (byte b : out) {
                    assertEquals(value, b & 0xff, "filter " + filter + " value " + value + " " + Arrays.toString(s));
                }
            }
        }
    }

    @Test
    void onePixelImage() {
        byte[] px = bytes(10, 200, 77);
        byte[] up = PilBicubic.resize(px, 1, 1, 3, 5, 3, PilBicubic.BICUBIC);
        for (int i = 0; i < 15; i++) {
            assertEquals(px[i % 3], up[i], "index " + i);
        }
        // 3x1 -> 1x1: kernel stretched by 3, taps at -1/3, 0, 1/3 weigh 7/9, 1, 7/9:
        // (50*14/9 + 100) / (23/9) = 1600/23 = 69.6 -> 70.
        assertArrayEquals(bytes(70), PilBicubic.resize(bytes(50, 100, 50), 3, 1, 1, 1, 1, PilBicubic.BICUBIC));
        assertArrayEquals(bytes(70), PilBicubic.resize(bytes(50, 100, 50), 1, 3, 1, 1, 1, PilBicubic.BICUBIC));
    }

    @Test
    void sameSizeIsACopy() {
        byte[] src = bytes(1, 2, 3, 4, 5, 6);
        byte[] out = PilBicubic.resize(src, 2, 1, 3, 2, 1, PilBicubic.BICUBIC);
        assertArrayEquals(src, out);
        assertNotSame(src, out);
    }

    @Test
    void nearestPicksCentres() {
        // 4 -> 2: positions 1.0, 3.0 -> pixels 1 and 3; 2 -> 4: 0.25, 0.75, 1.25, 1.75 -> 0,0,1,1.
        assertArrayEquals(bytes(11, 33), PilBicubic.resize(bytes(0, 11, 22, 33), 4, 1, 1, 2, 1, PilBicubic.NEAREST));
        assertArrayEquals(bytes(5, 5, 9, 9), PilBicubic.resize(bytes(5, 9), 2, 1, 1, 4, 1, PilBicubic.NEAREST));
    }

    // ---- geometry and colour conversion ----

    @Test
    void clipShortestEdgeRuleAndCrop() throws IOException {
        HfImageProcessor proc = HfImageProcessor.fromFolder(HfFixtures.checkpoint(CLIP));
        assertArrayEquals(new int[] {32, 38}, proc.resizeOutputSize(45, 37)); // int(32*45/37) = int(38.9)
        assertArrayEquals(new int[] {38, 32}, proc.resizeOutputSize(37, 45));
        assertArrayEquals(new int[] {32, 32}, proc.resizeOutputSize(24, 24));

        HfImageProcessor odd = HfImageProcessor.fromJson(
                "{\"image_processor_type\":\"CLIPImageProcessor\",\"size\":{\"shortest_edge\":5},"
                        + "\"crop_size\":{\"height\":5,\"width\":5}}", "odd.json");
        assertArrayEquals(new int[] {5, 7}, odd.resizeOutputSize(3, 2)); // 7.5 truncated

        // The processor's output is the 38x32 resize cropped at left (38-32)//2 = 3, top 0.
        BufferedImage image = read(HfFixtures.checkpoint(CLIP).resolve("golden").resolve("image_a.png"));
        byte[] resized = PilBicubic.resize(HfImageProcessor.toRgb(image, true), 45, 37, 3, 38, 32, PilBicubic.BICUBIC);
        byte[] expected = new byte[32 * 32 * 3];
        for (int y = 0; y < 32; y++) {
            System.arraycopy(resized, (y * 38 + 3) * 3, expected, y * 32 * 3, 32 * 3);
        }
        assertArrayEquals(expected, proc.resizedRgb(image));
    }

    @Test
    void centerCropPadsWithZerosWhenTooSmall() {
        HfImageProcessor proc = HfImageProcessor.fromJson(
                "{\"image_processor_type\":\"CLIPImageProcessor\",\"do_resize\":false,\"size\":{\"shortest_edge\":4},"
                        + "\"crop_size\":{\"height\":4,\"width\":4}}", "pad.json");
        BufferedImage img = new BufferedImage(3, 3, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 3; x++) {
                img.setRGB(x, y, 0x010101 * (1 + x + 3 * y));
            }
        }
        byte[] out = proc.resizedRgb(img);
        // top = (3-4)//2 = -1, pad ceil(1/2) = 1 -> image occupies rows/cols 1..3.
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                int expected = (y == 0 || x == 0) ? 0 : x + 3 * (y - 1);
                assertEquals(expected, out[(y * 4 + x) * 3] & 0xff, "pixel " + x + "," + y);
            }
        }
    }

    @Test
    void grayAlphaAndIndexedConvertLikePil() {
        BufferedImage gray = new BufferedImage(1, 1, BufferedImage.TYPE_BYTE_GRAY);
        gray.getRaster().setSample(0, 0, 0, 100);
        assertArrayEquals(bytes(100, 100, 100), HfImageProcessor.toRgb(gray, true));

        BufferedImage abgr = new BufferedImage(1, 1, BufferedImage.TYPE_4BYTE_ABGR);
        abgr.getRaster().setPixel(0, 0, new int[] {12, 34, 56, 0}); // fully transparent: colour kept
        assertArrayEquals(bytes(12, 34, 56), HfImageProcessor.toRgb(abgr, true));

        IndexColorModel palette = new IndexColorModel(8, 2, bytes(7, 250), bytes(8, 251), bytes(9, 252));
        BufferedImage indexed = new BufferedImage(1, 1, BufferedImage.TYPE_BYTE_INDEXED, palette);
        indexed.getRaster().setSample(0, 0, 0, 1);
        assertArrayEquals(bytes(250, 251, 252), HfImageProcessor.toRgb(indexed, true));

        assertThrows(IllegalArgumentException.class, () -> HfImageProcessor.toRgb(abgr, false));
    }

    @Test
    void normalizeUsesFloatMeanStdAndCopies() {
        HfImageProcessor proc = HfImageProcessor.fromJson(
                "{\"image_processor_type\":\"SiglipImageProcessor\",\"size\":{\"height\":1,\"width\":1},"
                        + "\"image_mean\":[0.5,0.25,0.48145466],\"image_std\":[0.5,0.5,0.26862954]}", "n.json");
        float[] in = {1f, 0.25f, 0.2f};
        float[] out = proc.normalize(in);
        assertNotSame(in, out);
        assertArrayEquals(new float[] {1f, 0.25f, 0.2f}, in);
        assertEquals(1f, out[0]);
        assertEquals(0f, out[1]);
        assertEquals((0.2f - 0.48145466f) / 0.26862954f, out[2]);
    }

    @Test
    void rescaleIsDoubleProductCastToFloat() {
        HfImageProcessor proc = HfImageProcessor.fromJson(
                "{\"image_processor_type\":\"SiglipImageProcessor\",\"size\":{\"height\":1,\"width\":1},"
                        + "\"rescale_factor\":0.00392156862745098}", "r.json");
        BufferedImage img = new BufferedImage(1, 1, BufferedImage.TYPE_3BYTE_BGR);
        img.setRGB(0, 0, 0x0b80ff);
        float[] out = proc.rescaled(img);
        assertArrayEquals(new float[] {(float) (11 * 0.00392156862745098), (float) (128 * 0.00392156862745098), 1f},
                out);
    }

    // ---- configuration errors ----

    @Test
    void unsupportedProcessorTypeNamesFileAndKey() throws IOException {
        Path dir = writeConfig("{\"image_processor_type\":\"LlavaNextImageProcessor\",\"size\":{\"shortest_edge\":32}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfImageProcessor.fromFolder(dir));
        assertTrue(e.getMessage().contains(dir.resolve("preprocessor_config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("image_processor_type"), e.getMessage());
    }

    @Test
    void unsupportedResampleNamesFileAndKey() throws IOException {
        Path dir = writeConfig("{\"image_processor_type\":\"SiglipImageProcessor\",\"resample\":7,"
                + "\"size\":{\"height\":35,\"width\":35}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfImageProcessor.fromFolder(dir));
        assertTrue(e.getMessage().contains(dir.resolve("preprocessor_config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("'resample'"), e.getMessage());
    }

    @Test
    void missingOrWrongSizeNamesKey() {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> HfImageProcessor.fromJson("{\"image_processor_type\":\"CLIPImageProcessor\"}", "a.json"));
        assertTrue(missing.getMessage().startsWith("a.json: key 'size'"), missing.getMessage());
        IllegalArgumentException siglipShortest = assertThrows(IllegalArgumentException.class,
                () -> HfImageProcessor.fromJson("{\"image_processor_type\":\"SiglipImageProcessor\","
                        + "\"size\":{\"shortest_edge\":35}}", "b.json"));
        assertTrue(siglipShortest.getMessage().startsWith("b.json: key 'size'"), siglipShortest.getMessage());
    }

    @Test
    void fixtureConfigsParse() throws IOException {
        HfImageProcessor siglip = HfImageProcessor.fromFolder(HfFixtures.checkpoint(SIGLIP));
        assertEquals(35, siglip.height());
        assertEquals(35, siglip.width());
        HfImageProcessor clip = HfImageProcessor.fromFolder(HfFixtures.checkpoint(CLIP));
        assertEquals(32, clip.height());
        assertEquals(32, clip.width());
    }

    private Path writeConfig(String json) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Files.writeString(dir.resolve("preprocessor_config.json"), json);
        return dir;
    }

    private static BufferedImage read(Path png) throws IOException {
        BufferedImage img = ImageIO.read(png.toFile());
        assertTrue(img != null, "ImageIO could not decode " + png);
        return img;
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }
}
