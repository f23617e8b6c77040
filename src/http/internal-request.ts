// Requests the gateway builds for itself: the WebSocket owner runs each `response.create` through
// `POST /v1/responses` (src/ws/run-turn.ts) and marks a `generate: false` warm-up on the Request
// object. A symbol cannot arrive over the network, so no client can set the mark. Read by the create route.

const WARM_UP = Symbol("responses-gateway.warm-up");

type Marked = Request & { [WARM_UP]?: true };

/** Marks `request` as a warm-up: its response is created and recorded without calling the upstream. */
export function markWarmUp(request: Request): Request {
  (request as Marked)[WARM_UP] = true;
  return request;
}

export const isWarmUp = (request: Request): boolean => (request as Marked)[WARM_UP] === true;
