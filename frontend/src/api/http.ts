// The one HTTP client of the app. Every call goes through here: same-origin cookie (Airflow's login),
// JSON headers, errors unwrapped into an ApiError and a toast, 401 sent to Airflow's login page.
import createClient from "openapi-fetch";
import { ElMessage } from "element-plus";
import { i18n } from "@/i18n";
import type { paths } from "./schema";

export const MCS_BASE = "/mcs";

export interface ProblemDetail {
  path: string;
  message: string;
  found?: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: ProblemDetail[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface CallOptions {
  /** Statuses the caller handles itself: no toast for them. */
  quiet?: number[];
}

/** Airflow's own login redirect: it knows which auth manager's page to show, and comes back to `next`. */
export function loginUrl(next: string = window.location.href): string {
  return `/api/v2/auth/login?next=${encodeURIComponent(next)}`;
}

let leaving = false;
export function goToLogin(): void {
  if (leaving) return;
  leaving = true;
  window.location.assign(loginUrl());
}

/** The text of an error body: FastAPI's `detail` as a string, `{message, problems}` or a list. */
export function describeError(status: number, body: unknown): ApiError {
  const t = i18n.global.t;
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return new ApiError(status, detail);
  if (detail && typeof detail === "object" && "message" in detail) {
    const { message, problems } = detail as { message: string; problems?: ProblemDetail[] };
    return new ApiError(status, String(message), problems ?? []);
  }
  if (Array.isArray(detail)) {
    const problems = detail.map((item: { loc?: unknown[]; msg?: string }) => ({
      path: (item.loc ?? []).join("."),
      message: item.msg ?? "",
    }));
    return new ApiError(status, problems.map((p) => `${p.path}: ${p.message}`).join("; "), problems);
  }
  return new ApiError(status, t("errors.status", { status }));
}

function fail(error: ApiError, options: CallOptions): never {
  if (error.status === 401) goToLogin();
  else if (!options.quiet?.includes(error.status)) {
    ElMessage({ type: "error", message: error.message, showClose: true, duration: 6000 });
  }
  throw error;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 500) };
  }
}

/** The typed client of the MCS API (paths from the OpenAPI document). Use it through `call`. */
export const mcs = createClient<paths>({ baseUrl: MCS_BASE, credentials: "same-origin" });

/** Await an openapi-fetch call: its data, or an ApiError (toasted unless quiet). */
export async function call<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
  options: CallOptions = {},
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch {
    return fail(new ApiError(0, i18n.global.t("errors.network")), options);
  }
  if (!result.response.ok) return fail(describeError(result.response.status, result.error ?? null), options);
  return result.data as T;
}

/** A call outside the typed paths: Airflow's REST API, or MCS routes added after the last refresh. */
export async function request<T>(
  method: string,
  url: string,
  init: { body?: unknown; accept?: string } & CallOptions = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: init.accept ?? "application/json",
        ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
  } catch {
    return fail(new ApiError(0, i18n.global.t("errors.network")), init);
  }
  if (!response.ok) return fail(describeError(response.status, await readBody(response)), init);
  if (response.status === 204) return undefined as T;
  return (init.accept?.startsWith("text/") ? await response.text() : await readBody(response)) as T;
}
