// The `type` discriminators of the installed `openai` SDK's unions (`Tool`, `ResponseInputItem`,
// ...) and the keys of `ResponseCreateParamsBase`, read from its .d.ts with the TypeScript compiler,
// so a type the SDK adds later shows up in the tests that walk these lists. Served by the loopback
// mock at GET /__oracle/sdk?name=X for test/upstream/chat-completions/support.test.ts.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";

/** The installed SDK's declarations (its `exports` map hides .d.ts paths from `require.resolve`). */
const RESPONSES_DTS = join(
  dirname(createRequire(import.meta.url).resolve("openai")),
  "resources",
  "responses",
  "responses.d.ts",
);

let program: { checker: ts.TypeChecker; file: ts.SourceFile } | undefined;

function load() {
  if (program === undefined) {
    const created = ts.createProgram([RESPONSES_DTS], {
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    });
    const file = created.getSourceFile(RESPONSES_DTS);
    if (file === undefined) throw new Error(`cannot read ${RESPONSES_DTS}`);
    program = { checker: created.getTypeChecker(), file };
  }
  return program;
}

/** The type a top-level `type X = ...` or `interface X` of the SDK's responses module declares. */
function declaredType(name: string): ts.Type {
  const { checker, file } = load();
  for (const statement of file.statements) {
    if (ts.isTypeAliasDeclaration(statement) && statement.name.text === name)
      return checker.getTypeAtLocation(statement.type);
    if (ts.isInterfaceDeclaration(statement) && statement.name.text === name)
      return checker.getTypeAtLocation(statement.name);
  }
  throw new Error(`the openai SDK declares no type ${name}`);
}

/** Every string literal the union members' `type` property can take (null and undefined left out). */
export function unionTypeTags(name: string): string[] {
  const { checker, file } = load();
  const union = declaredType(name);
  const members = union.isUnion() ? union.types : [union];
  const tags = new Set<string>();
  for (const member of members) {
    const property = member.getProperty("type");
    if (property === undefined) throw new Error(`${name}: a member has no 'type' property`);
    const type = checker.getTypeOfSymbolAtLocation(property, file);
    for (const part of type.isUnion() ? type.types : [type]) if (part.isStringLiteral()) tags.add(part.value);
  }
  return [...tags].sort();
}

/** The property names of an interface (`ResponseCreateParamsBase`). */
export function interfaceKeys(name: string): string[] {
  return declaredType(name)
    .getProperties()
    .map((property) => property.name)
    .sort();
}
