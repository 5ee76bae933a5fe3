import { fileURLToPath, URL } from "node:url";
import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";

// The built app is served by the Airflow plugin under /mcs/ui/. The designer and run view (X6) and
// the history charts (ECharts) are imported by their routes only, so the first screen loads neither.
const stack = process.env.MCS_STACK_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/mcs/ui/",
  plugins: [vue()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: { chunkSizeWarningLimit: 1500 },
  server: {
    host: "127.0.0.1",
    proxy: { "/mcs/api": stack, "/mcs/openapi.json": stack, "/auth": stack, "/api/v2": stack },
  },
  test: {
    environment: "happy-dom",
    include: ["tests/**/*.test.ts"],
  },
});
