import { createI18n } from "vue-i18n";
import en from "./locales/en";
import zhCN from "./locales/zh-CN";

export const messages = { "zh-CN": zhCN, en };
export type Locale = keyof typeof messages;
export const LOCALES = Object.keys(messages) as Locale[];

const STORAGE_KEY = "mcs.locale";

function savedLocale(): Locale {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    return saved && saved in messages ? (saved as Locale) : "zh-CN";
  } catch {
    return "zh-CN";
  }
}

export const i18n = createI18n({ legacy: false, locale: savedLocale(), fallbackLocale: "en", messages });

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  document.documentElement.lang = locale;
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // Private windows may refuse storage; the choice then lasts for this page only.
  }
}
