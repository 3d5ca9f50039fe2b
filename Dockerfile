# Deltachain: one image for every process — coordinator, storage agent, host agent, lab pool —
# chosen by the command (see docker-compose.yml); the lab pool, not part of the product, is the
# `deltachain-lab` command (bin/lab.mjs, the lab-pool service's entrypoint). The command runs
# the JavaScript build in dist/cli/ (bin/build.mjs, esbuild: a production dependency, as is tsx,
# which runs the source if the build is ever not current). npm's `prepare` would build before the source is copied, so the
# install skips scripts and the build runs once the source is in.
# qemu-img and libvhdi are test oracles only; nothing here needs them.
FROM node:20-bookworm-slim

# openssl makes the compose stack's certificates (deploy/compose/make-secrets.sh).
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production
# The agents' allocator settings (agent/node-flags.ts): freed block buffers' memory is kept, not faulted in afresh.
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=16777216
WORKDIR /opt/deltachain

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY shared ./shared
COPY coordinator ./coordinator
COPY agent ./agent
COPY deploy ./deploy
COPY lab ./lab
RUN node bin/build.mjs

# Where remotes and lab state live in the container; owned by the unprivileged `node` user so
# named volumes mounted here start writable.
RUN printf '#!/bin/sh\nexec node /opt/deltachain/bin/deltachain.mjs "$@"\n' > /usr/local/bin/deltachain \
 && printf '#!/bin/sh\nexec node /opt/deltachain/bin/lab.mjs "$@"\n' > /usr/local/bin/deltachain-lab \
 && chmod 755 /usr/local/bin/deltachain /usr/local/bin/deltachain-lab \
 && mkdir -p /var/lib/deltachain/remote /var/lib/deltachain/lab /etc/deltachain /secrets /run/deltachain \
 && chown -R node:node /var/lib/deltachain /secrets /run/deltachain \
 && chmod 750 /run/deltachain

USER node
# SIGTERM reaches node directly (exec form): each process stops cleanly, handing running tasks
# back to the queue after its shutdownGraceSeconds (compose's stop_grace_period is longer).
ENTRYPOINT ["node", "--initial-old-space-size=64", "--max-semi-space-size=8", "/opt/deltachain/bin/deltachain.mjs"]
CMD ["--help"]
