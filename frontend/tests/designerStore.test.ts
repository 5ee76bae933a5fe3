import { beforeEach, describe, expect, it, vi } from "vitest";
import { createPinia, setActivePinia } from "pinia";
import { ApiError } from "@/api/http";
import * as api from "@/api/workflows";
import { blankDefinition, useDesignerStore } from "@/stores/designer";

vi.mock("@/api/workflows", () => ({
  createWorkflow: vi.fn(),
  getWorkflow: vi.fn(),
  publishWorkflow: vi.fn(),
  saveDraft: vi.fn(),
  validateDefinition: vi.fn(),
}));

const definition = {
  ...blankDefinition("pump", "水泵"),
  nodes: [{ key: "send", kind: "mqtt_publish", config: { topic: "" } }],
};

function stored(key: string, version: number | null) {
  return { key, latest_version: version } as Awaited<ReturnType<typeof api.saveDraft>>;
}

describe("designer store", () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    vi.resetAllMocks();
  });

  it("shows the problems of an invalid draft without saving it", async () => {
    vi.mocked(api.validateDefinition).mockResolvedValue({
      valid: false,
      problems: [{ path: "nodes[0].config.topic", message: "is required" }],
    });
    const store = useDesignerStore();
    store.dirty = true;

    expect(await store.save(definition)).toBe(false);

    expect(api.createWorkflow).not.toHaveBeenCalled();
    expect([...store.problems.nodes.entries()]).toEqual([
      ["send", [{ path: "config.topic", message: "is required" }]],
    ]);
    expect([store.problemCount, store.dirty]).toEqual([1, true]);
  });

  it("creates a new workflow on its first save, then saves its draft", async () => {
    vi.mocked(api.validateDefinition).mockResolvedValue({ valid: true, problems: [] });
    vi.mocked(api.createWorkflow).mockResolvedValue(stored("pump", null));
    vi.mocked(api.saveDraft).mockResolvedValue(stored("pump", null));
    const store = useDesignerStore();
    store.dirty = true;

    await store.save(definition);
    await store.save(definition);

    expect(api.createWorkflow).toHaveBeenCalledTimes(1);
    expect(api.saveDraft).toHaveBeenCalledWith("pump", definition, { quiet: [422] });
    expect([store.storedKey, store.dirty]).toEqual(["pump", false]);
  });

  it("shows the problems of a draft the server refuses", async () => {
    vi.mocked(api.validateDefinition).mockResolvedValue({ valid: true, problems: [] });
    vi.mocked(api.createWorkflow).mockRejectedValue(
      new ApiError(422, "workflow `pump` is not valid", [{ path: "key", message: "already used" }]),
    );
    const store = useDesignerStore();

    expect(await store.save(definition)).toBe(false);
    expect(store.problems.workflow).toEqual([{ path: "key", message: "already used" }]);
  });

  it("publishes after saving and keeps the new version", async () => {
    vi.mocked(api.validateDefinition).mockResolvedValue({ valid: true, problems: [] });
    vi.mocked(api.saveDraft).mockResolvedValue(stored("pump", 1));
    vi.mocked(api.publishWorkflow).mockResolvedValue({ version: 2 } as Awaited<
      ReturnType<typeof api.publishWorkflow>
    >);
    const store = useDesignerStore();
    store.reset(definition, "pump", 1);

    const version = await store.publish(definition);

    expect(version?.version).toBe(2);
    expect(store.latestVersion).toBe(2);
    expect(store.busy).toBe("");
  });

  it("applies a side panel's held-back edits on demand", () => {
    const store = useDesignerStore();
    const flush = vi.fn();

    store.holdEdits(flush);
    store.flushEdits();

    expect(flush).toHaveBeenCalledTimes(1);
  });
});
