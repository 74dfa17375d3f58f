// The OpenAI Node SDK with its default base URL (https://api.openai.com/v1), reaching azt
// through its proxy listener. Node 20 has no HTTPS_PROXY support, so the program routes
// fetch through undici's ProxyAgent, as Node programs do; NODE_EXTRA_CA_CERTS trusts azt's CA.
import { createRequire } from "node:module";

const require = createRequire(`${process.argv[2]}/`);
const OpenAI = require("openai").default;
const { ProxyAgent, fetch } = require("undici");

const client = new OpenAI({
  apiKey: "sk-anything",
  maxRetries: 0,
  fetch,
  fetchOptions: { dispatcher: new ProxyAgent(process.env.HTTPS_PROXY) },
});
const reply = await client.chat.completions.create({
  model: "gpt-5.4",
  messages: [{ role: "user", content: "Reply with PONG only." }],
});
console.log(reply.choices[0].message.content);
