package dev.qig.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ImageCodecTest {

    private static final int S = SyntheticWorld.IMAGE_SIZE;

    @Test
    void pngRoundTripIsWithinOneLevel() {
        SplittableRandom rng = new SplittableRandom(1);
        float[] random = new float[3 * S * S];
        for (int i = 0; i < random.length; i++) {
            random[i] = rng.nextFloat();
        }
        assertRoundTrip(random);
        for (Domain d : Domain.values()) {
            VqaSample s = new SyntheticWorld().generate(d, 1, 2).get(0);
            assertRoundTrip(s.image());
            assertEquals(Arrays.toString(ImageCodec.decode(s.toPng(), S)),
                    Arrays.toString(ImageCodec.fromImage(s.toImage(), S)));
        }
    }

    @Test
    void decodingResizesByAreaAveraging() throws IOException {
        float[] original = new SyntheticWorld().generate(Domain.CLUTTERED, 1, 3).get(0).image();
        BufferedImage small = ImageCodec.toImage(original, S);
        BufferedImage doubled = new BufferedImage(2 * S, 2 * S, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 2 * S; y++) {
            for (int x = 0; x < 2 * S; x++) {
                doubled.setRGB(x, y, small.getRGB(x / 2, y / 2));
            }
        }
        assertTrue(maxDiff(original, ImageCodec.decode(bytes(doubled, "png"), S)) <= 0.5f / 255 + 1e-6f);
        float[] upscaled = ImageCodec.decode(bytes(small, "png"), 2 * S);
        assertEquals(3 * 4 * S * S, upscaled.length);
    }

    @Test
    void decodesJpeg() throws IOException {
        float[] original = new SyntheticWorld().generate(Domain.CLEAN, 1, 3).get(0).image();
        float[] decoded = ImageCodec.decode(bytes(ImageCodec.toImage(original, S), "jpeg"), S);
        double meanAbs = 0;
        for (int i = 0; i < decoded.length; i++) {
            meanAbs += Math.abs(decoded[i] - original[i]) / decoded.length;
        }
        assertTrue(meanAbs < 0.05, "jpeg mean error " + meanAbs);
    }

    @Test
    void corruptOrUnsupportedBytesThrowInvalidImageException() throws IOException {
        byte[] png = new SyntheticWorld().generate(Domain.CLEAN, 1, 4).get(0).toPng();
        byte[] noise = new byte[500];
        new SplittableRandom(7).nextBytes(noise);
        assertThrows(InvalidImageException.class, () -> ImageCodec.decode(noise, S));
        assertThrows(InvalidImageException.class, () -> ImageCodec.decode(new byte[0], S));
        assertThrows(InvalidImageException.class, () -> ImageCodec.decode(null, S));
        assertThrows(InvalidImageException.class, () -> ImageCodec.decode(Arrays.copyOf(png, png.length / 2), S));
        BufferedImage tiny = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
        InvalidImageException gif = assertThrows(InvalidImageException.class,
                () -> ImageCodec.decode(bytes(tiny, "gif"), S));
        assertTrue(gif.getMessage().contains("expected PNG or JPEG"), gif.getMessage());
    }

    @Test
    void oversizedHeaderIsRejectedBeforeDecoding() throws IOException {
        byte[] png = bytes(new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB), "png");
        // IHDR data starts at byte 16: width and height, then its CRC over type + data at byte 29.
        ByteBuffer buf = ByteBuffer.wrap(png);
        buf.putInt(16, 100_000).putInt(20, 100_000);
        CRC32 crc = new CRC32();
        crc.update(png, 12, 17);
        buf.putInt(29, (int) crc.getValue());
        InvalidImageException e = assertThrows(InvalidImageException.class, () -> ImageCodec.decode(png, S));
        assertTrue(e.getMessage().contains("exceeds the limit"), e.getMessage());
    }

    @Test
    void encodingRejectsWrongLengthAndNaN() {
        assertThrows(IllegalArgumentException.class, () -> ImageCodec.encodePng(new float[10], S));
        float[] nan = new float[3 * S * S];
        nan[5] = Float.NaN;
        assertThrows(IllegalArgumentException.class, () -> ImageCodec.encodePng(nan, S));
    }

    private static void assertRoundTrip(float[] image) {
        float diff = maxDiff(image, ImageCodec.decode(ImageCodec.encodePng(image, S), S));
        assertTrue(diff <= 1f / 255, "round trip error " + diff);
    }

    private static float maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static byte[] bytes(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(image, format, out), "no writer for " + format);
        return out.toByteArray();
    }
}
