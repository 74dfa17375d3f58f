// The official OpenAI Node SDK against azt: chat (plain, streamed, tools), responses (plain,
// streamed), and typed errors. Prints one JSON line of results; exits non-zero on failure.
import { createRequire } from "node:module";

// The SDK lives in azt's .e2e/node_modules, passed as the second argument.
const require = createRequire(`${process.argv[3]}/`);
const OpenAI = require("openai").default;

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: "sk-anything", maxRetries: 0 });
const user = (content) => [{ role: "user", content }];
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const results = {};

const chat = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: user("Reply with PONG only."),
});
results.chat = chat.choices[0].message.content;

const stream = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: user("Reply with one two three four."),
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let chunks = 0;
let usage = null;
for await (const chunk of stream) {
  chunks += 1;
  streamed += chunk.choices[0]?.delta?.content ?? "";
  usage = chunk.usage ?? usage;
}
results.chatStream = { text: streamed, chunks, usage: usage !== null };

const call = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: user("Use get_weather."),
  tools: [weather],
});
const toolCall = call.choices[0].message.tool_calls[0];
const answer = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: [
    ...user("Use get_weather."),
    call.choices[0].message,
    { role: "tool", tool_call_id: toolCall.id, content: "Sunny" },
  ],
  tools: [weather],
});
results.tools = {
  finish: call.choices[0].finish_reason,
  name: toolCall.function.name,
  answer: answer.choices[0].message.content,
};

const png =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const vision = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: [
    {
      role: "user",
      content: [
        { type: "text", text: "What is this?" },
        { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
      ],
    },
  ],
});
results.vision = vision.choices[0].message.content;

const structured = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: user("Weather in Paris?"),
  response_format: {
    type: "json_schema",
    json_schema: {
      name: "weather",
      strict: true,
      schema: {
        type: "object",
        properties: { city: { type: "string" }, sunny: { type: "boolean" } },
        required: ["city", "sunny"],
        additionalProperties: false,
      },
    },
  },
});
results.structured = JSON.parse(structured.choices[0].message.content);

const response = await client.responses.create({ model: "gpt-5.4", input: "Reply with PONG only." });
results.responses = response.output_text;

const events = [];
const responseStream = client.responses.stream({ model: "gpt-5.4", input: "Reply with PONG only." });
for await (const event of responseStream) events.push(event.type);
const final = await responseStream.finalResponse();
// The SDK's streamed final response carries `output`, not the `output_text` convenience.
const finalText = final.output
  .filter((item) => item.type === "message")
  .flatMap((item) => item.content.map((part) => part.text ?? ""))
  .join("");
results.responsesStream = { first: events[0], last: events.at(-1), text: finalText };

try {
  await client.chat.completions.create({ model: "gpt-0", messages: user("hi") });
  results.notFound = "no error";
} catch (error) {
  results.notFound = error instanceof OpenAI.NotFoundError ? error.code : String(error);
}

try {
  await client.chat.completions.create({ model: "gpt-5.4", messages: user("hi"), n: 2 });
  results.badRequest = "no error";
} catch (error) {
  results.badRequest = error instanceof OpenAI.BadRequestError ? error.param : String(error);
}

console.log(JSON.stringify(results));
