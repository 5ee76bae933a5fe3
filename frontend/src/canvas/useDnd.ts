// Dragging a node kind from the palette onto the canvas (and into a group).
import { Dnd, type Node } from "@antv/x6";
import { watch } from "vue";
import { uniqueKey } from "@/definition/keys";
import type { NodeData } from "@/definition/types";
import { CONTAINER_KINDS, SIZES } from "./config";
import { applyNodeLook, type KindLabel } from "./look";
import { shapeOf } from "./model";
import type { GraphRef } from "./useGraph";

export function useDnd(
  graph: GraphRef,
  kindLabel: KindLabel,
  initialData: (kind: string, key: string) => NodeData,
): { startDrag: (kind: string, event: MouseEvent) => void } {
  let dnd: Dnd | null = null;

  watch(
    graph,
    (value) => {
      if (!value) return;
      dnd = new Dnd({ target: value, scaled: false, getDropNode: (node) => node.clone({ keepId: false }) });
      // Only a node dropped from the palette is put in the group under it; loaded and pasted ones
      // keep the parent they have.
      value.on("node:added", ({ node, options }: { node: Node; options: { stencil?: string } }) => {
        if (options?.stencil) embedInGroupBelow(node);
      });
    },
    { immediate: true },
  );

  function embedInGroupBelow(node: Node): void {
    const current = graph.value;
    if (!current || node.getParent()) return;
    const centre = node.getBBox().getCenter();
    const group = current
      .getNodesFromPoint(centre)
      .find((other) => other !== node && CONTAINER_KINDS.has(other.getData<NodeData>()?.kind ?? ""));
    group?.addChild(node);
  }

  function startDrag(kind: string, event: MouseEvent): void {
    const current = graph.value;
    if (!current || !dnd) return;
    const taken = current.getNodes().map((node) => node.getData<NodeData>()?.key ?? "");
    const key = uniqueKey(kind, taken);
    const size = CONTAINER_KINDS.has(kind) ? SIZES.group : SIZES.node;
    const node = current.createNode({ shape: shapeOf(kind), ...size, data: initialData(kind, key) });
    applyNodeLook(node, kindLabel);
    dnd.start(node, event);
  }

  return { startDrag };
}
