// Refresh src/api/openapi.json and the types generated from it (src/api/schema.d.ts).
//
//   node scripts/refresh-api.mjs                      # from a running stack on 127.0.0.1:8080
//   node scripts/refresh-api.mjs --url http://127.0.0.1:8180/mcs/openapi.json
//   node scripts/refresh-api.mjs --from-app           # no stack: ask ../.venv's python for the document
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const target = resolve(root, "src/api/openapi.json");
const args = process.argv.slice(2);

async function fromUrl(url) {
  if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url)) {
    throw new Error(`refusing ${url}: only a stack on this machine (127.0.0.1) is asked`);
  }
  const answer = await fetch(url);
  if (!answer.ok) throw new Error(`${url} answered ${answer.status}`);
  return answer.json();
}

/** The definition JSON Schema, for the tests of src/definition/jsonSchema.ts. */
function schemaFixture(python) {
  const fixture = resolve(root, "tests/fixtures/definition-schema.json");
  const code =
    "import json, sys; from mcs.definition.schema import definition_schema; " +
    "open(sys.argv[1], 'w').write(json.dumps(definition_schema(), indent=1, ensure_ascii=False) + '\\n')";
  execFileSync(python, ["-c", code, fixture], { stdio: ["ignore", "ignore", "inherit"] });
  console.log(`wrote ${fixture}`);
}

function fromApp() {
  // Airflow's logging may write to stdout, so the document goes through a file.
  const python = resolve(root, "../.venv/bin/python");
  const code =
    "import json, sys; from mcs.api.app import create_app; " +
    "open(sys.argv[1], 'w').write(json.dumps(create_app().openapi()))";
  execFileSync(python, ["-c", code, target], { stdio: ["ignore", "ignore", "inherit"] });
  schemaFixture(python);
  return JSON.parse(readFileSync(target, "utf8"));
}

const urlIndex = args.indexOf("--url");
const doc = args.includes("--from-app")
  ? fromApp()
  : await fromUrl(urlIndex >= 0 ? args[urlIndex + 1] : "http://127.0.0.1:8080/mcs/openapi.json");
writeFileSync(target, JSON.stringify(doc, null, 2) + "\n");
console.log(`wrote ${target} (${Object.keys(doc.paths).length} paths)`);
execFileSync(
  "npx",
  ["openapi-typescript", target, "--default-non-nullable=false", "-o", resolve(root, "src/api/schema.d.ts")],
  {
    cwd: root,
    stdio: "inherit",
  },
);
