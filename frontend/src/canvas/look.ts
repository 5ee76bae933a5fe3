// How a cell looks: label, icon and colours from its data; problem marks; run states. Changes made
// here pass `ignoreHistory`, so styling is never an undo step and never marks the workflow changed.
import type { CellAttrs, Edge, Graph, Node } from "@antv/x6";
import type { EdgeData, NodeData } from "@/definition/types";
import { COLOURS, CONTAINER_KINDS, TEXT_WIDTH, colourOf, iconOf, stateStyle } from "./config";
import { fitText } from "./fitText";

export const QUIET = { ignoreHistory: true };

export type KindLabel = (kind: string) => string;

/** The attrs that show a node's data: title, subtitle, icon and colour of its kind. */
export function nodeLookAttrs(data: NodeData, kindLabel: KindLabel): CellAttrs {
  const colour = colourOf(data.kind);
  const title = data.name || data.key;
  const body = { "data-key": data.key, "data-kind": data.kind };
  if (CONTAINER_KINDS.has(data.kind)) {
    return { body, label: { text: title }, icon: { d: iconOf(data.kind), stroke: colour } };
  }
  const sub = data.name ? `${kindLabel(data.kind)} · ${data.key}` : kindLabel(data.kind);
  return {
    body,
    bar: { fill: colour },
    icon: { d: iconOf(data.kind), stroke: colour },
    label: { text: fitText(title, TEXT_WIDTH, 13) },
    sub: { text: fitText(sub, TEXT_WIDTH, 11) },
  };
}

export function applyNodeLook(node: Node, kindLabel: KindLabel): void {
  const data = node.getData<NodeData>();
  if (data) node.setAttrs(nodeLookAttrs(data, kindLabel), QUIET);
}

export function edgeText(data: EdgeData | undefined): string {
  if (!data) return "";
  return [data.branch, data.label].filter((part) => typeof part === "string" && part).join(" · ");
}

export function applyEdgeLook(edge: Edge): void {
  const text = edgeText(edge.getData<EdgeData>());
  edge.setLabels(
    text
      ? [
          {
            attrs: {
              label: { text, fontSize: 11, fill: COLOURS.nodeText },
              body: { fill: "#fff", stroke: COLOURS.nodeStroke, rx: 4, ry: 4 },
            },
          },
        ]
      : [],
    QUIET,
  );
}

/** Outline the nodes that have validation problems; `problemKeys` holds their keys. */
export function markProblems(graph: Graph, problemKeys: Set<string>, selectedId: string | null): void {
  for (const node of graph.getNodes()) {
    const key = node.getData<NodeData>()?.key;
    const group = CONTAINER_KINDS.has(node.getData<NodeData>()?.kind ?? "");
    let stroke = group ? COLOURS.groupStroke : COLOURS.nodeStroke;
    let width = group ? 1.5 : 1;
    // A node with problems stays red when selected; the selection then shows as a thicker line.
    if (node.id === selectedId) [stroke, width] = [COLOURS.selected, 2];
    if (key && problemKeys.has(key)) [stroke, width] = [COLOURS.problem, node.id === selectedId ? 3 : 2];
    node.setAttrs({ body: { stroke, strokeWidth: width } }, QUIET);
  }
}

export function markEdgeProblems(graph: Graph, problemIds: Set<string>, selectedId: string | null): void {
  for (const edge of graph.getEdges()) {
    let stroke = COLOURS.edge;
    if (problemIds.has(edge.id)) stroke = COLOURS.problem;
    if (edge.id === selectedId) stroke = COLOURS.selected;
    edge.setAttrs({ line: { stroke, strokeWidth: edge.id === selectedId ? 2 : 1.5 } }, QUIET);
  }
}

/** Colour and icon of each node's state; the nodes the run is in now get a thick blue border. */
export function applyRunStates(graph: Graph, states: Map<string, string | null>, current: Set<string>): void {
  for (const node of graph.getNodes()) {
    const data = node.getData<NodeData>();
    if (!data) continue;
    const state = states.get(data.key) ?? null;
    const style = stateStyle(state);
    const size = node.getSize();
    const group = CONTAINER_KINDS.has(data.kind);
    const cy = group ? 19 : size.height / 2;
    const isCurrent = current.has(data.key);
    node.setAttrs(
      {
        stateBg: { display: "block", fill: style.colour, cx: size.width - 20, cy },
        stateIcon: {
          display: "block",
          d: style.icon,
          transform: `translate(${size.width - 26}, ${cy - 6}) scale(0.5)`,
        },
        body: {
          "data-state": state ?? "none",
          "data-current": isCurrent ? "true" : "false",
          stroke: isCurrent ? COLOURS.current : state ? style.colour : COLOURS.nodeStroke,
          strokeWidth: isCurrent ? 3 : state ? 1.5 : 1,
          fill: group ? COLOURS.groupFill : COLOURS.nodeFill,
        },
        ...(group ? {} : { bar: { fill: state ? style.colour : colourOf(data.kind) } }),
      },
      QUIET,
    );
  }
}
