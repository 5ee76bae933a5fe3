// Node keys: the Airflow task ids of a workflow. Letters (Chinese too), digits, `_`, `-` and `.`.

const KEY_CHARS = /[^\p{L}\p{N}_.-]+/gu;
const VALID_KEY = /^[\p{L}\p{N}_.-]{1,100}$/u;

/** A key made from any text: spaces and other characters become `_`. */
export function toKey(text: string): string {
  const key = text
    .trim()
    .replace(KEY_CHARS, "_")
    .replace(/^_+|_+$/g, "");
  return key || "node";
}

/** `base`, or `base_2`, `base_3`... : the first one not in `taken`. */
export function uniqueKey(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const clean = toKey(base);
  if (!used.has(clean)) return clean;
  for (let n = 2; ; n += 1) {
    const candidate = `${clean}_${n}`;
    if (!used.has(candidate)) return candidate;
  }
}

export function isValidKey(key: string): boolean {
  return VALID_KEY.test(key);
}
