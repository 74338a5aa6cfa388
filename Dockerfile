# sloe: the SLO alerting and escalation engine.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin bin
COPY src src
# npm ci builds dist/ (prepare); the dev dependencies go afterwards.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# jemalloc instead of glibc's malloc: the engine's sockets and range answers allocate and free buffers of every size,
# and glibc keeps the freed memory in its heap (about 110 MB of a 400 MB engine at 10,000 SLOs). jemalloc gives it
# back to the system within seconds, for the same CPU. bench/README.md has the figures.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production LD_PRELOAD=libjemalloc.so.2
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
COPY schema schema
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.SLOE_PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# --min-semi-space-size: V8's young generation starts at 1 MB and grows only under heavy allocation, so an engine
# with few SLOs collects it a few times a second, about a quarter of its CPU; 8 MB makes that a few times a minute.
ENTRYPOINT ["node", "--min-semi-space-size=8", "bin/sloe.js"]
CMD ["run", "/slos"]
