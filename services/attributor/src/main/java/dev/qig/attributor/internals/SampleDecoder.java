package dev.qig.attributor.internals;

import dev.qig.data.ImageCodec;
import dev.qig.data.InvalidImageException;
import dev.qig.data.InvalidPromptException;
import dev.qig.core.vqa.EncodedQuestion;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.VisualQuestion;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.serde.AvroDecodingException;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.CalibrationSample;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns the bytes of a samples-topic record into what the engine reads, or says why it cannot, as a
 * {@link RejectedRecordException} with the reason for the dead letter: bytes that are not Avro, an
 * unknown schema id, a missing or corrupt image, an empty, oversize or unencodable prompt, an empty
 * answer. An image of another size than the model's is resized (area averaging), as VLM processors do.
 */
public final class SampleDecoder {

    private final AvroDeserializer<CalibrationSample> deserializer;
    private final int promptMaxChars;
    private final int imageMaxBytes;

    public SampleDecoder(AvroDeserializer<CalibrationSample> deserializer, int promptMaxChars, int imageMaxBytes) {
        this.deserializer = deserializer;
        this.promptMaxChars = promptMaxChars;
        this.imageMaxBytes = imageMaxBytes;
    }

    /** The record, or a rejection for bytes that do not decode. */
    public CalibrationSample record(String topic, byte[] value) {
        if (value == null) {
            throw new RejectedRecordException(RejectReason.NULL_VALUE, "a samples-topic record without a value");
        }
        try {
            return deserializer.deserialize(topic, value);
        } catch (AvroDecodingException e) {
            RejectReason reason = RejectReason.of(e);
            throw new RejectedRecordException(reason, e.getMessage(), e);
        }
    }

    /** The image bytes of a sample: inline, or read from its file: URI. */
    public byte[] imageBytes(CalibrationSample s) {
        String sample = "sample " + s.getSampleId() + ": ";
        if (s.getImage() != null) {
            ByteBuffer b = s.getImage().duplicate();
            if (b.remaining() > imageMaxBytes) {
                throw new RejectedRecordException(RejectReason.OVERSIZE_IMAGE, sample + "image of " + b.remaining()
                        + " bytes exceeds the limit of " + imageMaxBytes);
            }
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return bytes;
        }
        if (s.getImageUri() == null || s.getImageUri().isBlank()) {
            throw new RejectedRecordException(RejectReason.MISSING_IMAGE, "sample " + s.getSampleId() + " has neither image bytes nor an image URI");
        }
        try {
            URI uri = URI.create(s.getImageUri());
            if (!"file".equalsIgnoreCase(uri.getScheme())) {
                throw new RejectedRecordException(RejectReason.MISSING_IMAGE, sample + "image URI " + s.getImageUri()
                        + ": only file: URIs are read");
            }
            Path path = Path.of(uri);
            if (!Files.isRegularFile(path)) {
                throw new RejectedRecordException(RejectReason.MISSING_IMAGE, sample + "no image at " + s.getImageUri());
            }
            if (Files.size(path) > imageMaxBytes) {
                throw new RejectedRecordException(RejectReason.OVERSIZE_IMAGE, sample + "image at " + s.getImageUri() + " exceeds "
                        + imageMaxBytes + " bytes");
            }
            return Files.readAllBytes(path);
        } catch (IllegalArgumentException | IOException e) {
            throw new RejectedRecordException(RejectReason.MISSING_IMAGE, sample + "cannot read image " + s.getImageUri() + ": "
                    + e.getMessage(), e);
        }
    }

    /** The sample as one model reads it: image at the model's size, prompt and answer encodable by its template. */
    public VisualQuestion question(CalibrationSample s, byte[] image, VqaModel model) {
        String prompt = s.getPrompt();
        String answer = s.getAnswer();
        if (prompt == null || prompt.isBlank()) {
            throw new RejectedRecordException(RejectReason.EMPTY_PROMPT, "sample " + s.getSampleId() + " has an empty prompt");
        }
        if (answer == null || answer.isBlank()) {
            throw new RejectedRecordException(RejectReason.EMPTY_ANSWER, "sample " + s.getSampleId() + " has an empty answer");
        }
        if (prompt.length() > promptMaxChars || answer.length() > promptMaxChars) {
            throw new RejectedRecordException(RejectReason.OVERSIZE_PROMPT, "sample " + s.getSampleId() + ": text of "
                    + Math.max(prompt.length(), answer.length()) + " characters exceeds " + promptMaxChars);
        }
        // Text first: it is cheap, and an image that does not matter for a refused sample is not decoded.
        int visionTokens = model.model().config().visionTokens();
        EncodedPrompt encoded;
        try {
            encoded = model.processor().encode(prompt, answer, visionTokens);
        } catch (InvalidPromptException e) {
            RejectReason reason = switch (e.problem()) {
                case BLANK -> e.part() == InvalidPromptException.Part.ANSWER ? RejectReason.EMPTY_ANSWER : RejectReason.EMPTY_PROMPT;
                case UNKNOWN_WORD -> RejectReason.UNKNOWN_WORD;
                case TEMPLATE_TOKEN -> RejectReason.INVALID_PROMPT;
                case TOO_LONG -> RejectReason.OVERSIZE_PROMPT;
            };
            throw new RejectedRecordException(reason, "sample " + s.getSampleId() + ": " + e.getMessage(), e);
        }
        float[] chw;
        try {
            chw = model.processor().readImage(image);
        } catch (InvalidImageException e) {
            throw new RejectedRecordException(e.oversize() ? RejectReason.OVERSIZE_IMAGE : RejectReason.CORRUPT_IMAGE,
                    "sample " + s.getSampleId() + ": " + e.getMessage(), e);
        }
        // The encoding goes along: the engine's batch and the attribution record use it instead of encoding again.
        return EncodedQuestion.of(VisualQuestion.of(s.getSampleId(), chw, prompt, answer), model.processor(), visionTokens,
                encoded);
    }
}
