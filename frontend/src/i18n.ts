import { createI18n } from "vue-i18n";
import en from "./locales/en";
import zhCN from "./locales/zh-CN";

export const messages = { "zh-CN": zhCN, en };

export const i18n = createI18n({ legacy: false, locale: "zh-CN", fallbackLocale: "en", messages });
