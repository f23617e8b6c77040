// The Agents SDK function tool the client tests give their agents: `get_weather`, which notes each
// city it is called for and answers that it is sunny there.
import { tool } from "@openai/agents";

export const weatherTool = (calls: string[]) =>
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
    execute: (input) => {
      const { city } = input as { city: string };
      calls.push(city);
      return `sunny in ${city}`;
    },
  });
