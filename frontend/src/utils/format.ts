// Dates and durations as the user's locale writes them.
export function formatTime(value: string | null | undefined, locale: string): string {
  if (!value) return "—";
  return new Date(value).toLocaleString(locale, { hour12: false });
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function secondsBetween(
  start: string | null | undefined,
  end: string | null | undefined,
): number | null {
  if (!start) return null;
  const finish = end ? new Date(end).getTime() : Date.now();
  return Math.max(0, (finish - new Date(start).getTime()) / 1000);
}
