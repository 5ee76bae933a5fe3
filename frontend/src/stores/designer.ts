// The designer's state beside the canvas: the workflow's own fields, what is selected, validation
// problems, and whether there are unsaved changes. The nodes and edges live on the X6 graph.
import { defineStore } from "pinia";
import { ref, shallowRef } from "vue";
import { ApiError } from "@/api/http";
import type { VersionResponse } from "@/api/types";
import { createWorkflow, getWorkflow, publishWorkflow, saveDraft, validateDefinition } from "@/api/workflows";
import { sortProblems, type ProblemsByPlace } from "@/definition/problems";
import type { Definition, Problem, WorkflowMeta } from "@/definition/types";

export type Selection = { type: "node" | "edge"; id: string } | null;

const NO_PROBLEMS: ProblemsByPlace = { nodes: new Map(), edges: new Map(), workflow: [] };

export function blankDefinition(key: string, name: string): Definition {
  return {
    key,
    name,
    description: "",
    tags: [],
    params: {},
    schedule: { kind: "none" },
    nodes: [],
    edges: [],
  };
}

export const useDesignerStore = defineStore("designer", () => {
  /** The key the workflow is stored under; null for a new one that was never saved. */
  const storedKey = ref<string | null>(null);
  const meta = ref<WorkflowMeta>(blankDefinition("", "") as WorkflowMeta);
  const latestVersion = ref<number | null>(null);
  const problems = shallowRef<ProblemsByPlace>(NO_PROBLEMS);
  const problemCount = ref(0);
  const dirty = ref(false);
  const selection = ref<Selection>(null);
  const busy = ref<"" | "saving" | "publishing" | "loading">("");
  /** Applies edits a side panel still holds back (it waits for typing to pause); set by that panel. */
  let pendingEdits: (() => void) | null = null;

  function holdEdits(flush: (() => void) | null): void {
    pendingEdits = flush;
  }

  function flushEdits(): void {
    pendingEdits?.();
  }

  function reset(definition: Definition, key: string | null, version: number | null): void {
    const { nodes: _n, edges: _e, ...rest } = definition;
    meta.value = rest as WorkflowMeta;
    storedKey.value = key;
    latestVersion.value = version;
    problems.value = NO_PROBLEMS;
    problemCount.value = 0;
    dirty.value = false;
    selection.value = null;
  }

  async function load(key: string): Promise<Definition> {
    busy.value = "loading";
    try {
      const workflow = await getWorkflow(key);
      const draft = workflow.draft as unknown as Definition;
      reset(draft, workflow.key, workflow.latest_version ?? null);
      return draft;
    } finally {
      busy.value = "";
    }
  }

  function showProblems(list: Problem[], definition: Definition): void {
    problems.value = sortProblems(list, definition);
    problemCount.value = list.length;
  }

  async function validate(definition: Definition): Promise<boolean> {
    const answer = await validateDefinition(definition);
    showProblems(answer.problems, definition);
    return answer.valid;
  }

  /** Save the draft (creating the workflow the first time). Invalid: problems shown, returns false. */
  async function save(definition: Definition): Promise<boolean> {
    busy.value = "saving";
    try {
      // Checked first, so an invalid draft is answered with its problems, not a failed request.
      if (!(await validate(definition))) return false;
      const answer = storedKey.value
        ? await saveDraft(storedKey.value, definition, { quiet: [422] })
        : await createWorkflow(definition, { quiet: [422] });
      storedKey.value = answer.key;
      latestVersion.value = answer.latest_version ?? null;
      showProblems([], definition);
      dirty.value = false;
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        showProblems(error.problems as Problem[], definition);
        return false;
      }
      throw error;
    } finally {
      busy.value = "";
    }
  }

  async function publish(definition: Definition): Promise<VersionResponse | null> {
    if (!(await save(definition)) || !storedKey.value) return null;
    busy.value = "publishing";
    try {
      const version = await publishWorkflow(storedKey.value);
      latestVersion.value = version.version;
      return version;
    } finally {
      busy.value = "";
    }
  }

  return {
    storedKey,
    meta,
    latestVersion,
    problems,
    problemCount,
    dirty,
    selection,
    busy,
    reset,
    holdEdits,
    flushEdits,
    load,
    validate,
    save,
    publish,
  };
});
