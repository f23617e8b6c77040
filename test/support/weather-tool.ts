// The Agents SDK function tool the client tests give their agents: `get_weather`, which notes each
// city it is called for and answers that it is sunny there; with `needsApproval`, a run stops for a
// person's approval before each call.
import { tool } from "@openai/agents";

export const weatherTool = (calls: string[], needsApproval = false) =>
  tool({
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false,
    },
    strict: true,
    needsApproval,
    execute: (input) => {
      const { city } = input as { city: string };
      calls.push(city);
      return `sunny in ${city}`;
    },
  });
