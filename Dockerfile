# One image for every process: api, worker, exchange-sim and migrate differ only by command.
# TypeScript runs through tsx (a runtime dependency), so there is no build step.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev drops the toolchain and the `node` package (the image has its own Node 24).
# argon2, esbuild, @swc/core and the Temporal bridge ship prebuilt binaries: no compiler needed.
# (npm 10 ignores package.json's `allowScripts`, which is for npm 11's install-script gating.)
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
# The base image's unprivileged user; the app writes nothing under /app (tsx caches in /tmp).
# Temporal is reached by TEMPORAL_* variables, or a temporal.toml mounted at
# /home/node/.config/temporalio/temporal.toml (or named by TEMPORAL_CONFIG_FILE), with the
# certificates it names mounted beside it.
USER node
EXPOSE 8000 8100
# `node --import tsx` keeps Node itself as PID 1, so `docker stop`'s SIGTERM reaches the app's
# shutdown handlers (`npx tsx` would put npm, sh and tsx in between, and npm stops at sh).
# No HEALTHCHECK here: it would differ per command, so docker-compose.yml declares one per service.
CMD ["node", "--import", "tsx", "src/api/main.ts"]
