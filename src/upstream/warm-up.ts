// The upstream of a `generate: false` warm-up (issue 13; over a socket or HTTP): no model server is
// called; the answer is a Responses stream that creates the response and completes it with no
// output. It runs through the same normalizer, fold and recorder as any answer, so a stored warm-up
// is an ordinary stored response (its input items recorded) that later turns chain from. Used by
// `callUpstream`.

import { encodeFrame, SSE_HEADERS } from "../sse";

const ZERO_USAGE = {
  input_tokens: 0,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 0,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 0,
};

/** `response.created`, then `response.completed` with `output: []`; the normalizer fills in every other field. */
export function warmUpAnswer(): Response {
  const created = { type: "response.created", response: { status: "in_progress", output: [] } };
  const completed = {
    type: "response.completed",
    response: { status: "completed", output: [], completed_at: Math.floor(Date.now() / 1000), usage: ZERO_USAGE },
  };
  const body = [created, completed].map((event) => encodeFrame(event.type, JSON.stringify(event))).join("");
  return new Response(body, { headers: SSE_HEADERS });
}
