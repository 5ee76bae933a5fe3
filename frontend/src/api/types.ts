// Names for the shapes of the MCS API, taken from the generated OpenAPI types.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type WorkflowSummary = Schemas["WorkflowSummary"];
export type WorkflowResponse = Schemas["WorkflowResponse"];
export type VersionResponse = Schemas["VersionResponse"];
export type ValidationResponse = Schemas["ValidationResponse"];
export type RunResponse = Schemas["RunResponse"];
export type RunSummary = Schemas["RunSummary"];
export type NodeState = Schemas["NodeStateResponse"];
export type VersionDefinition = Schemas["VersionDefinitionResponse"];
export type ParamSpec = Schemas["ParamSpec"];
export type RunState = RunResponse["state"];

export type EnabledResponse = Schemas["EnabledResponse"];
export type StopWorkflowResponse = Schemas["StopWorkflowResponse"];
export type Hook = Schemas["HookResponse"];
export type HookWithToken = Schemas["HookTokenResponse"];
export type HookAction = Hook["action"];
/** One thing that happened in a run (`docs/events.md`): a node changed state, a rule skipped... */
export type RunEvent = Schemas["RunEventResponse"];

/** A person's decision a run waits for (approval routes: used only when the server has them). */
export interface Approval {
  node_key: string;
  subject: string;
  body: string | null;
  options: string[];
  state: "pending" | "answered" | "closed";
  answer?: string | null;
  by?: string | null;
  comment?: string;
  asked_at: string;
  answered_at?: string | null;
  node_state?: string | null;
}
