// The definition's JSON Schema and each node kind's config schema: they draw the palette and forms.
import type { JsonSchema } from "@/definition/jsonSchema";
import { call, mcs } from "./http";

export interface NodeKindSchema {
  description: string;
  config: JsonSchema;
}

export interface DefinitionSchema {
  workflow: JsonSchema;
  node_kinds: Record<string, NodeKindSchema>;
}

export async function getDefinitionSchema(): Promise<DefinitionSchema> {
  return (await call(mcs.GET("/api/v1/schema/definition"))) as unknown as DefinitionSchema;
}
