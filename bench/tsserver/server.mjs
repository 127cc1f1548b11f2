// The TypeScript reference for Warden's benchmarks (bench/run): the official
// MCP TypeScript SDK serving the same greet tool as examples/hello, stateless,
// in the architecture Warden replaces — a fresh McpServer and a fresh
// StreamableHTTPServerTransport (no session IDs) for every POST.
//
//   npm ci && PORT=8081 node server.mjs
//
// Environment: PORT (default 0: any free port), HOST (default 127.0.0.1),
// JSON_RESPONSE=1 to answer with application/json instead of the SDK's
// default single-event text/event-stream, EXIT_ON_STDIN_EOF=1 to exit when
// standard input closes (bench/run sets it so that the server never outlives
// the harness). Once listening it prints one line to standard output:
//   listening http://HOST:PORT/mcp

import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT || 0);
const jsonResponse = process.env.JSON_RESPONSE === '1';

function newMcpServer() {
  const server = new McpServer({ name: 'warden-bench-ts', version: '1.0.0' });
  server.registerTool(
    'greet',
    {
      description: 'Say hello to someone by name.',
      inputSchema: { name: z.string().min(1).describe('Who to greet') },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}!` }] }),
  );
  return server;
}

function rpcError(res, status, code, message) {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

const httpServer = http.createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path !== '/mcp') {
    rpcError(res, 404, -32000, `no such path ${path}; the MCP endpoint is /mcp`);
    return;
  }
  if (req.method !== 'POST') {
    // Stateless: no standalone SSE stream (GET) and no sessions to end (DELETE).
    res.setHeader('Allow', 'POST');
    rpcError(res, 405, -32000, 'Method not allowed.');
    return;
  }
  const server = newMcpServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: jsonResponse,
  });
  res.on('close', () => {
    transport.close().catch(() => {});
    server.close().catch(() => {});
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res);
  } catch (err) {
    console.error('request failed:', err);
    rpcError(res, 500, -32603, 'Internal server error');
  }
});

httpServer.on('error', (err) => {
  console.error(err);
  process.exit(1);
});

httpServer.listen(port, host, () => {
  const addr = httpServer.address();
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  console.log(`listening http://${shown}:${addr.port}/mcp`);
});

function shutdown() {
  httpServer.close();
  httpServer.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (process.env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
