// Shapes, ports, colours and icons of the canvas, in one place. A node kind that is not listed here
// still works: it lands in the "other" part of the palette with the default icon and colour.
import type { Sizes } from "@/definition/convert";

export const NODE_SHAPE = "mcs-node";
export const GROUP_SHAPE = "mcs-group";
export const EDGE_SHAPE = "mcs-edge";

export const SIZES: Sizes = {
  node: { width: 196, height: 52 },
  group: { width: 320, height: 180 },
  groupPadding: { top: 40, side: 20 },
  isContainer: (kind) => CONTAINER_KINDS.has(kind),
};

export const CONTAINER_KINDS = new Set(["group"]);

export type Category = "action" | "wait" | "flow" | "other";
export const CATEGORIES: Category[] = ["action", "wait", "flow", "other"];

export const KIND_CATEGORY: Record<string, Category> = {
  http_request: "action",
  mqtt_publish: "action",
  mqtt_request: "action",
  mqtt_wait: "wait",
  http_wait: "wait",
  delay: "wait",
  wait_until: "wait",
  approval: "wait",
  condition: "flow",
  group: "flow",
  sub_workflow: "flow",
  end: "flow",
};

export const CATEGORY_COLOUR: Record<Category, string> = {
  action: "#2f7ef5",
  wait: "#d98a1c",
  flow: "#7b5bd6",
  other: "#5b6b7f",
};

export const categoryOf = (kind: string): Category => KIND_CATEGORY[kind] ?? "other";
export const colourOf = (kind: string): string => CATEGORY_COLOUR[categoryOf(kind)];

// 24x24 outline icons, drawn with a 2px stroke.
export const KIND_ICON: Record<string, string> = {
  http_request: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18",
  mqtt_publish: "M4 12l16-8-6 16-3-7zM11 13l9-9",
  mqtt_request: "M7 4v16M3 8l4-4 4 4M17 20V4M13 16l4 4 4-4",
  mqtt_wait: "M4 14h4l2 3h4l2-3h4M4 14l3-9h10l3 9v5H4z",
  http_wait: "M20 12a8 8 0 1 1-3-6.2M20 4v5h-5",
  delay: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M12 7v5l3 3",
  wait_until: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5M9 15l2 2 4-4",
  approval: "M9 12l2 2 4-4M12 3l7 3v6c0 4-3 7-7 9-4-2-7-5-7-9V6z",
  condition: "M12 3l9 9-9 9-9-9z",
  group: "M4 4h16v16H4zM8 8h8v3H8zM8 13h8v3H8z",
  sub_workflow: "M4 4h9v9H4zM11 11h9v9h-9z",
  end: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M9 9h6v6H9z",
};
export const DEFAULT_ICON = "M12 4a8 8 0 1 0 0 16a8 8 0 1 0 0-16M12 9v6M9 12h6";
export const iconOf = (kind: string): string => KIND_ICON[kind] ?? DEFAULT_ICON;

// Airflow task states and how a run view draws them.
export interface StateStyle {
  colour: string;
  icon: string;
}

const CHECK = "M5 12l5 5 9-10";
const CROSS = "M6 6l12 12M18 6L6 18";
const PLAY = "M8 5l11 7-11 7z";
const PAUSE = "M8 5v14M16 5v14";
const SKIP = "M5 5l8 7-8 7M15 5v14";
const DOTS = "M6 12h.01M12 12h.01M18 12h.01";
const RETRY = "M20 12a8 8 0 1 1-3-6.2M20 4v5h-5";

export const STATE_STYLE: Record<string, StateStyle> = {
  success: { colour: "#3a9d3a", icon: CHECK },
  failed: { colour: "#d64545", icon: CROSS },
  upstream_failed: { colour: "#e07b39", icon: CROSS },
  running: { colour: "#2f7ef5", icon: PLAY },
  deferred: { colour: "#8a5cd6", icon: PAUSE },
  awaiting_input: { colour: "#d98a1c", icon: PAUSE },
  queued: { colour: "#8c9bab", icon: DOTS },
  scheduled: { colour: "#8c9bab", icon: DOTS },
  up_for_retry: { colour: "#d9a514", icon: RETRY },
  up_for_reschedule: { colour: "#17a2b8", icon: RETRY },
  restarting: { colour: "#8a5cd6", icon: RETRY },
  skipped: { colour: "#a0a8b3", icon: SKIP },
  removed: { colour: "#a0a8b3", icon: CROSS },
};
export const NO_STATE: StateStyle = { colour: "#c8d0d9", icon: DOTS };
export const stateStyle = (state: string | null | undefined): StateStyle =>
  (state && STATE_STYLE[state]) || NO_STATE;

/** States after which a node will not change again in this try. */
export const FINISHED_STATES = new Set(["success", "failed", "upstream_failed", "skipped", "removed"]);
/** States in which a node is "where the run is now". */
export const ACTIVE_STATES = new Set([
  "running",
  "deferred",
  "awaiting_input",
  "up_for_retry",
  "up_for_reschedule",
  "restarting",
  "queued",
  "scheduled",
]);

export const COLOURS = {
  nodeFill: "#ffffff",
  nodeStroke: "#d0d7e2",
  nodeText: "#1f2d3d",
  subText: "#7a8797",
  selected: "#2f7ef5",
  problem: "#d64545",
  current: "#2f7ef5",
  groupFill: "rgba(123, 91, 214, 0.05)",
  groupStroke: "#b9a8ea",
  edge: "#8c9bab",
  edgeActive: "#2f7ef5",
  port: "#5b6b7f",
};

export const PORTS = {
  groups: {
    in: {
      position: "top",
      attrs: { circle: { r: 5, magnet: true, stroke: COLOURS.port, strokeWidth: 1, fill: "#fff" } },
    },
    out: {
      position: "bottom",
      attrs: { circle: { r: 5, magnet: true, stroke: COLOURS.port, strokeWidth: 1, fill: "#fff" } },
    },
  },
  items: [
    { id: "in", group: "in" },
    { id: "out", group: "out" },
  ],
};

/** Room for a node's title and subtitle: its width less the icon on the left and the state on the right. */
export const TEXT_WIDTH = SIZES.node.width - 78;
