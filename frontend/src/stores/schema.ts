// The definition's JSON Schema, fetched once: the palette's node kinds and the side panel's forms.
import { defineStore } from "pinia";
import { computed, shallowRef } from "vue";
import { getDefinitionSchema, type DefinitionSchema } from "@/api/definitionSchema";
import { categoryOf, type Category } from "@/canvas/config";
import { describeFields, initialObject, resolve, type Field, type JsonSchema } from "@/definition/jsonSchema";
import type { NodeData } from "@/definition/types";

/** Node fields the panel draws itself (or that belong to the canvas), not from the schema. */
const NODE_OWN_FIELDS = ["kind", "config", "position", "parent"];
const EDGE_OWN_FIELDS = ["source", "target"];
const WORKFLOW_OWN_FIELDS = ["nodes", "edges"];

export interface KindInfo {
  kind: string;
  description: string;
  category: Category;
}

export const useSchemaStore = defineStore("schema", () => {
  const schema = shallowRef<DefinitionSchema | null>(null);
  let pending: Promise<DefinitionSchema> | null = null;

  async function load(): Promise<DefinitionSchema> {
    if (schema.value) return schema.value;
    pending ??= getDefinitionSchema().finally(() => (pending = null));
    schema.value = await pending;
    return schema.value;
  }

  const workflowRoot = computed<JsonSchema>(() => schema.value?.workflow ?? {});

  const kinds = computed<KindInfo[]>(() =>
    Object.entries(schema.value?.node_kinds ?? {}).map(([kind, info]) => ({
      kind,
      description: info.description,
      category: categoryOf(kind),
    })),
  );

  function defSchema(name: string): JsonSchema {
    return resolve({ $ref: `#/$defs/${name}` }, workflowRoot.value);
  }

  const nodeFields = computed<Field[]>(() =>
    schema.value ? describeFields(defSchema("Node"), workflowRoot.value, NODE_OWN_FIELDS) : [],
  );
  const edgeFields = computed<Field[]>(() =>
    schema.value ? describeFields(defSchema("Edge"), workflowRoot.value, EDGE_OWN_FIELDS) : [],
  );
  const workflowFields = computed<Field[]>(() =>
    schema.value ? describeFields(workflowRoot.value, workflowRoot.value, WORKFLOW_OWN_FIELDS) : [],
  );

  function configFields(kind: string): Field[] {
    const config = schema.value?.node_kinds[kind]?.config;
    return config ? describeFields(config, config) : [];
  }

  /** The data of a node just dropped on the canvas: defaults of the node and of its kind's config. */
  function initialNode(kind: string, key: string): NodeData {
    const base = initialObject(nodeFields.value.filter((field) => field.required));
    return { ...base, key, kind, name: "", config: initialObject(configFields(kind)) } as NodeData;
  }

  return { schema, load, kinds, nodeFields, edgeFields, workflowFields, configFields, initialNode };
});
