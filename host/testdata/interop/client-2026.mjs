// The official TypeScript SDK v2 client (@modelcontextprotocol/client 2.4.0)
// against Warden on protocol 2026-07-28: once with version negotiation
// "auto" (probe with server/discover, fall back to initialize only when the
// server is not modern) and once pinned to 2026-07-28 (no fallback). Each
// connection lists the tools and calls one tool of every example plugin;
// the summary holds both, with the negotiated version and era.
//
//   WARDEN_URL=http://127.0.0.1:8080/mcp node client-2026.mjs
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { runClient } from './lib.mjs';

const modes = { auto: 'auto', pinned: { pin: '2026-07-28' } };
const mode = process.argv[2] ?? 'auto';
if (!(mode in modes)) {
  console.error(`usage: node client-2026.mjs [${Object.keys(modes).join('|')}]`);
  process.exit(2);
}

await runClient(`@modelcontextprotocol/client@2.4.0 (${mode})`, async (url) => {
  const client = new Client(
    { name: 'warden-interop-client-2026', version: '1.0.0' },
    { versionNegotiation: { mode: modes[mode] } }
  );
  const transport = new StreamableHTTPClientTransport(url);
  await client.connect(transport);
  const discover = client.getDiscoverResult();
  return {
    info: {
      mode,
      protocolVersion: client.getNegotiatedProtocolVersion(),
      era: client.getProtocolEra(),
      sessionId: transport.sessionId ?? null,
      serverInfo: client.getServerVersion(),
      discoverSupportedVersions: discover?.supportedVersions ?? null
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
