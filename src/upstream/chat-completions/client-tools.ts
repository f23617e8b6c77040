// Tools the client runs itself (`local_shell`, `shell`, `apply_patch`) as chat functions: the
// function each becomes, the item a call of it comes back as, and the way their call and output
// items go back to a chat server in history. Used by the tool set, the messages and the translator.

import type { JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";

export type ClientToolType = "local_shell" | "shell" | "apply_patch";

export interface ClientTool {
  /** The chat function's description and parameters. */
  description: string;
  parameters: JsonObject;
  /** The item a call comes back as, and the prefix of its id. */
  itemType: string;
  idPrefix: string;
  /** The output item type that answers a call. */
  outputType: string;
  /** The item for a call with these (parsed) arguments. */
  item(args: JsonObject, ids: { id: string; callId: string }): JsonObject;
  /** A call item of history as the function's arguments. */
  argumentsOf(item: JsonObject): JsonObject;
  /** An output item of history as the `tool` message's text. */
  outputText(item: JsonObject): string;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === "string") : [];
const numberOr = (value: unknown): number | null => (typeof value === "number" ? value : null);
const stringOr = (value: unknown): string | null => (typeof value === "string" ? value : null);
const objectOf = (value: unknown): JsonObject => (isPlainObject(value) ? value : {});

const PATCH_OPERATIONS = ["create_file", "update_file", "delete_file"];

export const CLIENT_TOOLS: Readonly<Record<ClientToolType, ClientTool>> = {
  local_shell: {
    description: "Runs a command on the user's machine and returns its output.",
    parameters: {
      type: "object",
      properties: {
        command: { type: "array", items: { type: "string" }, description: "The program and its arguments." },
        working_directory: { type: "string" },
        timeout_ms: { type: "integer" },
        env: { type: "object", additionalProperties: { type: "string" } },
        user: { type: "string" },
      },
      required: ["command"],
    },
    itemType: "local_shell_call",
    idPrefix: "lsh",
    outputType: "local_shell_call_output",
    item: (args, { id, callId }) => ({
      id,
      type: "local_shell_call",
      call_id: callId,
      status: "completed",
      action: {
        type: "exec",
        command: strings(args.command),
        env: objectOf(args.env),
        timeout_ms: numberOr(args.timeout_ms),
        user: stringOr(args.user),
        working_directory: stringOr(args.working_directory),
      },
    }),
    argumentsOf: (item) => {
      const { type: _type, ...action } = objectOf(item.action);
      return action;
    },
    outputText: (item) => stringOr(item.output) ?? "",
  },
  shell: {
    description: "Runs shell commands on the user's machine and returns their output.",
    parameters: {
      type: "object",
      properties: {
        commands: { type: "array", items: { type: "string" }, description: "Commands to run, in order." },
        timeout_ms: { type: "integer" },
        max_output_length: { type: "integer" },
      },
      required: ["commands"],
    },
    itemType: "shell_call",
    idPrefix: "sh",
    outputType: "shell_call_output",
    item: (args, { id, callId }) => ({
      id,
      type: "shell_call",
      call_id: callId,
      status: "completed",
      environment: { type: "local" },
      action: {
        commands: strings(args.commands),
        max_output_length: numberOr(args.max_output_length),
        timeout_ms: numberOr(args.timeout_ms),
      },
    }),
    argumentsOf: (item) => objectOf(item.action),
    outputText: (item) =>
      (Array.isArray(item.output) ? item.output : [])
        .filter(isPlainObject)
        .map((result) => {
          const outcome = objectOf(result.outcome);
          const end =
            outcome.type === "timeout"
              ? "timed out"
              : `exit code ${typeof outcome.exit_code === "number" ? outcome.exit_code : "?"}`;
          return `stdout:\n${stringOr(result.stdout) ?? ""}\nstderr:\n${stringOr(result.stderr) ?? ""}\n(${end})`;
        })
        .join("\n\n"),
  },
  apply_patch: {
    description:
      "Creates, updates or deletes a file on the user's machine. `diff` is the new file's content (create_file) or a V4A diff of the changes (update_file).",
    parameters: {
      type: "object",
      properties: {
        type: { type: "string", enum: PATCH_OPERATIONS },
        path: { type: "string" },
        diff: { type: "string" },
      },
      required: ["type", "path"],
    },
    itemType: "apply_patch_call",
    idPrefix: "apc",
    outputType: "apply_patch_call_output",
    item: (args, { id, callId }) => {
      const type = typeof args.type === "string" && PATCH_OPERATIONS.includes(args.type) ? args.type : "update_file";
      const path = stringOr(args.path) ?? "";
      const operation = type === "delete_file" ? { type, path } : { type, path, diff: stringOr(args.diff) ?? "" };
      return { id, type: "apply_patch_call", call_id: callId, status: "completed", operation };
    },
    argumentsOf: (item) => objectOf(item.operation),
    outputText: (item) => {
      const output = stringOr(item.output);
      return `${stringOr(item.status) ?? "completed"}${output === null || output === "" ? "" : `: ${output}`}`;
    },
  },
};

export const isClientToolType = (type: unknown): type is ClientToolType =>
  typeof type === "string" && Object.hasOwn(CLIENT_TOOLS, type);

/** The client tool whose call or output item type this is. */
export function clientToolOfItem(
  itemType: string,
): { type: ClientToolType; tool: ClientTool; output: boolean } | undefined {
  for (const [type, tool] of Object.entries(CLIENT_TOOLS) as [ClientToolType, ClientTool][]) {
    if (tool.itemType === itemType) return { type, tool, output: false };
    if (tool.outputType === itemType) return { type, tool, output: true };
  }
  return undefined;
}
