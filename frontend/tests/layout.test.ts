import { describe, expect, it } from "vitest";
import { SIZES } from "@/canvas/config";
import type { CanvasModel, CanvasNode } from "@/definition/convert";
import { layoutModel } from "@/definition/layout";

function node(id: string, kind = "delay", parent?: string): CanvasNode {
  const size = kind === "group" ? SIZES.group : SIZES.node;
  return { id, x: 0, y: 0, ...size, parent, data: { key: id, kind } as CanvasNode["data"] };
}

describe("layoutModel", () => {
  it("puts each step below the one before it and parallel steps side by side", () => {
    const model: CanvasModel = {
      nodes: [node("a"), node("b"), node("c"), node("d")],
      edges: [
        { id: "1", source: "a", target: "b", data: {} },
        { id: "2", source: "a", target: "c", data: {} },
        { id: "3", source: "b", target: "d", data: {} },
        { id: "4", source: "c", target: "d", data: {} },
      ],
    };

    layoutModel(model);
    const [a, b, c, d] = model.nodes;

    expect(b.y).toBeGreaterThan(a.y + a.height);
    expect(b.y).toBe(c.y);
    expect(Math.abs(b.x - c.x)).toBeGreaterThanOrEqual(SIZES.node.width);
    expect(d.y).toBeGreaterThan(b.y + b.height);
  });

  it("sizes a group around its children", () => {
    const model: CanvasModel = {
      nodes: [node("g", "group"), node("in1", "delay", "g"), node("in2", "delay", "g"), node("after")],
      edges: [
        { id: "1", source: "in1", target: "in2", data: {} },
        { id: "2", source: "g", target: "after", data: {} },
      ],
    };

    layoutModel(model);
    const [group, first, second, after] = model.nodes;

    for (const child of [first, second]) {
      expect(child.x).toBeGreaterThanOrEqual(group.x);
      expect(child.y).toBeGreaterThanOrEqual(group.y);
      expect(child.x + child.width).toBeLessThanOrEqual(group.x + group.width);
      expect(child.y + child.height).toBeLessThanOrEqual(group.y + group.height);
    }
    expect(after.y).toBeGreaterThan(group.y + group.height - 1);
  });
});
