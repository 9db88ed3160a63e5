# elements-sync worker image. Build: docker build -t elements-sync .
# Run: docker run --env-file .env -p 9464:9464 elements-sync   (CMD is `start`)

# Build stage: install everything, which also generates the Prisma client into
# src/generated (the postinstall script runs `prisma generate` offline), then drop the
# devDependencies (the Prisma CLI, the test tools, the `node` package).
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
# Only the install scripts that package.json's allowScripts approves run (see docs/development.md).
RUN npm ci --strict-allow-scripts --no-audit --no-fund
COPY bin ./bin
COPY src ./src
RUN npm prune --omit=dev --omit=optional --no-audit --no-fund

# Runtime stage: Node 24 runs the TypeScript sources directly (type stripping); the files
# belong to root and the process runs as the unprivileged `node` user.
FROM node:24.21.0-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
USER node
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The heap flags of bin/elements-sync.js's first line (test/compose.test.ts keeps them equal).
ENTRYPOINT ["node", "--max-semi-space-size=4", "--max-old-space-size=1024", "bin/elements-sync.js"]
CMD ["start"]
