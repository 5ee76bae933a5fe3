import { describe, expect, it } from "vitest";
import { messages } from "../src/i18n";

function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => keys(child, prefix ? `${prefix}.${key}` : key));
}

describe("locales", () => {
  it("every locale has the same keys as zh-CN", () => {
    const reference = keys(messages["zh-CN"]).sort();
    for (const [name, locale] of Object.entries(messages)) {
      expect(keys(locale).sort(), name).toEqual(reference);
    }
  });
});
