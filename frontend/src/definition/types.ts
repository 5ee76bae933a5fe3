// The definition document as the API describes it (types generated from the OpenAPI document),
// plus the loose shapes the designer keeps while a definition is being drawn.
import type { components } from "@/api/schema";

export type Definition = components["schemas"]["WorkflowDefinition"];
export type NodeDef = components["schemas"]["Node"];
export type EdgeDef = components["schemas"]["Edge"];
export type Problem = components["schemas"]["Problem"];

/** Everything of a node but where it is drawn: kept as the X6 cell's data. */
export type NodeData = Omit<NodeDef, "position" | "parent"> & Record<string, unknown>;
/** Everything of an edge but its ends: kept as the X6 edge's data. */
export type EdgeData = Omit<EdgeDef, "source" | "target"> & Record<string, unknown>;
/** The workflow's own fields: everything but its nodes and edges. */
export type WorkflowMeta = Omit<Definition, "nodes" | "edges"> & Record<string, unknown>;
