// Auto-layout with dagre: top to bottom, groups as compound nodes. Pure: positions in, positions out.
import { Graph, layout as dagreLayout } from "@dagrejs/dagre";
import type { CanvasModel } from "./convert";

export interface LayoutOptions {
  rankSep: number;
  nodeSep: number;
  /** Room for a group's title above its children. */
  groupTop: number;
}

const DEFAULTS: LayoutOptions = { rankSep: 50, nodeSep: 40, groupTop: 36 };

/** Place every node of `model` (in place): top-left corners, groups sized around their children. */
export function layoutModel(model: CanvasModel, options: Partial<LayoutOptions> = {}): void {
  const { rankSep, nodeSep, groupTop } = { ...DEFAULTS, ...options };
  const graph = new Graph({ compound: true, multigraph: true });
  graph.setGraph({ rankdir: "TB", ranksep: rankSep, nodesep: nodeSep, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));

  const parents = new Set(model.nodes.map((node) => node.parent).filter(Boolean));
  for (const node of model.nodes) {
    const label = parents.has(node.id)
      ? { paddingTop: groupTop, paddingLeft: 16, paddingRight: 16, paddingBottom: 16 }
      : { width: node.width, height: node.height };
    graph.setNode(node.id, label);
  }
  for (const node of model.nodes) {
    if (node.parent && graph.hasNode(node.parent)) graph.setParent(node.id, node.parent);
  }
  // dagre cannot rank edges that touch a cluster: attach them to the cluster's own children instead.
  const childrenOf = (id: string): string[] => (graph.children(id) as string[] | undefined) ?? [];
  const leaf = (id: string, first: boolean): string => {
    const inside = childrenOf(id);
    if (inside.length === 0) return id;
    return leaf(first ? inside[0] : inside[inside.length - 1], first);
  };
  model.edges.forEach((edge, index) => {
    if (!graph.hasNode(edge.source) || !graph.hasNode(edge.target)) return;
    graph.setEdge(leaf(edge.source, false), leaf(edge.target, true), {}, String(index));
  });

  dagreLayout(graph);

  for (const node of model.nodes) {
    const placed = graph.node(node.id) as { x: number; y: number; width: number; height: number } | undefined;
    if (!placed) continue;
    if (parents.has(node.id)) {
      node.width = placed.width;
      node.height = placed.height;
    }
    node.x = Math.round(placed.x - placed.width / 2);
    node.y = Math.round(placed.y - placed.height / 2);
  }
}
