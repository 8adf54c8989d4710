# ciu: one image for the five daemons and the tools (docker-compose.yml runs
# one service per daemon from it, each with its own `command:`).
#
#   docker build -t ciu .
#   docker run --rm ciu ciu-admin gen-salt
#
# Stage 1 builds with the -dev packages; stage 2 holds only the runtime
# libraries, the binaries and share/ (language files, city list).

# --- build ------------------------------------------------------------------
FROM debian:12-slim AS build

# deploy/packages/build.txt: the same list `make deps` installs (PKGS_BUILD
# of the Makefile reads it); `#` starts a comment.
COPY deploy/packages/build.txt /tmp/packages.txt
RUN apt-get update \
 && sed -e 's/#.*//' /tmp/packages.txt | DEBIAN_FRONTEND=noninteractive \
        xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only the sources (never a developer's build folders or .env).
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY common/ common/
COPY rules/ rules/
COPY db/ db/
COPY ciu-engine/ ciu-engine/
COPY conversation/ conversation/
COPY ingress/ ingress/
COPY dhis2-bridge/ dhis2-bridge/
COPY sender/ sender/
COPY tools/ tools/
COPY bench/ bench/
COPY share/ share/

RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIU_BUILD_TESTS=OFF \
          -DCIU_SHARE_DIR_DEFAULT=/usr/share/ciu \
 && cmake --build /build -j "$(nproc)" --target \
          ciu-ingress ciu-conversation ciu-engine ciu-dhis2-bridge ciu-sender \
          ciu-admin ciu-tap ciu-chat \
 && mkdir -p /out/bin \
 && cp /build/ingress/ciu-ingress /build/conversation/ciu-conversation \
       /build/ciu-engine/ciu-engine /build/dhis2-bridge/ciu-dhis2-bridge \
       /build/sender/ciu-sender /build/tools/ciu-admin /build/tools/ciu-tap \
       /build/tools/ciu-chat /out/bin/ \
 && strip --strip-debug /out/bin/*

# --- runtime ----------------------------------------------------------------
FROM debian:12-slim

# deploy/packages/runtime.txt: the runtime libraries of the -dev packages of
# build.txt (test it_packages keeps the two lists in step), CA certificates
# for Twilio / Meta / DHIS2 over HTTPS, and curl for the compose healthchecks.
COPY deploy/packages/runtime.txt /tmp/packages.txt
RUN apt-get update \
 && sed -e 's/#.*//' /tmp/packages.txt | DEBIAN_FRONTEND=noninteractive \
        xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt \
 && groupadd --system --gid 10001 ciu \
 && useradd --system --uid 10001 --gid ciu --home-dir /var/lib/ciu --no-create-home \
            --shell /usr/sbin/nologin ciu \
 && install -d -o ciu -g ciu -m 0750 /var/lib/ciu

COPY --from=build /out/bin/ /usr/local/bin/
COPY share/ /usr/share/ciu/

# CIU_HTTP_ADDR=0.0.0.0: inside a container the listeners must accept
# connections from the other containers and from the published port.
ENV CIU_SHARE_DIR=/usr/share/ciu \
    CIU_DATA_DIR=/var/lib/ciu \
    CIU_HTTP_ADDR=0.0.0.0

USER ciu
WORKDIR /var/lib/ciu
VOLUME ["/var/lib/ciu"]
EXPOSE 8000
CMD ["ciu-ingress"]
