// The designer's canvas bound to its store: loading a definition, reading it back, tracking the
// selection and unsaved changes, validating as the user draws and marking the nodes with problems.
import type { Cell, Node } from "@antv/x6";
import { watch } from "vue";
import { canvasToDefinition, definitionToCanvas, edgeCellIds } from "@/definition/convert";
import { layoutModel } from "@/definition/layout";
import type { Definition, NodeData } from "@/definition/types";
import { useDesignerStore } from "@/stores/designer";
import { SIZES } from "./config";
import { applyEdgeLook, applyNodeLook, markEdgeProblems, markProblems, type KindLabel } from "./look";
import { loadModel, readModel } from "./model";
import type { GraphRef } from "./useGraph";
import { fitWhenSettled } from "./useLayout";

const VALIDATE_AFTER_MS = 700;

export function useDesigner(graph: GraphRef, kindLabel: KindLabel, afterLoad: () => void) {
  const store = useDesignerStore();
  let validateTimer: ReturnType<typeof setTimeout> | null = null;
  let edgeIds: string[] = [];

  function currentDefinition(): Definition {
    const model = readModel(graph.value!);
    edgeIds = edgeCellIds(model);
    return canvasToDefinition(store.meta, model);
  }

  function showDefinition(definition: Definition): void {
    if (!graph.value) return;
    const { model, needsLayout } = definitionToCanvas(definition, SIZES);
    if (needsLayout) layoutModel(model);
    // Loading is not an edit: no undo steps for it (recording 300 nodes would also cost seconds).
    graph.value.disableHistory();
    loadModel(graph.value, model, kindLabel);
    graph.value.enableHistory();
    edgeIds = edgeCellIds(model);
    afterLoad();
    store.dirty = false;
    fitWhenSettled(graph);
  }

  function paintProblems(): void {
    if (!graph.value) return;
    const selected = store.selection?.id ?? null;
    markProblems(graph.value, new Set(store.problems.nodes.keys()), selected);
    const bad = new Set([...store.problems.edges.keys()].map((index) => edgeIds[index]).filter(Boolean));
    markEdgeProblems(graph.value, bad, selected);
  }

  function validateSoon(): void {
    if (validateTimer) clearTimeout(validateTimer);
    validateTimer = setTimeout(() => {
      if (!graph.value) return;
      const definition = currentDefinition();
      if (definition.nodes.length) void store.validate(definition).catch(() => undefined);
    }, VALIDATE_AFTER_MS);
  }

  function changed(): void {
    store.dirty = true;
    validateSoon();
  }

  function select(cell: Cell | null): void {
    store.selection = cell ? { type: cell.isNode() ? "node" : "edge", id: cell.id } : null;
  }

  function bind(): void {
    const current = graph.value;
    if (!current) return;
    current.on("cell:click", ({ cell }: { cell: Cell }) => select(cell));
    current.on("blank:click", () => select(null));
    current.on("cell:removed", ({ cell }: { cell: Cell }) => {
      if (store.selection?.id === cell.id) select(null);
    });
    current.on("node:added", ({ node, options }: { node: Node; options: { stencil?: string } }) => {
      if (options?.stencil) select(node);
    });
    current.on("node:change:data", ({ node }: { node: Node }) => applyNodeLook(node, kindLabel));
    current.on("edge:change:data", ({ edge }) => applyEdgeLook(edge));
    current.on("edge:connected", ({ edge }) => select(edge));
  }

  watch(graph, (value) => value && bind(), { immediate: true });
  watch(() => [store.problems, store.selection], paintProblems);

  /** The cell's data by id, for the side panel. */
  function dataOf<T = NodeData>(id: string): T | null {
    return (graph.value?.getCellById(id)?.getData<T>() as T | undefined) ?? null;
  }

  function setData(id: string, data: Record<string, unknown>): void {
    graph.value?.getCellById(id)?.setData(data, { overwrite: true });
  }

  function nodeKeys(): string[] {
    return (graph.value?.getNodes() ?? []).map((node) => node.getData<NodeData>()?.key ?? "").filter(Boolean);
  }

  function selectKey(key: string): void {
    const node = graph.value?.getNodes().find((item) => item.getData<NodeData>()?.key === key);
    if (!node || !graph.value) return;
    graph.value.cleanSelection();
    graph.value.select(node);
    graph.value.centerCell(node);
    select(node);
  }

  function edgeProblems(id: string) {
    const index = edgeIds.indexOf(id);
    return index >= 0 ? (store.problems.edges.get(index) ?? []) : [];
  }

  return {
    edgeProblems,
    currentDefinition,
    showDefinition,
    changed,
    validateSoon,
    dataOf,
    setData,
    nodeKeys,
    selectKey,
  };
}
