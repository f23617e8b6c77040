// Values the Node-side global setup hands to the Workers test pool.
declare module "vitest" {
  export interface ProvidedContext {
    upstreamPort: number;
  }
}
export {};
