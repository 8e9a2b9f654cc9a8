# The web console: built with Node, served by nginx on 3000, which passes /api to the api.
FROM node:20-bookworm-slim AS build
WORKDIR /ui
COPY services/ui/package.json services/ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/ui/ ./
RUN npm run build

FROM nginx:1.27-alpine
COPY deploy/ui-nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /ui/dist /usr/share/nginx/html
EXPOSE 3000
