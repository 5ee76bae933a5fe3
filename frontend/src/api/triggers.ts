// A workflow's HTTP hooks: list, create, rotate the token, revoke. Tokens come back only once.
import { call, mcs } from "./http";
import type { Hook, HookAction, HookWithToken } from "./types";

export async function listHooks(key: string): Promise<Hook[]> {
  const data = await call(mcs.GET("/api/v1/workflows/{key}/hooks", { params: { path: { key } } }));
  return data.hooks;
}

export function createHook(key: string, action: HookAction, topic?: string): Promise<HookWithToken> {
  return call(
    mcs.POST("/api/v1/workflows/{key}/hooks", {
      params: { path: { key } },
      body: { action, topic: topic || null },
    }),
  );
}

export function rotateHook(key: string, id: number): Promise<HookWithToken> {
  return call(
    mcs.POST("/api/v1/workflows/{key}/hooks/{hook_id}/rotate", { params: { path: { key, hook_id: id } } }),
  );
}

export async function revokeHook(key: string, id: number): Promise<void> {
  await call(
    mcs.DELETE("/api/v1/workflows/{key}/hooks/{hook_id}", { params: { path: { key, hook_id: id } } }),
  );
}
