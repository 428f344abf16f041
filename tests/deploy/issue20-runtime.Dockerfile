# The runtime stage packaging/Dockerfile had before issue 20 (item 1): a hand-written package list without
# libprometheus-cpp-core1.0, which pd-proxy links. check_deployment.py asserts that check_runtime_libs.py
# reports it.
FROM debian:bookworm-slim AS runtime
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libspdlog1.10-fmt9 libfmt9 curl \
 && rm -rf /var/lib/apt/lists/*
