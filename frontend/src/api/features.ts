// Which optional routes this server has, read once from its OpenAPI document. Screens hide what the
// server cannot do yet (e.g. approvals) instead of failing when it is clicked.
import { request } from "./http";
import type { Approval } from "./types";

let paths: Promise<Record<string, Record<string, unknown>>> | null = null;

function loadPaths(): Promise<Record<string, Record<string, unknown>>> {
  paths ??= request<{ paths: Record<string, Record<string, unknown>> }>("GET", "/mcs/openapi.json", {
    quiet: [401, 404, 500],
  })
    .then((doc) => doc.paths)
    .catch(() => ({}));
  return paths;
}

/** The approval routes, when the server has them: list a run's approvals and answer one. */
export interface ApprovalRoutes {
  list: (runId: number) => Promise<Approval[]>;
  answer: (runId: number, nodeKey: string, answer: string, comment: string) => Promise<unknown>;
}

export async function approvalRoutes(): Promise<ApprovalRoutes | null> {
  const all = await loadPaths();
  const listPath = Object.keys(all).find(
    (path) => /\/runs\/\{run_id\}\/approvals$/.test(path) && all[path].get,
  );
  const answerPath = Object.keys(all).find(
    (path) => /\/runs\/\{run_id\}\/approvals\/\{[a-z_]+\}$/.test(path) && all[path].post,
  );
  if (!listPath || !answerPath) return null;
  const fill = (path: string, runId: number, nodeKey = "") =>
    `/mcs${path.replace("{run_id}", String(runId)).replace(/\{[a-z_]+\}$/, encodeURIComponent(nodeKey))}`;
  return {
    list: async (runId) => {
      const data = await request<{ approvals: Approval[] }>("GET", fill(listPath, runId), { quiet: [404] });
      return data.approvals;
    },
    answer: (runId, nodeKey, answer, comment) =>
      request("POST", fill(answerPath, runId, nodeKey), { body: { answer, comment } }),
  };
}
