// Runs: start, read, stop, list (one workflow's or all), a run's live events.
import { call, mcs, MCS_BASE } from "./http";
import type { RunEvent, RunResponse, RunState, RunSummary, VersionDefinition } from "./types";

export function startRun(key: string, params: Record<string, unknown>): Promise<RunResponse> {
  return call(mcs.POST("/api/v1/workflows/{key}/runs", { params: { path: { key } }, body: { params } }));
}

export function getRun(id: number): Promise<RunResponse> {
  return call(mcs.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } }));
}

export function stopRun(id: number, reason = ""): Promise<RunResponse> {
  return call(mcs.POST("/api/v1/runs/{run_id}/stop", { params: { path: { run_id: id } }, body: { reason } }));
}

export interface RunQuery {
  workflow?: string;
  search?: string;
  state?: RunState;
  started_by_kind?: string;
  created_after?: string;
  created_before?: string;
  latest_per_workflow?: boolean;
  limit?: number;
  offset?: number;
}

export async function listRuns(query: RunQuery): Promise<{ items: RunSummary[]; total: number }> {
  const data = await call(mcs.GET("/api/v1/runs", { params: { query } }));
  return { items: data.runs, total: data.total_entries };
}

export function getVersion(key: string, version: number): Promise<VersionDefinition> {
  return call(mcs.GET("/api/v1/workflows/{key}/versions/{version}", { params: { path: { key, version } } }));
}

export function runEventsUrl(id: number): string {
  return `${MCS_BASE}/api/v1/runs/${id}/events`;
}

/** The events of a run so far (newest last). */
export async function runHistory(id: number): Promise<RunEvent[]> {
  const data = await call(mcs.GET("/api/v1/runs/{run_id}/history", { params: { path: { run_id: id } } }));
  return data.events;
}
