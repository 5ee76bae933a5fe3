import { createApp } from "vue";
import { createPinia } from "pinia";
import "element-plus/dist/index.css";
import "./styles.css";
import App from "./App.vue";
import { ApiError } from "./api/http";
import { i18n } from "./i18n";
import { router } from "./router";

/** Errors already shown to the user (an API error's toast) or none at all (a dialog closed). */
function handled(error: unknown): boolean {
  return error instanceof ApiError || error === "cancel" || error === "close";
}

const app = createApp(App).use(createPinia()).use(router).use(i18n);
app.config.errorHandler = (error) => {
  if (!handled(error)) console.error(error);
};
window.addEventListener("unhandledrejection", (event) => {
  if (handled(event.reason)) event.preventDefault();
});
app.mount("#app");
