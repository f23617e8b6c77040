// Maps what an upstream answered instead of a stream (a 4xx/5xx body in whatever shape the server
// uses) to OpenAI's error envelope with the upstream's status. Shared by every protocol.

import { ApiError } from "../errors";
import { isPlainObject } from "../responses/validation";

const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

/** Longest upstream error message passed to a client; bodies can be whole HTML pages. */
const MAX_MESSAGE_LENGTH = 2000;

export function upstreamHttpError(status: number, bodyText: string, headers?: Headers): ApiError {
  let message: string | null = null;
  let type: string | null = null;
  let param: string | null = null;
  let code: string | null = null;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (isPlainObject(parsed)) {
      const error = parsed.error;
      if (isPlainObject(error)) {
        message = str(error.message);
        type = str(error.type);
        param = str(error.param);
        code = typeof error.code === "number" ? String(error.code) : str(error.code);
      } else if (typeof error === "string") {
        message = error;
      } else {
        message = str(parsed.message) ?? str(parsed.detail);
      }
    }
  } catch {
    message = bodyText.trim() === "" ? null : bodyText.trim();
  }
  message ??= `The upstream model server answered with HTTP ${status}.`;
  if (message.length > MAX_MESSAGE_LENGTH) message = `${message.slice(0, MAX_MESSAGE_LENGTH)}…`;
  const extra: Record<string, string> = {};
  // The client's SDK waits as the upstream asked (openai-node honours both headers).
  for (const name of ["retry-after", "retry-after-ms"]) {
    const value = headers?.get(name);
    if (value) extra[name] = value;
  }
  return new ApiError(status, message, {
    type: type ?? (status >= 500 ? "server_error" : status === 429 ? "rate_limit_error" : "invalid_request_error"),
    param,
    code,
    headers: extra,
  });
}
