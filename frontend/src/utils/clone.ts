/** A deep copy of JSON data; works on Vue's reactive proxies, which structuredClone refuses. */
export function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
