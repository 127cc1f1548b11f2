// Shared by the interop client scripts: which tools to call, and how to turn
// what came back into the JSON summary that host/interop_test.go checks.
//
// Environment:
//   WARDEN_URL        the MCP endpoint, e.g. http://127.0.0.1:8080/mcp (required)
//   WARDEN_FETCH_URL  a URL the fetch plugin is granted; fetch.get is skipped
//                     (and reported as skipped) when it is unset
//   WARDEN_CALLS      optional JSON array of {"name","arguments"} replacing
//                     the default calls

export function endpoint() {
  const url = process.env.WARDEN_URL;
  if (!url) {
    throw new Error('WARDEN_URL is not set: give the MCP endpoint, e.g. http://127.0.0.1:8080/mcp');
  }
  return new URL(url);
}

// One call per example plugin.
export function plannedCalls() {
  if (process.env.WARDEN_CALLS) {
    return { calls: JSON.parse(process.env.WARDEN_CALLS), skipped: [] };
  }
  const calls = [
    { name: 'hello.greet', arguments: { name: 'Ada' } },
    { name: 'hash.sha256', arguments: { text: 'abc' } },
    { name: 'secrets.sign', arguments: { message: 'hello' } },
    { name: 'files.list', arguments: { path: '' } }
  ];
  const skipped = [];
  if (process.env.WARDEN_FETCH_URL) {
    calls.push({ name: 'fetch.get', arguments: { url: process.env.WARDEN_FETCH_URL } });
  } else {
    skipped.push('fetch.get (WARDEN_FETCH_URL is not set)');
  }
  return { calls, skipped };
}

// summarizeCall keeps what the test asserts on: the text blocks, the content
// types, structured content and isError.
export function summarizeCall(result) {
  const content = Array.isArray(result?.content) ? result.content : [];
  return {
    isError: result?.isError === true,
    types: content.map((c) => c.type),
    text: content.filter((c) => c.type === 'text').map((c) => c.text).join('\n'),
    structuredContent: result?.structuredContent ?? null
  };
}

// runClient drives one client: connect (the caller's function), list tools,
// make every planned call, print the summary as one JSON object on stdout
// and exit non-zero when anything failed.
export async function runClient(name, connect) {
  const summary = { client: name, failures: [] };
  let close = async () => {};
  try {
    const conn = await connect(endpoint());
    close = conn.close;
    Object.assign(summary, conn.info);
    const tools = await conn.listTools();
    summary.tools = tools.map((t) => t.name);
    const { calls, skipped } = plannedCalls();
    summary.skipped = skipped;
    summary.calls = {};
    for (const call of calls) {
      if (!summary.tools.includes(call.name)) {
        summary.failures.push(`${call.name}: not in tools/list`);
        continue;
      }
      try {
        const res = summarizeCall(await conn.callTool(call));
        summary.calls[call.name] = res;
        if (res.isError) {
          summary.failures.push(`${call.name}: isError: ${res.text}`);
        }
      } catch (err) {
        summary.failures.push(`${call.name}: ${err?.message ?? err}`);
      }
    }
  } catch (err) {
    summary.failures.push(`${err?.stack ?? err}`);
  } finally {
    try {
      await close();
    } catch (err) {
      summary.failures.push(`close: ${err?.message ?? err}`);
    }
  }
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  process.exitCode = summary.failures.length === 0 ? 0 : 1;
}
