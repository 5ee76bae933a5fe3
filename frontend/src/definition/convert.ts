// The canvas <-> definition conversion. Pure: no X6 here, only plain objects, so it is tested
// without a browser. The canvas glue (canvas/useGraph.ts) turns CanvasModel into X6 cells.
import type { Definition, EdgeData, NodeData, WorkflowMeta } from "./types";

export interface CanvasNode {
  /** The X6 cell id: fixed for the life of the cell, unlike the node key, which can be renamed. */
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Cell id of the group holding this node. */
  parent?: string;
  data: NodeData;
}

export interface CanvasEdge {
  id: string;
  source: string;
  target: string;
  data: EdgeData;
}

export interface CanvasModel {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

export interface Sizes {
  node: { width: number; height: number };
  group: { width: number; height: number };
  /** Space between a group's border and its children; the top has room for the group's title. */
  groupPadding: { top: number; side: number };
  isContainer: (kind: string) => boolean;
}

export const nodeCellId = (key: string): string => `node:${key}`;
export const edgeCellId = (index: number, source: string, target: string): string =>
  `edge:${index}:${source}->${target}`;

function withoutUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Groups are drawn around their children: set each group's box from its children, innermost first. */
export function fitGroups(nodes: CanvasNode[], sizes: Sizes): void {
  const children = new Map<string, CanvasNode[]>();
  for (const node of nodes) {
    if (node.parent) children.set(node.parent, [...(children.get(node.parent) ?? []), node]);
  }
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const depth = (node: CanvasNode): number => {
    let level = 0;
    for (let up = node.parent; up && level < nodes.length; up = byId.get(up)?.parent) level += 1;
    return level;
  };
  const groups = nodes.filter((node) => children.has(node.id)).sort((a, b) => depth(b) - depth(a));
  const { top, side } = sizes.groupPadding;
  for (const group of groups) {
    const inside = children.get(group.id) ?? [];
    const left = Math.min(...inside.map((n) => n.x));
    const upper = Math.min(...inside.map((n) => n.y));
    const right = Math.max(...inside.map((n) => n.x + n.width));
    const bottom = Math.max(...inside.map((n) => n.y + n.height));
    group.x = left - side;
    group.y = upper - top;
    group.width = right - left + 2 * side;
    group.height = bottom - upper + top + side;
  }
}

/**
 * The canvas model of a definition, and whether it must be laid out (some node has no position).
 * Nodes keep every field but `position` and `parent` in their data, so fields the designer does not
 * know survive a round trip.
 */
export function definitionToCanvas(
  definition: Definition,
  sizes: Sizes,
): { meta: WorkflowMeta; model: CanvasModel; needsLayout: boolean } {
  const { nodes = [], edges = [], ...meta } = definition;
  const keys = new Set(nodes.map((node) => node.key));
  let needsLayout = false;
  const canvasNodes = nodes.map((node): CanvasNode => {
    const { position, parent, ...data } = node;
    if (!position) needsLayout = true;
    const size = sizes.isContainer(node.kind) ? sizes.group : sizes.node;
    return withoutUndefined({
      id: nodeCellId(node.key),
      x: position?.x ?? 0,
      y: position?.y ?? 0,
      ...size,
      parent: parent && keys.has(parent) ? nodeCellId(parent) : undefined,
      data: data as NodeData,
    });
  });
  fitGroups(canvasNodes, sizes);
  const canvasEdges = edges
    .filter((edge) => keys.has(edge.source) && keys.has(edge.target))
    .map((edge, index): CanvasEdge => {
      const { source, target, ...data } = edge;
      return {
        id: edgeCellId(index, source, target),
        source: nodeCellId(source),
        target: nodeCellId(target),
        data: data as EdgeData,
      };
    });
  return { meta: meta as WorkflowMeta, model: { nodes: canvasNodes, edges: canvasEdges }, needsLayout };
}

/** The definition drawn on the canvas: nodes in canvas order, edges between nodes that exist. */
export function canvasToDefinition(meta: WorkflowMeta, model: CanvasModel): Definition {
  const keyOf = new Map(model.nodes.map((node) => [node.id, node.data.key]));
  const nodes = model.nodes.map((node) =>
    withoutUndefined({
      ...node.data,
      parent: node.parent ? keyOf.get(node.parent) : undefined,
      position: { x: Math.round(node.x), y: Math.round(node.y) },
    }),
  );
  const edges = model.edges
    .filter((edge) => keyOf.has(edge.source) && keyOf.has(edge.target))
    .map((edge) =>
      withoutUndefined({ ...edge.data, source: keyOf.get(edge.source)!, target: keyOf.get(edge.target)! }),
    );
  return { ...meta, nodes, edges } as Definition;
}

/** The cell ids of the edges `canvasToDefinition` writes, in the same order: `edges[i]` is `ids[i]`. */
export function edgeCellIds(model: CanvasModel): string[] {
  const ids = new Set(model.nodes.map((node) => node.id));
  return model.edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map((edge) => edge.id);
}

const ACTIVE = [
  "running",
  "deferred",
  "queued",
  "scheduled",
  "up_for_retry",
  "up_for_reschedule",
  "restarting",
];
const FAILED = ["failed", "upstream_failed"];

/**
 * States of groups, which Airflow does not have as tasks: running while a child is, failed when a
 * child failed, skipped when all were, success when all finished, else not started.
 */
export function withGroupStates(
  definition: Definition,
  states: Map<string, string | null>,
): Map<string, string | null> {
  const result = new Map(states);
  const groups = definition.nodes;
  const childrenOf = (key: string) => definition.nodes.filter((node) => node.parent === key);
  const stateOf = (key: string): string | null => {
    const children = childrenOf(key);
    if (children.length === 0) return result.get(key) ?? null;
    const inside = children.map((child) => stateOf(child.key));
    if (inside.some((state) => state && ACTIVE.includes(state))) return "running";
    if (inside.some((state) => state && FAILED.includes(state))) return "failed";
    if (inside.every((state) => state === "skipped")) return "skipped";
    if (inside.every((state) => state && ["success", "skipped"].includes(state))) return "success";
    return inside.some((state) => state) ? "running" : null;
  };
  for (const group of groups) {
    if (childrenOf(group.key).length) result.set(group.key, stateOf(group.key));
  }
  return result;
}
