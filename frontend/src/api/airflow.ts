// The few routes of Airflow's own REST API the run view reads: a step's log and its output (XCom).
import { request } from "./http";

const taskUrl = (dagId: string, runId: string, taskId: string) =>
  `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${encodeURIComponent(taskId)}`;

interface LogLine {
  event?: string;
  timestamp?: string;
  level?: string;
  logger?: string;
  [field: string]: unknown;
}

function lineText(line: LogLine | string): string {
  if (typeof line === "string") return line;
  const { event = "", timestamp = "", level = "" } = line;
  return [timestamp.slice(11, 23), level.toUpperCase(), event].filter(Boolean).join(" ");
}

/** The log of one try of a step, as text. */
export async function taskLog(
  dagId: string,
  runId: string,
  taskId: string,
  tryNumber: number,
): Promise<string> {
  const answer = await request<{ content: (LogLine | string)[] | string }>(
    "GET",
    `${taskUrl(dagId, runId, taskId)}/logs/${tryNumber}?full_content=true`,
    { quiet: [404] },
  );
  return Array.isArray(answer.content) ? answer.content.map(lineText).join("\n") : String(answer.content);
}

/** What a step returned (its `return_value` XCom), or undefined while it has none. */
export async function taskOutput(dagId: string, runId: string, taskId: string): Promise<unknown> {
  const answer = await request<{ value: unknown }>(
    "GET",
    `${taskUrl(dagId, runId, taskId)}/xcomEntries/return_value?deserialize=true&stringify=false`,
    { quiet: [404] },
  );
  return answer.value;
}
