import { describe, expect, it } from "vitest";
import { isValidKey, toKey, uniqueKey } from "@/definition/keys";
import { fitText } from "@/canvas/fitText";

describe("node keys", () => {
  it("turns text into a key, keeping Chinese", () => {
    expect(toKey(" 读取 水泵/1 ")).toBe("读取_水泵_1");
    expect(toKey("///")).toBe("node");
  });

  it("numbers a key already taken", () => {
    expect(uniqueKey("delay", ["delay", "delay_2"])).toBe("delay_3");
    expect(uniqueKey("delay", [])).toBe("delay");
  });

  it("accepts what Airflow accepts as a task id", () => {
    expect([isValidKey("a.b-c_1"), isValidKey("水泵"), isValidKey("a b"), isValidKey("")]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});

describe("fitText", () => {
  it("keeps text that fits and shortens text that does not", () => {
    expect(fitText("delay", 100, 11)).toBe("delay");
    expect(fitText("等待设备回复等待设备回复", 60, 10)).toBe("等待设备…");
  });
});
