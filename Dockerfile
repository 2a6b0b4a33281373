# syntax=docker/dockerfile:1
#
# The qig-stream image: one image, five services (and topics, config), from the service jar
# (services/server: no training, plotting or benchmarks; those are in qig.jar, ./qig).
#   docker build -t qig-stream:dev .
#   docker run --rm qig-stream:dev config attributor          # the attributor's settings
#   docker run --rm -e QIG_BOOTSTRAP_SERVERS=... -e QIG_SCHEMA_REGISTRY_URL=... qig-stream:dev attributor
# Settings come from QIG_* environment variables (docs/configuration.md); docker-compose.yml and k8s/
# run it. Built for linux/amd64: the shaded jar carries libtorch for linux-x86_64 only.

# ---- build: the shaded service jar (tests run in CI, not here) ----
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
# The reactor needs every module's pom, the registry server's included (only the tests run it);
# `-pl services/server -am` then builds the service jar and what it depends on.
COPY pom.xml ./
COPY registry-server/pom.xml ./registry-server/
COPY registry-server/config-index-deployment/pom.xml ./registry-server/config-index-deployment/
COPY schemas ./schemas
COPY services ./services
RUN --mount=type=cache,target=/root/.m2 \
    mvn -B -DskipTests -pl services/server -am package \
 && cp services/server/target/qig-server.jar /qig-server.jar

# ---- runtime: a JRE, the jar, a non-root user ----
FROM eclipse-temurin:17-jre-jammy
# curl for the health checks of docker-compose.yml (the base image does not promise one).
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 qig \
 && useradd --system --uid 10001 --gid qig --home-dir /var/lib/qig --shell /usr/sbin/nologin qig \
 && mkdir -p /opt/qig /var/lib/qig/djl /var/lib/qig/streams /var/lib/qig/published /var/lib/qig/gptq-weights /var/lib/qig/tmp \
 && chown -R qig:qig /var/lib/qig
COPY --from=build /qig-server.jar /opt/qig/qig-server.jar

# As the `qig` launcher sets them: no OpenMP spin-waiting in libtorch, one glibc malloc arena
# (libtorch in worker threads ran up to 1.8x slower with per-thread arenas; README, "Running the JVM").
# DJL unpacks libtorch from the jar into DJL_CACHE_DIR at the first start (writable; offline, nothing is
# downloaded). QIG_STATE_DIR is the aggregator's Kafka Streams state.dir (the other services ignore it;
# k8s/ mounts a volume there). /var/lib/qig/published is where docker-compose.yml and k8s/ mount the
# publisher's folder store (QIG_STORE_FOLDER_PATH); it exists here, owned by qig, so that a new named
# volume mounted there is writable by the service. The heap follows the container's memory limit,
# leaving room for libtorch's native memory; JAVA_TOOL_OPTIONS replaces these JVM options.
ENV OMP_WAIT_POLICY=PASSIVE \
    MALLOC_ARENA_MAX=1 \
    DJL_CACHE_DIR=/var/lib/qig/djl \
    QIG_STATE_DIR=/var/lib/qig/streams \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50 -Djava.io.tmpdir=/var/lib/qig/tmp"

USER 10001:10001
WORKDIR /var/lib/qig
VOLUME ["/var/lib/qig/streams"]
# metrics.port of ingest, attributor, aggregator, evaluator, publisher; the aggregator's http.port (/rounds).
EXPOSE 9401 9402 9403 9404 9405 7071
ENTRYPOINT ["java", "-jar", "/opt/qig/qig-server.jar"]
CMD ["--help"]
