package dev.qig.kafka.clients;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Checks, before any Kafka client connects, that the bootstrap servers' listener speaks the
 * protocol {@code security.protocol} says. Kafka's clients do not: a PLAINTEXT client reads a TLS
 * listener's alert as a response size (hundreds of megabytes), and either allocates it (an
 * OutOfMemoryError on a small heap) or times out after a minute with no word of TLS; a TLS client
 * on a plaintext listener retries its handshake forever.
 *
 * <p>The check opens a TLS handshake (a listener that completes it speaks TLS) and else sends one
 * ApiVersions request (version 0, which every broker answers before any authentication) in
 * plaintext: an answer with the request's correlation id means a plaintext listener. A server that
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

    /** Whether the listener at {@code host:port} completes a TLS handshake, or else answers a plaintext ApiVersions request. */
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
        if (completesTlsHandshake(host, port)) {
            return Listener.TLS;
        }
        return answersPlaintext(host, port) ? Listener.PLAINTEXT : Listener.UNKNOWN;
    }

    /**
     * A handshake that accepts any certificate: it only asks whether the listener speaks TLS (the
     * clients check the certificate), and nothing is sent over it. Reading the alert a TLS listener
     * sends back to a plaintext request proved unreliable: the broker sometimes closes first.
     */
    private static boolean completesTlsHandshake(String host, int port) {
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
            plain.setSoTimeout(TIMEOUT_MS);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new AnyCertificate()}, null);
            try (SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, host, port, false)) {
                tls.startHandshake();
                return true;
            }
        } catch (IOException | GeneralSecurityException e) {
            return false;
        }
    }

    private static boolean answersPlaintext(String host, int port) {
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
            int size = in.readInt();
            return size > 0 && size < 1 << 20 && in.readInt() == CORRELATION_ID;
        } catch (IOException e) { // unreachable, closed without a word, or silent: not this check's to judge
            return false;
        }
    }

    private static final class AnyCertificate implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) { }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) { }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
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
