// `background_options` of a create (`openai` v7's `BackgroundOptions`): its fields' types, and the
// rule its type states: the discounted `2h` and `8h` completion windows need `background: true`,
// Standard processing and no `stream`. The gateway starts every background run at once, so a window
// only bounds when it ends; the options are never sent upstream (the gateway runs the background).

import { invalidRequest } from "../errors";
import { checkEnum, optional } from "./validation";

const WINDOWS = ["soonest", "2h", "8h"] as const;

/** Service tiers that are Standard processing: the project's default, or `default` itself. */
const STANDARD_TIERS: ReadonlySet<unknown> = new Set([undefined, null, "auto", "default"]);

export function validateBackgroundOptions(body: Record<string, unknown>, background: boolean, stream: boolean): void {
  const options = optional<Record<string, unknown>>(body, "background_options", "object");
  if (options === undefined) return;
  const param = "background_options.completion_window";
  const window = optional<string>(options, "completion_window", "string", true, param);
  checkEnum(param, window, WINDOWS);
  optional(options, "continuation_id", "string", true, "background_options.continuation_id");
  if (window === undefined || window === "soonest") return;
  const unmet = !background
    ? "'background' to be true"
    : stream
      ? "'stream' to be false or omitted"
      : !STANDARD_TIERS.has(body.service_tier)
        ? "Standard processing ('service_tier' 'auto' or 'default')"
        : null;
  if (unmet !== null)
    throw invalidRequest(
      `Invalid value for '${param}': the '${window}' completion window requires ${unmet}.`,
      param,
      "invalid_value",
    );
}
