// The official TypeScript SDK v1 client (@modelcontextprotocol/sdk 1.32.2,
// initialize era) against Warden: connect over Streamable HTTP, list the
// tools, call one tool of every example plugin, print a JSON summary.
//
//   WARDEN_URL=http://127.0.0.1:8080/mcp node ts-sdk-client.mjs
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { runClient } from './lib.mjs';

await runClient('@modelcontextprotocol/sdk@1.32.2', async (url) => {
  const client = new Client({ name: 'warden-interop-ts-sdk', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url);
  await client.connect(transport);
  return {
    info: {
      protocolVersion: transport.protocolVersion,
      sessionId: transport.sessionId ?? null,
      serverInfo: client.getServerVersion()
    },
    listTools: async () => {
      const tools = [];
      let cursor;
      do {
        const page = await client.listTools(cursor ? { cursor } : {});
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    },
    callTool: (call) => client.callTool(call),
    close: () => client.close()
  };
});
