import { beforeEach, describe, expect, it, vi } from "vitest";
import { createPinia, setActivePinia } from "pinia";
import * as runs from "@/api/runs";
import * as workflows from "@/api/workflows";
import { useWorkflowsStore } from "@/stores/workflows";

vi.mock("@/api/workflows", () => ({
  listWorkflows: vi.fn(),
  createWorkflow: vi.fn(),
  deleteWorkflow: vi.fn(),
  getWorkflow: vi.fn(),
  setEnabled: vi.fn(),
  stopWorkflow: vi.fn(),
}));
vi.mock("@/api/runs", () => ({ listRuns: vi.fn(), startRun: vi.fn() }));

const summary = (key: string, enabled = true) =>
  ({ key, name: key, description: "", tags: [], enabled, latest_version: 1, updated_at: "" }) as never;

describe("workflows store", () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    vi.resetAllMocks();
    vi.mocked(workflows.listWorkflows).mockResolvedValue({ items: [summary("a"), summary("b")], total: 2 });
    vi.mocked(runs.listRuns).mockResolvedValue({
      items: [{ id: 9, workflow_key: "a", state: "failed" }] as never,
      total: 1,
    });
  });

  it("loads the workflows with the last run of each, searching both alike", async () => {
    const store = useWorkflowsStore();
    store.search = "a";

    await store.load();

    expect(store.items.map((item) => item.key)).toEqual(["a", "b"]);
    expect(Object.keys(store.lastRuns)).toEqual(["a"]);
    expect(runs.listRuns).toHaveBeenCalledWith({ latest_per_workflow: true, search: "a", limit: 1000 });
  });

  it("shows the enabled state the server answers", async () => {
    vi.mocked(workflows.setEnabled).mockResolvedValue({ workflow_key: "a", enabled: false });
    const store = useWorkflowsStore();
    await store.load();

    await store.toggle("a", false);

    expect(store.items[0].enabled).toBe(false);
  });

  it("duplicates the draft under the new key and name", async () => {
    vi.mocked(workflows.getWorkflow).mockResolvedValue({
      draft: { key: "a", name: "A", nodes: [] },
    } as never);
    const store = useWorkflowsStore();

    await store.duplicate("a", "a_copy", "A (copy)");

    expect(workflows.createWorkflow).toHaveBeenCalledWith({ key: "a_copy", name: "A (copy)", nodes: [] });
  });
});
