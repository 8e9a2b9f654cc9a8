# The web console: built with Node, served by nginx on 3000, which passes /api to the api.
# The two images are build arguments so that the compose test can build its own (deploy/local-images).
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NGINX_IMAGE=nginx:1.27-alpine

FROM ${NODE_IMAGE} AS build
LABEL vcs.project=voice-campaign-service
WORKDIR /ui
COPY services/ui/package.json services/ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/ui/ ./
RUN npm run build

FROM ${NGINX_IMAGE}
LABEL vcs.project=voice-campaign-service
COPY deploy/ui-nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /ui/dist /usr/share/nginx/html
EXPOSE 3000
