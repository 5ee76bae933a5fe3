// Undo/redo, copy/paste and keyboard shortcuts of the designer.
import { Clipboard, History, Keyboard, type Cell } from "@antv/x6";
import { ref, watch, type Ref } from "vue";
import { uniqueKey } from "@/definition/keys";
import type { NodeData } from "@/definition/types";
import type { GraphRef } from "./useGraph";

export interface Editing {
  canUndo: Ref<boolean>;
  canRedo: Ref<boolean>;
  undo: () => void;
  redo: () => void;
  copy: () => void;
  paste: () => void;
  removeSelected: () => void;
  /** Forget the undo stack, e.g. after a workflow has been loaded. */
  resetHistory: () => void;
}

export function useEditing(graph: GraphRef, onChange: () => void): Editing {
  const canUndo = ref(false);
  const canRedo = ref(false);

  function selected(): Cell[] {
    return graph.value?.getSelectedCells() ?? [];
  }

  function removeSelected(): void {
    const cells = selected();
    if (cells.length) graph.value?.removeCells(cells);
  }

  function copy(): void {
    const cells = selected();
    if (cells.length) graph.value?.copy(cells, { deep: true });
  }

  // Pasted nodes get keys of their own: a key names one Airflow task.
  function paste(): void {
    const current = graph.value;
    if (!current || current.isClipboardEmpty()) return;
    const taken = current.getNodes().map((node) => node.getData<NodeData>()?.key ?? "");
    current.startBatch("paste");
    const cells = current.paste({ offset: 32 });
    for (const cell of cells) {
      const data = cell.getData<NodeData>();
      if (!cell.isNode() || !data) continue;
      const key = uniqueKey(data.key, taken);
      taken.push(key);
      cell.setData({ ...data, key }, { overwrite: true });
    }
    current.stopBatch("paste");
    current.cleanSelection();
    current.select(cells);
  }

  function bind(): void {
    const current = graph.value;
    if (!current) return;
    current.use(
      new History({
        enabled: true,
        // Styling (attrs) and labels are drawn from the data; only real edits are undo steps.
        beforeAddCommand: (_event: string, args: unknown) => {
          const change = args as { key?: string; options?: { ignoreHistory?: boolean } };
          return !change.options?.ignoreHistory && change.key !== "attrs" && change.key !== "labels";
        },
      }),
    );
    current.use(new Clipboard({ enabled: true }));
    current.use(new Keyboard({ enabled: true, global: false }));
    current.on("history:change", () => {
      canUndo.value = current.canUndo();
      canRedo.value = current.canRedo();
      onChange();
    });
    current.bindKey(["backspace", "delete"], () => {
      removeSelected();
      return false;
    });
    current.bindKey(["ctrl+z", "meta+z"], () => (current.undo(), false));
    current.bindKey(["ctrl+shift+z", "meta+shift+z", "ctrl+y"], () => (current.redo(), false));
    current.bindKey(["ctrl+c", "meta+c"], () => (copy(), false));
    current.bindKey(["ctrl+v", "meta+v"], () => (paste(), false));
    current.bindKey(["ctrl+a", "meta+a"], () => (current.select(current.getCells()), false));
  }

  watch(graph, (value) => value && bind(), { immediate: true });

  return {
    canUndo,
    canRedo,
    undo: () => graph.value?.undo(),
    redo: () => graph.value?.redo(),
    copy,
    paste,
    removeSelected,
    resetHistory: () => {
      graph.value?.cleanHistory();
      canUndo.value = false;
      canRedo.value = false;
    },
  };
}
