// Workflows: list, read, create, save the draft, validate, publish, delete, enable and disable.
import type { Definition } from "@/definition/types";
import { call, mcs, type CallOptions } from "./http";
import type {
  EnabledResponse,
  StopWorkflowResponse,
  ValidationResponse,
  VersionResponse,
  WorkflowResponse,
  WorkflowSummary,
} from "./types";

export async function listWorkflows(search = ""): Promise<{ items: WorkflowSummary[]; total: number }> {
  const data = await call(
    mcs.GET("/api/v1/workflows", { params: { query: { search: search || undefined, limit: 500 } } }),
  );
  return { items: data.workflows, total: data.total_entries };
}

export function getWorkflow(key: string): Promise<WorkflowResponse> {
  return call(mcs.GET("/api/v1/workflows/{key}", { params: { path: { key } } }));
}

export function createWorkflow(definition: Definition, options: CallOptions = {}): Promise<WorkflowResponse> {
  return call(mcs.POST("/api/v1/workflows", { body: definition }), options);
}

export function saveDraft(
  key: string,
  definition: Definition,
  options: CallOptions = {},
): Promise<WorkflowResponse> {
  return call(mcs.PUT("/api/v1/workflows/{key}", { params: { path: { key } }, body: definition }), options);
}

export function validateDefinition(definition: Definition): Promise<ValidationResponse> {
  return call(mcs.POST("/api/v1/workflows/validate", { body: definition as Record<string, unknown> }));
}

export function publishWorkflow(key: string): Promise<VersionResponse> {
  return call(mcs.POST("/api/v1/workflows/{key}/publish", { params: { path: { key } } }));
}

export async function deleteWorkflow(key: string): Promise<void> {
  await call(mcs.DELETE("/api/v1/workflows/{key}", { params: { path: { key } } }));
}

export function setEnabled(key: string, enabled: boolean): Promise<EnabledResponse> {
  const params = { params: { path: { key } } };
  return call(
    enabled
      ? mcs.POST("/api/v1/workflows/{key}/enable", params)
      : mcs.POST("/api/v1/workflows/{key}/disable", { ...params, body: { reason: "" } }),
  );
}

/** Stop every active run of a workflow and, when it loops, the loop. */
export function stopWorkflow(key: string, reason = ""): Promise<StopWorkflowResponse> {
  return call(mcs.POST("/api/v1/workflows/{key}/stop", { params: { path: { key } }, body: { reason } }));
}
