# syntax=docker/dockerfile:1
# backout: build once with dev dependencies, ship only the compiled output and production dependencies.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY jobs ./jobs
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    AUDIT_LOG_DIR=/var/lib/backout/audit \
    BACKOUT_CONFIG=/etc/backout/backout.yml
# glibc's malloc as `npm start` sets it: one arena, and freed memory handed back to the system
# (BENCHMARKS.md, figure 4: about 65 MB less resident after 1,000 rollbacks).
ENV MALLOC_ARENA_MAX=1 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json manifest.yml backout.example.yml ./
RUN mkdir -p /var/lib/backout/audit /etc/backout && chown -R node:node /var/lib/backout
VOLUME ["/var/lib/backout/audit"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# A young generation of up to 16 MB: a burst of 200 commands then meets one short scavenge instead
# of several long ones (2 MB promoted the burst into old-space collections). It grows only under
# load, so idle memory is the same as with 8 MB (BENCHMARKS.md, sections 1 and 4).
ENTRYPOINT ["node", "--max-semi-space-size=16", "dist/src/main.js"]
CMD ["start"]
