import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// The built app is served by the Airflow plugin under /mcs/ui/.
export default defineConfig({
  base: "/mcs/ui/",
  plugins: [vue()],
  server: { host: "127.0.0.1", proxy: { "/mcs/api": "http://127.0.0.1:8080", "/auth": "http://127.0.0.1:8080" } },
});
