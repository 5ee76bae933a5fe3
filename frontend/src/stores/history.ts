// The run history across workflows: filters, one page of runs, and the runs the charts are drawn from.
import { defineStore } from "pinia";
import { reactive, ref } from "vue";
import { listRuns, type RunQuery } from "@/api/runs";
import type { RunState, RunSummary } from "@/api/types";

export interface HistoryFilters {
  search: string;
  state: RunState | "";
  startedByKind: string;
  /** [from, to] as ISO strings, or empty. */
  range: [string, string] | [];
}

/** How many of the newest runs (with the same filters) the charts summarise. */
export const CHART_RUNS = 200;

export const useHistoryStore = defineStore("history", () => {
  const filters = reactive<HistoryFilters>({ search: "", state: "", startedByKind: "", range: [] });
  const page = ref(1);
  const pageSize = ref(20);
  const runs = ref<RunSummary[]>([]);
  const chartRuns = ref<RunSummary[]>([]);
  const total = ref(0);
  const loading = ref(false);

  function query(): RunQuery {
    return {
      search: filters.search || undefined,
      state: filters.state || undefined,
      started_by_kind: filters.startedByKind || undefined,
      created_after: filters.range[0] || undefined,
      created_before: filters.range[1] || undefined,
    };
  }

  async function load(): Promise<void> {
    loading.value = true;
    try {
      const offset = (page.value - 1) * pageSize.value;
      const [shown, charted] = await Promise.all([
        listRuns({ ...query(), limit: pageSize.value, offset }),
        listRuns({ ...query(), limit: CHART_RUNS }),
      ]);
      runs.value = shown.items;
      total.value = shown.total;
      chartRuns.value = charted.items;
    } finally {
      loading.value = false;
    }
  }

  function reset(): void {
    Object.assign(filters, { search: "", state: "", startedByKind: "", range: [] });
    page.value = 1;
  }

  return { filters, page, pageSize, runs, chartRuns, total, loading, load, reset };
});
