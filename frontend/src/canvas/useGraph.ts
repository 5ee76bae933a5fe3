// The one X6 graph of a screen, held in a typed shallow ref that the other canvas composables share.
import { Graph, Selection, Snapline } from "@antv/x6";
import { onBeforeUnmount, shallowRef, type ShallowRef } from "vue";
import type { NodeData } from "@/definition/types";
import { COLOURS, CONTAINER_KINDS, EDGE_SHAPE, SIZES } from "./config";
import { registerShapes } from "./shapes";

export type GraphRef = ShallowRef<Graph | null>;

export interface GraphOptions {
  /** A run view: nothing can be moved, connected or changed; cells can still be clicked. */
  readonly?: boolean;
}

function isGroup(node: { getData: () => unknown }): boolean {
  return CONTAINER_KINDS.has((node.getData() as NodeData | undefined)?.kind ?? "");
}

function createGraph(container: HTMLElement, readonly: boolean): Graph {
  return new Graph({
    container,
    autoResize: true,
    background: { color: "#f7f9fc" },
    grid: { visible: true, size: 10, type: "dot", args: { color: "#d5dbe3" } },
    panning: { enabled: true, eventTypes: readonly ? ["leftMouseDown"] : ["rightMouseDown"] },
    mousewheel: { enabled: true, modifiers: readonly ? null : ["ctrl", "meta"], minScale: 0.2, maxScale: 2 },
    interacting: readonly ? { nodeMovable: false, edgeMovable: false, magnetConnectable: false } : true,
    embedding: readonly
      ? false
      : {
          enabled: true,
          findParent: "center",
          validate: ({ parent, child }) => isGroup(parent) && parent.id !== child.id,
        },
    connecting: {
      snap: { radius: 24 },
      allowBlank: false,
      allowLoop: false,
      allowMulti: false,
      allowNode: false,
      allowEdge: false,
      highlight: true,
      router: { name: "orth", args: { padding: 12 } },
      connector: { name: "rounded", args: { radius: 8 } },
      createEdge() {
        return this.createEdge({ shape: EDGE_SHAPE, data: { label: "" } });
      },
      validateConnection({ sourceMagnet, targetMagnet, sourceCell, targetCell }) {
        if (!sourceMagnet || !targetMagnet || sourceCell === targetCell) return false;
        return (
          sourceMagnet.getAttribute("port-group") === "out" &&
          targetMagnet.getAttribute("port-group") === "in"
        );
      },
    },
    highlighting: {
      magnetAvailable: { name: "stroke", args: { attrs: { stroke: COLOURS.selected, strokeWidth: 2 } } },
      embedding: {
        name: "stroke",
        args: { padding: 2, attrs: { stroke: COLOURS.selected, strokeWidth: 2 } },
      },
    },
  });
}

export function useGraph(options: GraphOptions = {}): {
  graph: GraphRef;
  mount: (container: HTMLElement) => Graph;
} {
  const graph: GraphRef = shallowRef(null);

  function mount(container: HTMLElement): Graph {
    registerShapes();
    const created = createGraph(container, options.readonly ?? false);
    if (!options.readonly) {
      created.use(
        new Selection({ enabled: true, multiple: true, rubberband: true, modifiers: "shift", movable: true }),
      );
      created.use(new Snapline({ enabled: true }));
      // Keep groups around their children when a child is moved inside or dropped in.
      const fit = ({ node }: { node: { getParent: () => unknown } }) => {
        const parent = node.getParent() as import("@antv/x6").Node | null;
        if (parent?.isNode()) {
          const { top, side } = SIZES.groupPadding;
          parent.fit({ padding: { top, left: side, right: side, bottom: side } });
        }
      };
      created.on("node:moved", fit);
      created.on("node:embedded", fit);
    }
    graph.value = created;
    return created;
  }

  onBeforeUnmount(() => {
    graph.value?.dispose();
    graph.value = null;
  });

  return { graph, mount };
}
