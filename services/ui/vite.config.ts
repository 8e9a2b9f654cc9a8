/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` proxies the API to a running api (make run), so the console can be worked on
// with hot reload; the api itself serves the built files from dist/.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  server: { proxy: { "/api": "http://127.0.0.1:8081" } },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
