import { describe, expect, it } from "vitest";
import { defineComponent, h } from "vue";
import { mount } from "@vue/test-utils";
import { createI18n } from "vue-i18n";
import { useFieldText } from "@/composables/useFieldText";
import type { Field } from "@/definition/jsonSchema";
import { messages } from "@/i18n";

function withText(locale: string) {
  let text!: ReturnType<typeof useFieldText>;
  const Probe = defineComponent({
    setup() {
      text = useFieldText();
      return () => h("div");
    },
  });
  mount(Probe, {
    global: { plugins: [createI18n({ legacy: false, locale, fallbackLocale: "en", messages })] },
  });
  return text;
}

const field = (name: string, title = name, description = ""): Field => ({
  name,
  kind: "string",
  title,
  description,
  required: false,
  nullable: false,
  default: undefined,
  options: [],
  fields: [],
});

describe("useFieldText", () => {
  it("labels known fields, kinds and options in the locale", () => {
    const text = withText("zh-CN");

    expect(text.label(field("topic"))).toBe("主题");
    expect(text.kindLabel("mqtt_wait")).toBe("等待 MQTT 消息");
    expect(text.option(field("action"), "end_success")).toBe("结束（成功）");
  });

  it("falls back to the schema's words for fields and kinds the locale does not know", () => {
    const text = withText("en");

    expect(text.label(field("brand_new", "Brand New"))).toBe("Brand New");
    expect(text.help(field("brand_new", "x", "From the schema."))).toBe("From the schema.");
    expect(text.kindLabel("teleport")).toBe("teleport");
    expect(text.kindHelp("teleport", "Move a device.")).toBe("Move a device.");
    expect(text.option(field("method"), "GET")).toBe("GET");
  });
});
