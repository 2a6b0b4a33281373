package dev.qig.kafka.clients;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Checks, before any Kafka client connects, that the bootstrap servers' listener speaks the
 * protocol {@code security.protocol} says. Kafka's clients do not: a PLAINTEXT client reads a TLS
 * listener's alert as a response size (hundreds of megabytes), and either allocates it (an
 * OutOfMemoryError on a small heap) or times out after a minute with no word of TLS; a TLS client
 * on a plaintext listener retries its handshake forever.
 *
 * <p>The check sends one ApiVersions request (version 0, which every broker answers before any
 * authentication) in plaintext and looks at the first bytes of the answer: a TLS record means a TLS
 * listener, a Kafka response with the request's correlation id means a plaintext one. A server that
 * cannot be reached or says something else is left to the clients (readiness reports it).
 */
public final class ListenerCheck {

    private static final int TIMEOUT_MS = 5_000;
    private static final int CORRELATION_ID = 0x51_49_47; // "QIG"

    private ListenerCheck() {}

    /** Throws a {@link FatalKafkaException} naming the mismatch when a bootstrap server's listener speaks another protocol. */
    public static void verify(Map<String, ?> clientProperties) {
        String protocol = FatalKafkaException.protocol(clientProperties);
        boolean tls = protocol.equals("SSL") || protocol.equals("SASL_SSL");
        for (String server : servers(clientProperties.get("bootstrap.servers"))) {
            Listener listener = probe(server);
            if (listener == Listener.TLS && !tls) {
                throw new FatalKafkaException("the broker at " + server + " speaks TLS, but security.protocol=" + protocol
                        + ": set security.protocol to " + (protocol.equals("SASL_PLAINTEXT") ? "SASL_SSL" : "SSL or SASL_SSL")
                        + " and ssl.truststore.* (or use the cluster's plaintext listener)");
            }
            if (listener == Listener.PLAINTEXT && tls) {
                throw new FatalKafkaException("the broker at " + server + " answers in plaintext, but security.protocol="
                        + protocol + ": use the cluster's TLS listener, or set security.protocol to "
                        + (protocol.equals("SASL_SSL") ? "SASL_PLAINTEXT" : "PLAINTEXT"));
            }
        }
    }

    enum Listener { TLS, PLAINTEXT, UNKNOWN }

    /** What the listener at {@code host:port} answered to a plaintext ApiVersions request. */
    static Listener probe(String server) {
        int colon = server.lastIndexOf(':');
        if (colon <= 0) {
            return Listener.UNKNOWN;
        }
        String host = server.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(server.substring(colon + 1));
        } catch (NumberFormatException e) {
            return Listener.UNKNOWN;
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
            socket.setSoTimeout(TIMEOUT_MS);
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            out.writeInt(10);               // request size
            out.writeShort(18);             // ApiVersions
            out.writeShort(0);              // version 0: no client software fields, answered by every broker
            out.writeInt(CORRELATION_ID);
            out.writeShort(-1);             // null client id
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] head = new byte[8];
            in.readFully(head, 0, 3);
            // A TLS record: content type alert (21) or handshake (22), then major version 3.
            if ((head[0] == 21 || head[0] == 22) && head[1] == 3) {
                return Listener.TLS;
            }
            in.readFully(head, 3, 5);
            int size = ((head[0] & 0xff) << 24) | ((head[1] & 0xff) << 16) | ((head[2] & 0xff) << 8) | (head[3] & 0xff);
            int correlation = ((head[4] & 0xff) << 24) | ((head[5] & 0xff) << 16) | ((head[6] & 0xff) << 8) | (head[7] & 0xff);
            return size > 0 && size < 1 << 20 && correlation == CORRELATION_ID ? Listener.PLAINTEXT : Listener.UNKNOWN;
        } catch (IOException e) { // unreachable, closed without a word, or silent: not this check's to judge
            return Listener.UNKNOWN;
        }
    }

    private static List<String> servers(Object bootstrap) {
        List<String> servers = new ArrayList<>();
        if (bootstrap instanceof Collection<?> c) {
            c.forEach(s -> servers.add(s.toString().trim()));
        } else if (bootstrap != null) {
            for (String s : bootstrap.toString().split(",")) {
                if (!s.isBlank()) {
                    servers.add(s.trim());
                }
            }
        }
        return servers;
    }
}
