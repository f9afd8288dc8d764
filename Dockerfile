# syntax=docker/dockerfile:1
# Nestor's production image: one image, three roles (deploy/docker/entrypoint.mjs):
#   docker run IMAGE api | worker | migrate
# Build: docker build -t nestor .   See the README's "Running in production".

ARG NODE_IMAGE=node:24-bookworm-slim

# Everything needed to build: dev dependencies, the server (dist/), the admin SPA (admin/dist) and
# the GraphiQL page (graphiql/dist, served when GRAPHQL_IDE=on).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/tmp/nestor \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/admin/dist ./admin/dist
COPY --from=build --chown=root:root /app/graphiql/dist ./graphiql/dist
COPY --chown=root:root package.json ./
COPY --chown=root:root deploy/docker/entrypoint.mjs ./deploy/docker/entrypoint.mjs
# The code belongs to root and is read-only to the app; it runs as the image's unprivileged `node` user and
# writes only to /tmp (mount a volume there when the root filesystem is read-only).
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "deploy/docker/entrypoint.mjs", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "deploy/docker/entrypoint.mjs"]
CMD ["api"]
