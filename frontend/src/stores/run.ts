// One run, live: its state and nodes (GET /runs/{id}), its graph (the version's definition), and its
// events. Events arrive by Server-Sent Events; when the stream cannot be opened the run and its
// event history are polled instead.
import { defineStore } from "pinia";
import { computed, ref, shallowRef } from "vue";
import { getRun, getVersion, runEventsUrl, runHistory, stopRun } from "@/api/runs";
import type { RunEvent, RunResponse } from "@/api/types";
import { ACTIVE_STATES, FINISHED_STATES } from "@/canvas/config";
import type { Definition } from "@/definition/types";

const ENDED = new Set(["success", "failed", "stopped"]);
const POLL_MS = 2000;
const POLL_WITH_STREAM_MS = 8000;

export type LiveMode = "stream" | "polling" | "ended";

export const useRunStore = defineStore("run", () => {
  const run = ref<RunResponse | null>(null);
  const definition = shallowRef<Definition | null>(null);
  const events = ref<RunEvent[]>([]);
  const mode = ref<LiveMode>("polling");
  const selectedKey = ref<string | null>(null);
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let refreshSoon: ReturnType<typeof setTimeout> | null = null;
  let openId = 0;

  const ended = computed(() => (run.value ? ENDED.has(run.value.state) : false));
  const states = computed(
    () => new Map((run.value?.nodes ?? []).map((node) => [node.key, node.state ?? null])),
  );
  const progress = computed(() => {
    const nodes = run.value?.nodes ?? [];
    const done = nodes.filter((node) => node.state && FINISHED_STATES.has(node.state)).length;
    return { done, total: nodes.length, percent: nodes.length ? Math.round((100 * done) / nodes.length) : 0 };
  });
  /** The nodes the run is in now. */
  const current = computed(
    () =>
      new Set(
        (run.value?.nodes ?? []).filter((n) => n.state && ACTIVE_STATES.has(n.state)).map((n) => n.key),
      ),
  );

  function addEvents(incoming: RunEvent[]): void {
    const known = new Set(events.value.map((event) => event.id));
    const fresh = incoming.filter((event) => !known.has(event.id));
    if (fresh.length) events.value = [...events.value, ...fresh].sort((a, b) => a.id - b.id);
  }

  async function refresh(): Promise<void> {
    const id = run.value?.id;
    if (!id) return;
    const answer = await getRun(id);
    if (answer.id === openId) run.value = answer;
    if (mode.value === "polling") addEvents(await runHistory(id).catch(() => []));
    if (ended.value && mode.value !== "ended") {
      mode.value = "ended";
      closeStream();
      addEvents(await runHistory(id).catch(() => []));
    }
  }

  function schedulePoll(): void {
    if (timer) clearTimeout(timer);
    if (ended.value || !openId) return;
    timer = setTimeout(
      () => void refresh().finally(schedulePoll),
      mode.value === "stream" ? POLL_WITH_STREAM_MS : POLL_MS,
    );
  }

  function closeStream(): void {
    source?.close();
    source = null;
  }

  function openStream(id: number): void {
    if (typeof EventSource === "undefined") return;
    source = new EventSource(runEventsUrl(id));
    source.onopen = () => (mode.value = ended.value ? "ended" : "stream");
    source.onmessage = (message) => {
      addEvents([JSON.parse(message.data) as RunEvent]);
      // A node or the run changed: read the run again, once for a burst of events.
      if (refreshSoon) clearTimeout(refreshSoon);
      refreshSoon = setTimeout(() => void refresh(), 250);
    };
    source.addEventListener("end", () => {
      closeStream();
      void refresh();
    });
    source.onerror = () => {
      // Closed for good (401, 404, no such route): fall back to polling. Otherwise it reconnects.
      if (source?.readyState === EventSource.CLOSED) {
        closeStream();
        if (!ended.value) mode.value = "polling";
      }
    };
  }

  async function open(id: number): Promise<void> {
    close();
    openId = id;
    const answer = await getRun(id);
    run.value = answer;
    const version = await getVersion(answer.workflow_key, answer.version);
    definition.value = version.definition as unknown as Definition;
    if (ENDED.has(answer.state)) {
      mode.value = "ended";
      addEvents(await runHistory(id).catch(() => []));
      return;
    }
    mode.value = "polling";
    openStream(id);
    schedulePoll();
  }

  function close(): void {
    closeStream();
    for (const handle of [timer, refreshSoon]) if (handle) clearTimeout(handle);
    timer = refreshSoon = null;
    openId = 0;
    run.value = null;
    definition.value = null;
    events.value = [];
    selectedKey.value = null;
  }

  async function stop(reason: string): Promise<void> {
    if (!run.value) return;
    run.value = await stopRun(run.value.id, reason);
    await refresh();
  }

  return {
    run,
    definition,
    events,
    mode,
    selectedKey,
    ended,
    states,
    progress,
    current,
    open,
    close,
    refresh,
    stop,
  };
});
