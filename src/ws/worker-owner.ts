// The socket's owner: the Worker request that answered the upgrade holds a WebSocketPair for the
// connection's life (billed for CPU only, dropped on deploy: clients see 1006 and reconnect). The
// one module that knows the owner; a Durable Object owner would replace it. Used by the upgrade route.

import { ResponsesSocket, type SessionOptions } from "./session";

export function acceptInWorker(options: SessionOptions, requestId: string): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  const session = new ResponsesSocket(
    { send: (text) => server.send(text), close: (code, reason) => server.close(code, reason) },
    options,
  );
  server.addEventListener("message", (event) => session.receive(event.data as string | ArrayBuffer));
  server.addEventListener("close", (event) => {
    session.disconnected();
    // Completes the closing handshake the client started.
    try {
      server.close(event.code === 1005 || event.code === 1006 ? 1000 : event.code, event.reason);
    } catch {
      // Already closed.
    }
  });
  server.addEventListener("error", () => session.disconnected());
  return new Response(null, { status: 101, webSocket: client, headers: { "x-request-id": requestId } });
}
