// Figures of a list of runs for the history charts: durations, and runs and success rate per day.
import type { RunSummary } from "@/api/types";

export function durationSeries(runs: RunSummary[], locale: string) {
  const oldestFirst = [...runs].reverse().filter((run) => run.duration_seconds != null);
  return {
    labels: oldestFirst.map(
      (run) => `#${run.id} ${new Date(run.created_at).toLocaleString(locale, { hour12: false })}`,
    ),
    values: oldestFirst.map((run) => Math.round((run.duration_seconds ?? 0) * 10) / 10),
    states: oldestFirst.map((run) => run.state),
  };
}

/** Per day (UTC date of creation), oldest first: finished runs, and the share that succeeded (%). */
export function dailySuccess(runs: RunSummary[]) {
  const byDay = new Map<string, { total: number; ok: number }>();
  for (const run of runs) {
    if (!["success", "failed", "stopped"].includes(run.state)) continue;
    const day = run.created_at.slice(0, 10);
    const entry = byDay.get(day) ?? { total: 0, ok: 0 };
    entry.total += 1;
    if (run.state === "success") entry.ok += 1;
    byDay.set(day, entry);
  }
  const days = [...byDay.keys()].sort();
  return {
    days,
    totals: days.map((day) => byDay.get(day)!.total),
    rates: days.map((day) => Math.round((100 * byDay.get(day)!.ok) / byDay.get(day)!.total)),
  };
}
