package dev.qig.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The dashboards are well formed: JSON with a unique uid, panels with queries on the provisioned
 * Prometheus datasource, and every query names at least one of the services' metrics. (That each
 * name is one the services export is checked against a live scrape in {@link DemoEndToEndTest}.)
 * Also: the Prometheus scrape config lists the five services on their default metrics ports.
 */
class DashboardsTest {

    @Test
    void everyDashboardIsWellFormedAndEveryQueryNamesAMetric() throws Exception {
        Map<String, JsonNode> dashboards = Dashboards.load();
        assertEquals(Set.of("qig-attribution.json", "qig-drift.json", "qig-evaluation.json", "qig-throughput.json"),
                dashboards.keySet());
        Set<String> uids = new HashSet<>();
        for (Map.Entry<String, JsonNode> d : dashboards.entrySet()) {
            JsonNode dash = d.getValue();
            assertTrue(uids.add(dash.path("uid").asText()), "unique uid: " + d.getKey());
            assertFalse(dash.path("title").asText().isBlank(), d.getKey());
            assertTrue(dash.path("panels").size() >= 3, d.getKey() + " has panels");
            for (JsonNode panel : dash.path("panels")) {
                if (panel.path("type").asText().equals("row")) {
                    continue;
                }
                assertEquals("prometheus", panel.path("datasource").path("uid").asText(), d.getKey() + ": " + panel.path("title"));
                assertTrue(panel.path("targets").size() >= 1, d.getKey() + ": " + panel.path("title") + " has a query");
            }
            List<String> queries = Dashboards.queries(dash);
            assertFalse(queries.isEmpty());
            for (String q : queries) {
                assertFalse(Dashboards.metricNames(q).isEmpty(), d.getKey() + ": no metric in " + q);
            }
        }
        assertEquals(Set.of("qig_token_attribution_share"), Dashboards.metricNames(
                "sum by (layer) (qig_token_attribution_share{modality=~\"prompt|answer\", job=\"qig_x\"})"));
    }

    @Test
    void prometheusScrapesTheFiveServicesOnTheirDefaultPorts() throws Exception {
        String yml = Files.readString(Dashboards.DIRECTORY.getParent().getParent().resolve("prometheus/prometheus.yml"));
        for (String target : List.of("ingest:9401", "attributor:9402", "aggregator:9403", "evaluator:9404", "publisher:9405")) {
            assertTrue(yml.contains(target), "prometheus.yml scrapes " + target);
        }
        assertEquals(dev.qig.ingest.IngestConfig.DEFAULT_METRICS_PORT, 9401);
        assertEquals(dev.qig.attributor.AttributorConfig.DEFAULT_METRICS_PORT, 9402);
        assertEquals(dev.qig.aggregator.AggregatorConfig.DEFAULT_METRICS_PORT, 9403);
        assertEquals(dev.qig.evaluator.EvaluatorConfig.DEFAULT_METRICS_PORT, 9404);
        assertEquals(dev.qig.publisher.PublisherConfig.DEFAULT_METRICS_PORT, 9405);
    }
}
