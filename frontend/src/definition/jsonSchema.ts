import { cloneJson } from "@/utils/clone";

// JSON Schema (as pydantic writes it) turned into form fields. The designer's side panel is drawn
// from these, so a node kind or a field the server adds shows up without changes here.

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

export type FieldKind =
  | "string"
  | "text"
  | "number"
  | "integer"
  | "boolean"
  | "enum"
  | "object"
  | "list"
  | "stringList"
  | "enumList"
  | "stringMap"
  | "map"
  | "json";

export interface Field {
  name: string;
  kind: FieldKind;
  title: string;
  description: string;
  required: boolean;
  nullable: boolean;
  default: unknown;
  options: unknown[];
  min?: number;
  max?: number;
  /** Fields of an object, of each item of a list, or of each value of a map. */
  fields: Field[];
}

/** Fields whose text is long: drawn as a text area. */
const LONG_TEXT = new Set(["body", "description", "condition", "when", "reason"]);

/** Follow `$ref`s (`#/$defs/X`, `#/components/schemas/X`) and single-item `allOf`s. */
export function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let depth = 0; depth < 20; depth += 1) {
    if (current.$ref) {
      const name = current.$ref.split("/").pop() ?? "";
      const target = root.$defs?.[name];
      if (!target) return {};
      const { $ref: _, ...rest } = current;
      current = { ...target, ...rest };
    } else if (current.allOf && current.allOf.length === 1) {
      const { allOf, ...rest } = current;
      current = { ...allOf[0], ...rest };
    } else {
      return current;
    }
  }
  return current;
}

function isNull(schema: JsonSchema): boolean {
  return schema.type === "null";
}

/** `X | None` is written `anyOf: [X, {type: null}]`: answer X and that it may be null. */
function unwrapNullable(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    const others = variants.filter((variant) => !isNull(variant));
    if (others.length === 1 && others.length < variants.length) {
      const { anyOf: _a, oneOf: _o, ...rest } = schema;
      return { schema: { ...resolve(others[0], root), ...rest }, nullable: true };
    }
  }
  return { schema, nullable: false };
}

function kindOf(name: string, schema: JsonSchema, root: JsonSchema): FieldKind {
  if (schema.enum) return "enum";
  if (schema.anyOf || schema.oneOf) return "json";
  switch (schema.type) {
    case "string":
      return LONG_TEXT.has(name) ? "text" : "string";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array": {
      const item = resolve(schema.items ?? {}, root);
      if (item.enum) return "enumList";
      if (item.type === "string") return "stringList";
      return item.type === "object" && item.properties ? "list" : "json";
    }
    case "object": {
      if (schema.properties && Object.keys(schema.properties).length > 0) return "object";
      const values = schema.additionalProperties;
      if (typeof values === "object") {
        const value = resolve(values, root);
        if (value.type === "string") return "stringMap";
        if (value.properties) return "map";
      }
      return "json";
    }
    default:
      return "json";
  }
}

function childFields(kind: FieldKind, schema: JsonSchema, root: JsonSchema): Field[] {
  if (kind === "object") return describeFields(schema, root);
  if (kind === "list") return describeFields(resolve(schema.items ?? {}, root), root);
  if (kind === "map" && typeof schema.additionalProperties === "object") {
    return describeFields(resolve(schema.additionalProperties, root), root);
  }
  return [];
}

export function describeField(name: string, raw: JsonSchema, root: JsonSchema, required = false): Field {
  const { schema, nullable } = unwrapNullable(resolve(raw, root), root);
  const kind = kindOf(name, schema, root);
  return {
    name,
    kind,
    title: schema.title ?? raw.title ?? name,
    description: schema.description ?? raw.description ?? "",
    required,
    nullable,
    default: raw.default ?? schema.default,
    options: schema.enum ?? (schema.type === "array" ? (resolve(schema.items ?? {}, root).enum ?? []) : []),
    min: schema.minimum ?? schema.exclusiveMinimum,
    max: schema.maximum ?? schema.exclusiveMaximum,
    fields: childFields(kind, schema, root),
  };
}

/** The fields of an object schema, in the schema's order, less those named in `exclude`. */
export function describeFields(schema: JsonSchema, root: JsonSchema, exclude: string[] = []): Field[] {
  const object = resolve(schema, root);
  const required = new Set(object.required ?? []);
  return Object.entries(object.properties ?? {})
    .filter(([name]) => !exclude.includes(name))
    .map(([name, property]) => describeField(name, property, root, required.has(name)));
}

/** A fresh value of a field: its default, or an empty value of its kind when it is required. */
export function initialValue(field: Field): unknown {
  if (field.default !== undefined) return cloneJson(field.default);
  if (!field.required) return undefined;
  switch (field.kind) {
    case "string":
    case "text":
      return "";
    case "enum":
      return field.options[0];
    case "boolean":
      return false;
    case "list":
      return [initialObject(field.fields)];
    case "stringList":
    case "enumList":
      return [];
    case "object":
      return initialObject(field.fields);
    case "stringMap":
    case "map":
      return {};
    default:
      return undefined;
  }
}

/** An object holding the initial value of every field that has one. */
export function initialObject(fields: Field[]): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    const initial = initialValue(field);
    if (initial !== undefined) value[field.name] = initial;
  }
  return value;
}
