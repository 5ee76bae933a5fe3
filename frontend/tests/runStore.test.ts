import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPinia, setActivePinia } from "pinia";
import * as api from "@/api/runs";
import type { RunEvent, RunResponse } from "@/api/types";
import { useRunStore } from "@/stores/run";

vi.mock("@/api/runs", () => ({
  getRun: vi.fn(),
  getVersion: vi.fn(),
  runHistory: vi.fn(),
  stopRun: vi.fn(),
  runEventsUrl: (id: number) => `/mcs/api/v1/runs/${id}/events`,
}));

function run(state: RunResponse["state"], nodeStates: (string | null)[]): RunResponse {
  return {
    id: 7,
    workflow_key: "pump",
    version: 1,
    dag_id: "pump",
    dag_run_id: "r1",
    state,
    started_by_kind: "api",
    started_by: "admin",
    params: {},
    created_at: "2026-01-01T00:00:00Z",
    started_at: null,
    ended_at: null,
    stopped_by: null,
    stop_reason: null,
    nodes: nodeStates.map((nodeState, i) => ({
      key: `n${i}`,
      name: `n${i}`,
      kind: "delay",
      state: nodeState,
      try_number: 1,
      started_at: null,
      ended_at: null,
    })),
  };
}

function event(id: number): RunEvent {
  return {
    id,
    run_id: 7,
    workflow_key: "pump",
    dag_run_id: "r1",
    kind: "node_state",
    node_key: "n0",
    state: "success",
    message: "",
    data: {},
    created_at: "2026-01-01T00:00:00Z",
  };
}

describe("run store", () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    vi.resetAllMocks();
    vi.useFakeTimers();
    vi.mocked(api.getVersion).mockResolvedValue({ definition: { nodes: [] } } as never);
    vi.mocked(api.runHistory).mockResolvedValue([]);
  });
  afterEach(() => {
    useRunStore().close();
    vi.useRealTimers();
  });

  it("counts finished nodes as progress and marks the nodes the run is in", async () => {
    vi.mocked(api.getRun).mockResolvedValue(run("running", ["success", "skipped", "deferred", null]));
    const store = useRunStore();

    await store.open(7);

    expect(store.progress).toEqual({ done: 2, total: 4, percent: 50 });
    expect([...store.current]).toEqual(["n2"]);
  });

  it("polls the run and its events until it ends when there is no event stream", async () => {
    vi.mocked(api.getRun)
      .mockResolvedValueOnce(run("running", ["running"]))
      .mockResolvedValueOnce(run("running", ["running"]))
      .mockResolvedValue(run("success", ["success"]));
    vi.mocked(api.runHistory)
      .mockResolvedValueOnce([event(2), event(1)])
      .mockResolvedValue([event(1), event(3)]);
    const store = useRunStore();

    await store.open(7);
    await vi.advanceTimersByTimeAsync(2100);
    expect(store.events.map((e) => e.id)).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(2100);

    expect(store.run?.state).toBe("success");
    expect(store.mode).toBe("ended");
    expect(store.events.map((e) => e.id)).toEqual([1, 2, 3]);
    const calls = vi.mocked(api.getRun).mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(vi.mocked(api.getRun).mock.calls.length).toBe(calls);
  });

  it("opens an ended run without polling", async () => {
    vi.mocked(api.getRun).mockResolvedValue(run("stopped", ["failed"]));
    const store = useRunStore();

    await store.open(7);
    await vi.advanceTimersByTimeAsync(10_000);

    expect(store.mode).toBe("ended");
    expect(api.getRun).toHaveBeenCalledTimes(1);
  });
});
