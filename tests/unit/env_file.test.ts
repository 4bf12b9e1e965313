import assert from "node:assert/strict";
import { loadEnvFile, parseEnvFile } from "../../dev/env_file.ts";

Deno.test("parseEnvFile reads KEY=VALUE lines, comments, exports and quotes", () => {
  const text = [
    "# a comment",
    "",
    "PLAIN=value",
    "export EXPORTED=yes",
    '  DOUBLE = "with spaces # not a comment"  ',
    "SINGLE='single'",
    "TRAILING=value # a comment",
    "HASH=abc#def",
    "EMPTY=",
    "EQUALS=a=b=c",
    "PLAIN=later wins",
  ].join("\r\n");
  assert.deepEqual(parseEnvFile(text), {
    PLAIN: "later wins",
    EXPORTED: "yes",
    DOUBLE: "with spaces # not a comment",
    SINGLE: "single",
    TRAILING: "value",
    HASH: "abc#def",
    EMPTY: "",
    EQUALS: "a=b=c",
  });
});

Deno.test("parseEnvFile names the line it cannot read", () => {
  assert.throws(() => parseEnvFile("A=1\nnot a setting\n"), /line 2/);
});

Deno.test("loadEnvFile fills only what the environment lacks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/.env`,
      "REAL=from-file\nEMPTY_REAL=from-file\nNEW=from-file\n",
    );
    const values = new Map([["REAL", "from-env"], ["EMPTY_REAL", ""]]);
    const env = { get: (name: string) => values.get(name), set: values.set.bind(values) };
    const applied = await loadEnvFile(`${dir}/.env`, { env });
    assert.deepEqual(applied, ["EMPTY_REAL", "NEW"]);
    assert.equal(values.get("REAL"), "from-env");
    assert.equal(values.get("EMPTY_REAL"), "from-file");
    assert.equal(values.get("NEW"), "from-file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadEnvFile sets nothing when there is no file", async () => {
  const env = {
    get: () => undefined,
    set: () => assert.fail("nothing should be set"),
  };
  assert.deepEqual(await loadEnvFile("/nonexistent/.env", { env }), []);
});
