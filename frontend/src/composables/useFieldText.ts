// Labels and help of schema-drawn fields: the locale's words when it has them, else the schema's.
import { useI18n } from "vue-i18n";
import type { Field } from "@/definition/jsonSchema";

export function useFieldText() {
  const { t, te } = useI18n();

  function label(field: Field): string {
    return te(`fields.${field.name}`) ? t(`fields.${field.name}`) : field.title;
  }

  function help(field: Field): string {
    return te(`help.${field.name}`) ? t(`help.${field.name}`) : field.description;
  }

  function option(field: Field, value: unknown): string {
    const key = `enums.${field.name}.${String(value)}`;
    return te(key) ? t(key) : String(value);
  }

  function kindLabel(kind: string): string {
    return te(`kinds.${kind}.label`) ? t(`kinds.${kind}.label`) : kind;
  }

  function kindHelp(kind: string, fallback = ""): string {
    return te(`kinds.${kind}.help`) ? t(`kinds.${kind}.help`) : fallback;
  }

  return { label, help, option, kindLabel, kindHelp };
}
