// The OpenAPI document is the single source of the client: src/schema.ts must be what
// openapi-typescript makes of it now, and its typed paths must cover every operation.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import ts from "typescript";
import { parse } from "yaml";

// Tests run from build/test/, two levels below the package.
const root = fileURLToPath(new URL("../../", import.meta.url));
const schema = join(root, "src", "schema.ts");
const documentPath = join(root, "..", "..", "api", "openapi.yaml");
const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

describe("the OpenAPI document", () => {
  it("generates src/schema.ts as it is (npm run generate)", () => {
    // The generate script's own arguments, with the output sent elsewhere.
    const script: string = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.generate;
    const [command, ...args] = script.split(/\s+/);
    const out = mkdtempSync(join(tmpdir(), "hookflow-schema-"));
    try {
      const output = args.indexOf("-o") + 1;
      assert.ok(output > 0, `the generate script ${JSON.stringify(script)} names no -o output`);
      args[output] = join(out, "schema.ts");
      execFileSync(join(root, "node_modules", ".bin", command!), args, { cwd: root, stdio: "pipe" });
      const fresh = readFileSync(join(out, "schema.ts"), "utf8");
      assert.ok(fresh === readFileSync(schema, "utf8"), "src/schema.ts is not what api/openapi.yaml generates: run `npm run generate`");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("has every path and method typed in paths, and every operationId in operations", () => {
    const doc = parse(readFileSync(documentPath, "utf8")) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const documented = new Set<string>();
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of methods) {
        const op = item[method];
        if (op) {
          documented.add(`${method.toUpperCase()} ${path}`);
          if (op.operationId) operationIds.add(op.operationId);
        }
      }
    }
    assert.ok(documented.size > 0, "no operations read from the document");

    const program = ts.createProgram([schema], { strict: true, noEmit: true });
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(schema)!)!;
    const exported = (name: string) => checker.getDeclaredTypeOfSymbol(checker.getExportsOfModule(moduleSymbol).find((s) => s.name === name)!);
    const typed = new Set<string>();
    for (const path of exported("paths").getProperties()) {
      const item = checker.getTypeOfSymbol(path);
      for (const method of methods) {
        const member = item.getProperty(method);
        // An operation the path lacks is typed `method?: never`.
        if (member && !(checker.getNonNullableType(checker.getTypeOfSymbol(member)).flags & ts.TypeFlags.Never)) {
          typed.add(`${method.toUpperCase()} ${path.name}`);
        }
      }
    }
    assert.deepEqual([...typed].sort(), [...documented].sort());
    const typedOperations = new Set(exported("operations").getProperties().map((s) => s.name));
    assert.deepEqual([...operationIds].filter((id) => !typedOperations.has(id)), []);
  });
});
