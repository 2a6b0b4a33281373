package dev.qig.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * The compose stack of docker-compose.yml for real: builds the image, starts Kafka, the registry, the
 * five services, Prometheus and Grafana, waits until the evaluator is ready (full precision measured),
 * then until Prometheus has scraped an evaluated config and a promotion from the evaluator and a
 * published checkpoint from the publisher, and the aggregator's /rounds shows closed rounds. Skipped where no Docker engine runs (this machine); it takes
 * the demo's time (tens of minutes on a laptop CPU).
 */
@Testcontainers(disabledWithoutDocker = true)
class ComposeStackTest {

    private static final int EVALUATOR = 9404;
    private static final int PROMETHEUS = 9090;
    private static final int AGGREGATOR_HTTP = 7071;

    @Container
    static final ComposeContainer STACK = new ComposeContainer(new File("../../docker-compose.yml"))
            .withBuild(true)
            .withLocalCompose(true)
            .withExposedService("evaluator", EVALUATOR, Wait.forHttp("/health/ready").forStatusCode(200)
                    .withStartupTimeout(Duration.ofMinutes(20)))
            .withExposedService("aggregator", AGGREGATOR_HTTP, Wait.forListeningPort().withStartupTimeout(Duration.ofMinutes(20)))
            .withExposedService("prometheus", PROMETHEUS, Wait.forHttp("/-/ready").forStatusCode(200)
                    .withStartupTimeout(Duration.ofMinutes(5)));

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theDemoWorkloadEvaluatesAndPromotesAConfig() throws Exception {
        String evaluator = url("evaluator", EVALUATOR);
        assertEquals(200, get(evaluator + "/health/ready").statusCode());
        assertEquals(200, get(evaluator + "/health/live").statusCode());

        // The evaluator's own exposition, then the same through Prometheus (the scrape config works).
        String prometheus = url("prometheus", PROMETHEUS);
        long deadline = System.nanoTime() + Duration.ofMinutes(45).toNanos();
        double evaluated = 0;
        double promoted = 0;
        double published = 0;
        while (System.nanoTime() < deadline && (evaluated < 1 || promoted < 1 || published < 1)) {
            evaluated = promQuery(prometheus, "sum(qig_configs_evaluated_total)");
            promoted = promQuery(prometheus, "sum(qig_promotions_total)");
            published = promQuery(prometheus, "sum(qig_publisher_published_total)");
            Thread.sleep(10_000);
        }
        assertTrue(evaluated >= 1, "no config evaluated (qig_configs_evaluated_total via Prometheus)");
        assertTrue(promoted >= 1, "no config promoted (qig_promotions_total via Prometheus)");
        assertTrue(published >= 1, "no checkpoint published (qig_publisher_published_total via Prometheus)");
        String metrics = get(evaluator + "/metrics").body();
        assertTrue(metrics.contains("qig_evaluation_accuracy"), "the evaluator reports accuracy");

        JsonNode rounds = JSON.readTree(get(url("aggregator", AGGREGATOR_HTTP) + "/rounds").body());
        assertTrue(rounds.isArray() && rounds.size() > 0 && rounds.get(0).path("round").asLong() >= 3,
                "the aggregator closed rounds: " + rounds);
    }

    private static String url(String service, int port) {
        return "http://" + STACK.getServiceHost(service, port) + ":" + STACK.getServicePort(service, port);
    }

    /** The value of a scalar PromQL query, 0 when it has no result yet. */
    private static double promQuery(String prometheus, String query) throws Exception {
        HttpResponse<String> r = get(prometheus + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8));
        JsonNode result = JSON.readTree(r.body()).path("data").path("result");
        return result.isArray() && result.size() > 0 ? result.get(0).path("value").get(1).asDouble() : 0;
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
