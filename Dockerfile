# acme-responder image: built with dev dependencies, run with production ones only, as a non-root user.
# Build: docker build -t acme-responder .   (BASE_IMAGE may name a local Node.js base image)
ARG BASE_IMAGE=node:24-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build

FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/bin ./dist/bin
COPY LICENSE README.md ./
# The manual, where man(1) looks: `docker run --rm IMAGE cat /usr/local/share/man/man8/acme-responder.8 | man -l -`.
COPY man/acme-responder.8 /usr/local/share/man/man8/acme-responder.8
RUN mkdir -p /var/lib/dehydrated/acme-challenges /etc/acme-responder
VOLUME ["/var/lib/dehydrated/acme-challenges", "/etc/acme-responder"]
# Docker lets unprivileged processes bind low ports inside a container (ip_unprivileged_port_start=0),
# so the responder listens on 80 without root or capabilities.
USER 65534:65534
EXPOSE 80
# Any HTTP answer means alive; redirects are not followed (they would lead to the master).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1/.well-known/acme-challenge/healthcheck',{redirect:'manual'}).then(()=>process.exit(0),()=>process.exit(1))"]
# A 2 MB young generation: a fifth less peak memory under load, same speed (README, "Performance").
ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/dist/bin/acme-responder.cjs"]
CMD ["--listen", ":80", "--challenge-dir", "/var/lib/dehydrated/acme-challenges"]
