// The `type` discriminators of the installed `openai` SDK's unions (`Tool`, `ResponseInputItem`,
// ...) and the keys of `ResponseCreateParamsBase`, read from its responses .d.ts with the
// TypeScript parser, so a type the SDK adds later shows up in the tests that walk these lists.
// Served by the loopback mock at GET /__oracle/sdk for test/upstream/chat-completions/support.test.ts.

import { readFileSync } from "node:fs";
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

type Declaration = ts.InterfaceDeclaration | ts.TypeAliasDeclaration;

let declarations: Map<string, Declaration> | undefined;

/**
 * Every interface and type alias of the file by qualified name (`Tool.Mcp`). Parsing one file is
 * enough (every member of these unions is declared in it) and takes milliseconds; a type-checked
 * program of the whole SDK takes tens of seconds.
 */
function load(): Map<string, Declaration> {
  if (declarations !== undefined) return declarations;
  const file = ts.createSourceFile(RESPONSES_DTS, readFileSync(RESPONSES_DTS, "utf8"), ts.ScriptTarget.Latest, true);
  const found = new Map<string, Declaration>();
  const visit = (statements: ts.NodeArray<ts.Statement>, prefix: string) => {
    for (const statement of statements) {
      if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) {
        const name = `${prefix}${statement.name.text}`;
        // Interfaces re-opened in a namespace merge: keep the first, which holds `type`.
        if (!found.has(name)) found.set(name, statement);
      } else if (ts.isModuleDeclaration(statement) && statement.body && ts.isModuleBlock(statement.body)) {
        visit(statement.body.statements, `${prefix}${statement.name.text}.`);
      }
    }
  };
  visit(file.statements, "");
  declarations = found;
  return found;
}

function declaration(name: string): Declaration {
  const found = load().get(name);
  if (found === undefined) throw new Error(`the openai SDK's responses module declares no ${name}`);
  return found;
}

/** String literals of a type node (`'a' | 'b' | null` -> a, b). */
function literals(node: ts.TypeNode | undefined): string[] {
  if (node === undefined) return [];
  if (ts.isUnionTypeNode(node)) return node.types.flatMap(literals);
  if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) return [node.literal.text];
  return [];
}

function tagsOf(name: string): string[] {
  const found = declaration(name);
  if (ts.isTypeAliasDeclaration(found)) {
    const members = ts.isUnionTypeNode(found.type) ? found.type.types : [found.type];
    return members.flatMap((member) => {
      if (!ts.isTypeReferenceNode(member)) throw new Error(`${name}: a member is not a named type`);
      return tagsOf(member.typeName.getText(found.getSourceFile()));
    });
  }
  const property = found.members.find(
    (member): member is ts.PropertySignature =>
      ts.isPropertySignature(member) && member.name.getText(found.getSourceFile()) === "type",
  );
  const tags = literals(property?.type);
  if (tags.length === 0) throw new Error(`${name} has no string-literal 'type'`);
  return tags;
}

/** Every string literal the union members' `type` property can take (null and undefined left out). */
export function unionTypeTags(name: string): string[] {
  return [...new Set(tagsOf(name))].sort();
}

/** The property names of an interface (`ResponseCreateParamsBase`). */
export function interfaceKeys(name: string): string[] {
  const found = declaration(name);
  if (!ts.isInterfaceDeclaration(found)) throw new Error(`${name} is not an interface`);
  return found.members
    .filter(ts.isPropertySignature)
    .map((member) => member.name.getText(found.getSourceFile()))
    .sort();
}
