// The X6 shapes of MCS: a node card, a group container and an edge. Registered once per page.
import { Graph } from "@antv/x6";
import { COLOURS, EDGE_SHAPE, GROUP_SHAPE, NODE_SHAPE, PORTS, SIZES } from "./config";

let registered = false;

const ICON = { fill: "none", strokeWidth: 2, strokeLinecap: "round", strokeLinejoin: "round" };

export function registerShapes(): void {
  if (registered) return;
  registered = true;

  Graph.registerNode(NODE_SHAPE, {
    inherit: "rect",
    ...SIZES.node,
    markup: [
      { tagName: "rect", selector: "body" },
      { tagName: "rect", selector: "bar" },
      { tagName: "path", selector: "icon" },
      { tagName: "text", selector: "label" },
      { tagName: "text", selector: "sub" },
      { tagName: "circle", selector: "stateBg" },
      { tagName: "path", selector: "stateIcon" },
    ],
    attrs: {
      body: {
        refWidth: "100%",
        refHeight: "100%",
        rx: 8,
        ry: 8,
        fill: COLOURS.nodeFill,
        stroke: COLOURS.nodeStroke,
        strokeWidth: 1,
      },
      bar: { x: 0, y: 0, width: 5, refHeight: "100%", rx: 2, ry: 2 },
      icon: { ...ICON, transform: "translate(14, 15) scale(0.9)" },
      label: {
        refX: 48,
        refY: 18,
        fontSize: 13,
        fontWeight: 600,
        fill: COLOURS.nodeText,
        textAnchor: "start",
        textVerticalAnchor: "middle",
      },
      sub: {
        refX: 48,
        refY: 36,
        fontSize: 11,
        fill: COLOURS.subText,
        textAnchor: "start",
        textVerticalAnchor: "middle",
      },
      stateBg: { r: 10, display: "none" },
      stateIcon: { ...ICON, stroke: "#fff", strokeWidth: 3, display: "none" },
    },
    ports: PORTS,
  });

  Graph.registerNode(GROUP_SHAPE, {
    inherit: "rect",
    ...SIZES.group,
    zIndex: -1,
    markup: [
      { tagName: "rect", selector: "body" },
      { tagName: "path", selector: "icon" },
      { tagName: "text", selector: "label" },
      { tagName: "circle", selector: "stateBg" },
      { tagName: "path", selector: "stateIcon" },
    ],
    attrs: {
      body: {
        refWidth: "100%",
        refHeight: "100%",
        rx: 10,
        ry: 10,
        fill: COLOURS.groupFill,
        stroke: COLOURS.groupStroke,
        strokeWidth: 1.5,
        strokeDasharray: "6 4",
      },
      icon: { ...ICON, transform: "translate(12, 9) scale(0.75)" },
      label: {
        refX: 38,
        refY: 19,
        fontSize: 13,
        fontWeight: 600,
        fill: COLOURS.nodeText,
        textAnchor: "start",
        textVerticalAnchor: "middle",
      },
      stateBg: { r: 10, display: "none" },
      stateIcon: { ...ICON, stroke: "#fff", strokeWidth: 3, display: "none" },
    },
    ports: PORTS,
  });

  Graph.registerEdge(EDGE_SHAPE, {
    inherit: "edge",
    attrs: {
      line: {
        stroke: COLOURS.edge,
        strokeWidth: 1.5,
        targetMarker: { name: "block", width: 8, height: 6 },
      },
    },
    router: { name: "orth", args: { padding: 12 } },
    connector: { name: "rounded", args: { radius: 8 } },
    zIndex: 0,
  });
}
