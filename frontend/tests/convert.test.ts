import { describe, expect, it } from "vitest";
import { SIZES } from "@/canvas/config";
import {
  canvasToDefinition,
  definitionToCanvas,
  edgeCellIds,
  nodeCellId,
  withGroupStates,
} from "@/definition/convert";
import type { Definition } from "@/definition/types";

function definition(): Definition {
  return {
    key: "pump_check",
    name: "水泵巡检",
    description: "",
    params: { device_id: { type: "string", default: "pump-1" } },
    schedule: { kind: "none" },
    nodes: [
      {
        key: "send",
        kind: "mqtt_publish",
        name: "发送",
        config: { topic: "d/1/cmd" },
        position: { x: 100, y: 40 },
      },
      { key: "steps", kind: "group", name: "步骤", config: {}, position: { x: 0, y: 0 } },
      {
        key: "wait",
        kind: "mqtt_wait",
        config: { topic: "d/1/reply" },
        parent: "steps",
        rules: [{ when: "output.payload.ok", action: "skip", targets: ["report"] }],
        position: { x: 100, y: 200 },
      },
      {
        key: "report",
        kind: "http_request",
        config: { url: "http://x/y" },
        parent: "steps",
        position: { x: 100, y: 300 },
      },
    ],
    edges: [
      { source: "send", target: "steps", label: "" },
      { source: "wait", target: "report", label: "", branch: "timeout" },
    ],
  } as Definition;
}

describe("definitionToCanvas", () => {
  it("keeps every node field but position and parent in the cell data", () => {
    const { model } = definitionToCanvas(definition(), SIZES);

    expect(model.nodes[2].data).toEqual({
      key: "wait",
      kind: "mqtt_wait",
      config: { topic: "d/1/reply" },
      rules: [{ when: "output.payload.ok", action: "skip", targets: ["report"] }],
    });
  });

  it("points children at their group's cell", () => {
    const { model } = definitionToCanvas(definition(), SIZES);

    expect(model.nodes.map((node) => node.parent)).toEqual([
      undefined,
      undefined,
      "node:steps",
      "node:steps",
    ]);
  });

  it("draws a group around its children with room for its title", () => {
    const { model } = definitionToCanvas(definition(), SIZES);
    const group = model.nodes[1];

    expect([group.x, group.y, group.width, group.height]).toEqual([
      100 - SIZES.groupPadding.side,
      200 - SIZES.groupPadding.top,
      SIZES.node.width + 2 * SIZES.groupPadding.side,
      100 + SIZES.node.height + SIZES.groupPadding.top + SIZES.groupPadding.side,
    ]);
  });

  it("asks for a layout only when a node has no position", () => {
    const placed = definitionToCanvas(definition(), SIZES);
    const unplaced = definition();
    delete unplaced.nodes[0].position;

    expect(placed.needsLayout).toBe(false);
    expect(definitionToCanvas(unplaced, SIZES).needsLayout).toBe(true);
  });

  it("leaves out edges to nodes that do not exist", () => {
    const doc = definition();
    doc.edges!.push({ source: "send", target: "ghost" });

    expect(definitionToCanvas(doc, SIZES).model.edges.map((edge) => edge.target)).toEqual([
      nodeCellId("steps"),
      nodeCellId("report"),
    ]);
  });
});

describe("canvasToDefinition", () => {
  it("gives back the same definition it was drawn from", () => {
    const doc = definition();
    const { meta, model } = definitionToCanvas(doc, SIZES);
    const back = canvasToDefinition(meta, model);

    expect(back.nodes.filter((node) => node.kind !== "group")).toEqual(
      doc.nodes.filter((node) => node.kind !== "group"),
    );
    expect(back.edges).toEqual(doc.edges);
    expect(back.params).toEqual(doc.params);
  });

  it("writes rounded positions and the keys of renamed nodes", () => {
    const { meta, model } = definitionToCanvas(definition(), SIZES);
    model.nodes[0].x = 12.6;
    model.nodes[0].data = { ...model.nodes[0].data, key: "send_command" };

    const back = canvasToDefinition(meta, model);

    expect(back.nodes[0].position).toEqual({ x: 13, y: 40 });
    expect(back.edges![0]).toEqual({ source: "send_command", target: "steps", label: "" });
  });

  it("drops edges whose node was deleted, and says which edge cells it wrote", () => {
    const { meta, model } = definitionToCanvas(definition(), SIZES);
    model.nodes = model.nodes.filter((node) => node.data.key !== "report");

    expect(canvasToDefinition(meta, model).edges).toEqual([{ source: "send", target: "steps", label: "" }]);
    expect(edgeCellIds(model)).toEqual([model.edges[0].id]);
  });
});

describe("withGroupStates", () => {
  const doc = {
    key: "w",
    name: "w",
    nodes: [
      { key: "g", kind: "group", config: {} },
      { key: "a", kind: "delay", config: {}, parent: "g" },
      { key: "b", kind: "delay", config: {}, parent: "g" },
    ],
  } as Definition;

  it("gives a group the state of its children", () => {
    const of = (a: string | null, b: string | null) =>
      withGroupStates(
        doc,
        new Map([
          ["a", a],
          ["b", b],
        ]),
      ).get("g");

    expect([
      of("success", "deferred"),
      of("success", "failed"),
      of("success", "skipped"),
      of("skipped", "skipped"),
      of(null, null),
    ]).toEqual(["running", "failed", "success", "skipped", null]);
  });
});
