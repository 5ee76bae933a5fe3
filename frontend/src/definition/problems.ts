// Validation problems (`POST /workflows/validate`) sorted by what they concern: a node, an edge,
// or the workflow itself. Paths look like `nodes[1].config.topic`, `edges[0].target`, `schedule.cron`.
import type { Definition, Problem } from "./types";

export interface ProblemsByPlace {
  /** By node key; each problem's `path` made relative to the node (`config.topic`). */
  nodes: Map<string, Problem[]>;
  /** By edge index in the definition. */
  edges: Map<number, Problem[]>;
  workflow: Problem[];
}

const ITEM = /^(nodes|edges)\[(\d+)\](?:\.(.*))?$/;

export function splitPath(path: string): { list: "nodes" | "edges"; index: number; rest: string } | null {
  const match = ITEM.exec(path);
  if (!match) return null;
  return { list: match[1] as "nodes" | "edges", index: Number(match[2]), rest: match[3] ?? "" };
}

function add<K>(map: Map<K, Problem[]>, key: K, problem: Problem): void {
  map.set(key, [...(map.get(key) ?? []), problem]);
}

export function sortProblems(problems: Problem[], definition: Definition): ProblemsByPlace {
  const sorted: ProblemsByPlace = { nodes: new Map(), edges: new Map(), workflow: [] };
  for (const problem of problems) {
    const place = splitPath(problem.path);
    const node = place?.list === "nodes" ? definition.nodes[place.index] : undefined;
    if (place && node) {
      add(sorted.nodes, node.key, { ...problem, path: place.rest });
    } else if (place?.list === "edges" && definition.edges?.[place.index]) {
      add(sorted.edges, place.index, { ...problem, path: place.rest });
    } else {
      sorted.workflow.push(problem);
    }
  }
  return sorted;
}

/** The problems at `path` or below it, e.g. all of `config` for `config`. */
export function problemsAt(problems: Problem[] | undefined, path: string): Problem[] {
  return (problems ?? []).filter(
    (problem) =>
      problem.path === path || problem.path.startsWith(`${path}.`) || problem.path.startsWith(`${path}[`),
  );
}
