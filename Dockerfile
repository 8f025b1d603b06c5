# Lifeboat: Node 20 with PostgreSQL 15 client tools (pg_dump, pg_restore, pg_basebackup, psql).
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends postgresql-client-15 age zstd ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 NODE_ENV=production PG_BIN_DIR=/usr/lib/postgresql/15/bin
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN AUTH_SECRET=build-time-placeholder-not-used-at-runtime-000 DATABASE_URL=postgres://build@localhost/build npm run build
EXPOSE 3000
CMD ["npm", "start"]
