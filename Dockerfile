# The Titan worker and CLI as an image (used by docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json titan.yaml ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev
ENV TITAN_CONFIG=/etc/titan/titan.yaml
ENTRYPOINT ["node", "dist/src/worker.js"]
