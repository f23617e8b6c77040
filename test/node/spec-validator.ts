// Validates objects against OpenAI's OpenAPI document (test/fixtures/openapi, with its documented
// extensions) using Ajv, on the Node side: workerd forbids the code generation Ajv compiles to.
// Served by the loopback mock at POST /__oracle/validate for the schema-conformance tests.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";

type Json = Record<string, unknown>;

const OPENAPI = join(import.meta.dirname, "..", "fixtures", "openapi");

interface Extensions {
  patches: { path: string; value: unknown }[];
  schemas: Record<string, unknown>;
}

/** Sets `value` at a JSON pointer; a final `-` appends to an array (RFC 6902 style). */
function setPointer(document: Json, pointer: string, value: unknown): void {
  const keys = pointer.split("/").slice(1);
  const last = keys.pop() as string;
  let node: unknown = document;
  for (const key of keys) node = (node as Json)[key];
  if (Array.isArray(node) && last === "-") node.push(value);
  else if (node !== null && typeof node === "object") (node as Json)[last] = value;
  else throw new Error(`openapi-extensions.json: no parent for ${pointer}`);
}

/** The spec with the extensions applied, as a schema Ajv can reference (`spec#/components/schemas/X`). */
function loadSpec(): Json {
  const spec = JSON.parse(readFileSync(join(OPENAPI, "openapi-responses-subset.json"), "utf8")) as Json;
  const extensions = JSON.parse(readFileSync(join(OPENAPI, "openapi-extensions.json"), "utf8")) as Extensions;
  for (const patch of extensions.patches) setPointer(spec, patch.path, patch.value);
  const schemas = (spec.components as Json).schemas as Json;
  Object.assign(schemas, extensions.schemas);
  return spec;
}

class SpecValidator {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  readonly #schemas: Json;
  /** Stream event type -> the schema of that event (the `ResponseStreamEvent` union, by `type`). */
  readonly #eventSchemas = new Map<string, string>();
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor() {
    const spec = loadSpec();
    for (const format of ["unixtime", "uri", "float"]) this.#ajv.addFormat(format, true);
    this.#ajv.addSchema({ $id: "spec", components: spec.components });
    this.#schemas = (spec.components as Json).schemas as Json;
    for (const member of (this.#schemas.ResponseStreamEvent as { anyOf: { $ref: string }[] }).anyOf) {
      const name = member.$ref.split("/").pop() as string;
      const type = ((this.#schemas[name] as Json).properties as Json).type as { enum: string[] };
      this.#eventSchemas.set(type.enum[0] as string, name);
    }
  }

  #validator(name: string): ValidateFunction {
    let validate = this.#compiled.get(name);
    if (validate === undefined) {
      if (!(name in this.#schemas)) throw new Error(`no schema ${name}`);
      validate = this.#ajv.getSchema(`spec#/components/schemas/${name}`) as ValidateFunction;
      this.#compiled.set(name, validate);
    }
    return validate;
  }

  /** Errors of `value` against schema `name` (`ResponseStreamEvent` picks the event's own schema). */
  validate(name: string, value: unknown): string[] {
    let schema = name;
    if (name === "ResponseStreamEvent") {
      const type = (value as Json | null)?.type;
      const own = typeof type === "string" ? this.#eventSchemas.get(type) : undefined;
      if (own === undefined) return [`stream event type ${JSON.stringify(type)} is not in the spec`];
      schema = own;
    }
    const validate = this.#validator(schema);
    return validate(value) ? [] : describe(validate.errors ?? []);
  }
}

/**
 * Ajv reports every branch of a failed `oneOf`/`anyOf`. Branches whose `type` discriminator did not
 * match are noise: only the errors of the branches that matched by type are kept.
 */
function describe(errors: ErrorObject[]): string[] {
  const branchOf = (error: ErrorObject) => /#\/components\/schemas\/([^/]+)/.exec(error.schemaPath)?.[1];
  const mismatched = new Set(
    errors.filter((error) => /\/properties\/type\/enum$/.test(error.schemaPath)).map(branchOf),
  );
  const kept = errors.filter((error) => !mismatched.has(branchOf(error)));
  return (kept.length > 0 ? kept : errors).map(
    (error) => `${error.instancePath || "/"} ${error.message ?? "invalid"} (${error.schemaPath})`,
  );
}

let validator: SpecValidator | undefined;

/** Validates each of `objects` against `schema`; the spec is compiled once, on first use. */
export function validateObjects(schema: string, objects: unknown[]): { checked: number; failures: Json[] } {
  validator ??= new SpecValidator();
  const failures: Json[] = [];
  objects.forEach((object, index) => {
    const errors = (validator as SpecValidator).validate(schema, object);
    if (errors.length > 0)
      failures.push({ index, type: (object as Json | null)?.type ?? null, errors: errors.slice(0, 12) });
  });
  return { checked: objects.length, failures };
}
