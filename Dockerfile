# flux-action-operator: `fluxact operator` and `fluxact mcp` in a small non-root image without a
# shell. Built from the official Node.js image; the final stage holds only the node binary, the
# shared libraries it links, the compiled operator and its production dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# The run-time root filesystem: node and the libraries ldd names for it (whatever the
# architecture), and a passwd entry for the unprivileged user, so the final stage needs no
# package manager and no shell.
FROM node:24-bookworm-slim AS rootfs
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc /rootfs/tmp \
  && cp /usr/local/bin/node /rootfs/usr/local/bin/node \
  && ldd /usr/local/bin/node | grep -o '/[^ ]*' | sort -u | xargs -I{} cp --parents -L {} /rootfs/ \
  && echo 'node:x:1000:1000:node:/app:/usr/sbin/nologin' >/rootfs/etc/passwd \
  && echo 'node:x:1000:' >/rootfs/etc/group \
  && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=rootfs /rootfs/ /
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY crds ./crds
# By number, so runAsNonRoot can verify it (the official Node.js image's user node).
USER 1000:1000
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/src/cli/main.js"]
CMD ["operator"]
