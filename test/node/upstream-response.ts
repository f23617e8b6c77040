// The Response object a model server sends before any output: every field OpenAI serializes, nulls
// included. Shared by the test mock (test/node/mock-upstream.ts) and the bench mock
// (bench/mock-upstream.ts); deliberately not the gateway's own constructor, which the mocks test.

export interface UpstreamResponseFields {
  id: string;
  createdAt: number;
  model: string;
  status: string;
  store: boolean;
}

export function upstreamResponse(fields: UpstreamResponseFields): Record<string, unknown> {
  return {
    id: fields.id,
    object: "response",
    created_at: fields.createdAt,
    status: fields.status,
    background: false,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    model: fields.model,
    output: [],
    parallel_tool_calls: true,
    previous_response_id: null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: "auto",
    store: fields.store,
    temperature: 1,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: "auto",
    tools: [],
    top_logprobs: 0,
    top_p: 1,
    truncation: "disabled",
    usage: null,
    user: null,
    metadata: {},
  };
}
