// Between X6 cells and the pure canvas model of definition/convert.ts.
import { cloneJson } from "@/utils/clone";
import type { Graph, Node, NodeMetadata } from "@antv/x6";
import type { CanvasModel, CanvasNode } from "@/definition/convert";
import type { EdgeData, NodeData } from "@/definition/types";
import { CONTAINER_KINDS, EDGE_SHAPE, GROUP_SHAPE, NODE_SHAPE } from "./config";
import { applyEdgeLook, edgeText, nodeLookAttrs, type KindLabel } from "./look";

export function shapeOf(kind: string): string {
  return CONTAINER_KINDS.has(kind) ? GROUP_SHAPE : NODE_SHAPE;
}

export function nodeMetadata(node: CanvasNode, kindLabel?: KindLabel): NodeMetadata {
  return {
    ...(kindLabel ? { attrs: nodeLookAttrs(node.data, kindLabel) } : {}),
    id: node.id,
    shape: shapeOf(node.data.kind),
    x: node.x,
    y: node.y,
    width: node.width,
    height: node.height,
    data: node.data,
  };
}

/** Replace everything on `graph` with `model`. */
export function loadModel(graph: Graph, model: CanvasModel, kindLabel: KindLabel): void {
  graph.batchUpdate(() => {
    graph.clearCells();
    // Groups first, so they sit under their children.
    const ordered = [...model.nodes].sort(
      (a, b) => Number(CONTAINER_KINDS.has(b.data.kind)) - Number(CONTAINER_KINDS.has(a.data.kind)),
    );
    // Each node is created with its final look: restyling hundreds of nodes after adding them costs seconds.
    const nodes: Node[] = ordered.map((item) => graph.createNode(nodeMetadata(item, kindLabel)));
    graph.addCell(nodes);
    const byId = new Map(nodes.map((node) => [node.id, node]));
    for (const node of model.nodes) {
      if (node.parent) byId.get(node.parent)?.addChild(byId.get(node.id) ?? null);
    }
    graph.addEdges(
      model.edges.map((edge) => ({
        id: edge.id,
        shape: EDGE_SHAPE,
        source: { cell: edge.source, port: "out" },
        target: { cell: edge.target, port: "in" },
        data: edge.data,
      })),
    );
    for (const edge of graph.getEdges()) if (edgeText(edge.getData())) applyEdgeLook(edge);
  });
}

/** The canvas model of what `graph` shows now. */
export function readModel(graph: Graph): CanvasModel {
  return {
    nodes: graph.getNodes().map((node) => {
      const { x, y } = node.getPosition();
      const { width, height } = node.getSize();
      const parent = node.getParent();
      return {
        id: node.id,
        x,
        y,
        width,
        height,
        ...(parent ? { parent: parent.id } : {}),
        data: cloneJson(node.getData<NodeData>()),
      };
    }),
    edges: graph.getEdges().map((edge) => ({
      id: edge.id,
      source: edge.getSourceCellId(),
      target: edge.getTargetCellId(),
      data: cloneJson(edge.getData<EdgeData>() ?? {}),
    })),
  };
}

/** Move nodes to the positions (and groups to the sizes) of `model`, as one undo step. */
export function applyPositions(graph: Graph, model: CanvasModel): void {
  graph.startBatch("layout");
  for (const item of model.nodes) {
    const node = graph.getCellById(item.id);
    if (!node?.isNode()) continue;
    node.setPosition(item.x, item.y, { deep: false });
    if (CONTAINER_KINDS.has(item.data.kind)) node.setSize(item.width, item.height);
  }
  graph.stopBatch("layout");
}
