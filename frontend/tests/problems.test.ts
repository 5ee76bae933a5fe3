import { describe, expect, it } from "vitest";
import { problemsAt, sortProblems, splitPath } from "@/definition/problems";
import type { Definition } from "@/definition/types";

const doc = {
  key: "w",
  name: "w",
  nodes: [
    { key: "send", kind: "mqtt_publish", config: {} },
    { key: "wait", kind: "mqtt_wait", config: {} },
  ],
  edges: [{ source: "send", target: "wait" }],
} as Definition;

describe("sortProblems", () => {
  it("puts each problem on the node, edge or workflow it names", () => {
    const sorted = sortProblems(
      [
        { path: "nodes[1].config.topic", message: "is required" },
        { path: "nodes[1].timeout_seconds", message: "too big" },
        { path: "edges[0].target", message: "no such node" },
        { path: "schedule.cron", message: "bad cron" },
        { path: "nodes[7].key", message: "beyond the list" },
      ],
      doc,
    );

    expect([...sorted.nodes.entries()]).toEqual([
      [
        "wait",
        [
          { path: "config.topic", message: "is required" },
          { path: "timeout_seconds", message: "too big" },
        ],
      ],
    ]);
    expect([...sorted.edges.entries()]).toEqual([[0, [{ path: "target", message: "no such node" }]]]);
    expect(sorted.workflow.map((problem) => problem.path)).toEqual(["schedule.cron", "nodes[7].key"]);
  });
});

describe("splitPath", () => {
  it("reads the list, index and the rest", () => {
    expect(splitPath("nodes[12].config.headers.X")).toEqual({
      list: "nodes",
      index: 12,
      rest: "config.headers.X",
    });
    expect(splitPath("edges[0]")).toEqual({ list: "edges", index: 0, rest: "" });
    expect(splitPath("params.x")).toBeNull();
  });
});

describe("problemsAt", () => {
  it("keeps the problems at a path and below it, not beside it", () => {
    const found = problemsAt(
      [
        { path: "config", message: "a" },
        { path: "config.topic", message: "b" },
        { path: "rules[0].when", message: "c" },
        { path: "configuration", message: "d" },
      ],
      "config",
    );

    expect(found.map((problem) => problem.message)).toEqual(["a", "b"]);
  });
});
