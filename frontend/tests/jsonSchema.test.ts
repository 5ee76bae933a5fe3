import { describe, expect, it } from "vitest";
import { describeFields, initialObject, resolve, type Field, type JsonSchema } from "@/definition/jsonSchema";
import schema from "./fixtures/definition-schema.json";

const workflow = schema.workflow as JsonSchema;
const kinds = schema.node_kinds as Record<string, { config: JsonSchema }>;

function byName(fields: Field[]): Record<string, Field> {
  return Object.fromEntries(fields.map((field) => [field.name, field]));
}

function configFields(kind: string): Record<string, Field> {
  return byName(describeFields(kinds[kind].config, kinds[kind].config));
}

describe("describeFields", () => {
  it("reads an HTTP request's config as typed fields", () => {
    const fields = configFields("http_request");

    expect(Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, field.kind]))).toEqual({
      method: "enum",
      url: "string",
      conn_id: "string",
      headers: "stringMap",
      json: "json",
      body: "text",
      fail_on_status: "boolean",
    });
    expect(fields.method.options).toEqual(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
    expect([fields.url.required, fields.conn_id.nullable]).toEqual([true, true]);
  });

  it("reads a nullable bounded integer", () => {
    const timeout = configFields("mqtt_wait").timeout_seconds;

    expect([timeout.kind, timeout.nullable, timeout.max]).toEqual(["integer", true, 7776000]);
  });

  it("follows a kind's own $defs into a list of objects", () => {
    const branches = configFields("condition").branches;

    expect(branches.kind).toBe("list");
    expect(branches.fields.map((field) => [field.name, field.required])).toEqual([
      ["name", true],
      ["when", true],
    ]);
  });

  it("draws a node's rules, params map, schedule and alert choices from the workflow schema", () => {
    const node = byName(describeFields(resolve({ $ref: "#/$defs/Node" }, workflow), workflow));
    const top = byName(describeFields(workflow, workflow));

    expect(node.rules.kind).toBe("list");
    expect(node.rules.fields.map((field) => field.name)).toEqual(["when", "action", "targets", "reason"]);
    expect(top.params.kind).toBe("map");
    expect(top.schedule.kind).toBe("object");
    expect(byName(top.alerts.fields).on).toMatchObject({
      kind: "enumList",
      options: ["run_failed", "wait_timeout"],
    });
  });

  it("leaves out the fields it is told to", () => {
    const fields = describeFields(workflow, workflow, ["nodes", "edges"]).map((field) => field.name);

    expect(fields).not.toContain("nodes");
    expect(fields).toContain("schedule");
  });

  it("gives every node kind of the server a form", () => {
    for (const [kind, info] of Object.entries(kinds)) {
      const fields = describeFields(info.config, info.config);
      expect(
        fields.every((field) => field.kind !== undefined),
        kind,
      ).toBe(true);
    }
  });
});

describe("initialObject", () => {
  it("fills defaults and empty required values", () => {
    const fields = describeFields(kinds.mqtt_publish.config, kinds.mqtt_publish.config);

    expect(initialObject(fields)).toEqual({ topic: "", payload: "", qos: 1, retain: false });
  });

  it("leaves out a required number without a default", () => {
    const fields = describeFields(kinds.delay.config, kinds.delay.config);

    expect(initialObject(fields)).toEqual({});
  });
});
