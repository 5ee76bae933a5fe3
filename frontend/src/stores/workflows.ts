// The workflows list: search, each workflow's last run, and the actions on a row.
import { defineStore } from "pinia";
import { ref } from "vue";
import { listRuns, startRun } from "@/api/runs";
import type { RunResponse, RunSummary, WorkflowSummary } from "@/api/types";
import { createWorkflow, deleteWorkflow, getWorkflow, setEnabled, stopWorkflow } from "@/api/workflows";
import { listWorkflows } from "@/api/workflows";
import type { Definition } from "@/definition/types";

export const useWorkflowsStore = defineStore("workflows", () => {
  const items = ref<WorkflowSummary[]>([]);
  const total = ref(0);
  const lastRuns = ref<Record<string, RunSummary>>({});
  const search = ref("");
  const loading = ref(false);

  async function load(): Promise<void> {
    loading.value = true;
    try {
      const [workflows, runs] = await Promise.all([
        listWorkflows(search.value),
        listRuns({ latest_per_workflow: true, search: search.value || undefined, limit: 1000 }),
      ]);
      items.value = workflows.items;
      total.value = workflows.total;
      lastRuns.value = Object.fromEntries(runs.items.map((run) => [run.workflow_key, run]));
    } finally {
      loading.value = false;
    }
  }

  async function toggle(key: string, enabled: boolean): Promise<void> {
    const answer = await setEnabled(key, enabled);
    const row = items.value.find((item) => item.key === key);
    if (row) row.enabled = answer.enabled;
  }

  async function start(key: string, params: Record<string, unknown>): Promise<RunResponse> {
    const run = await startRun(key, params);
    await load();
    return run;
  }

  async function stop(key: string): Promise<number> {
    const answer = await stopWorkflow(key);
    await load();
    return answer.stopped_runs.length;
  }

  /** A copy of `key`'s draft under a new key and name; not published. */
  async function duplicate(key: string, newKey: string, newName: string): Promise<void> {
    const source = await getWorkflow(key);
    const draft = { ...(source.draft as unknown as Definition), key: newKey, name: newName };
    await createWorkflow(draft);
    await load();
  }

  async function remove(key: string): Promise<void> {
    await deleteWorkflow(key);
    await load();
  }

  return { items, total, lastRuns, search, loading, load, toggle, start, stop, duplicate, remove };
});
