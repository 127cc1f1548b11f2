// MCP tasks (protocol 2025-11-25, experimental) with the official
// TypeScript SDK v1 client (@modelcontextprotocol/sdk 1.32.2,
// client.experimental.tasks) against two Warden replicas that share their
// task records: one client per replica. It prints a JSON summary that
// host/interop_test.go (TestInteropTSSDKTasks) checks.
//
//   WARDEN_URL=http://127.0.0.1:8080/mcp WARDEN_URL_B=http://127.0.0.1:8081/mcp node tasks-client.mjs
//
// Expects the slow example plugin: slow.work (taskSupport optional) and
// slow.report (required).
//
// The v2 client (@modelcontextprotocol/client 2.4.0) is not used here: it
// carries the 2025-11-25 task vocabulary "with no SDK runtime" and rejects a
// 2026-07-28 result with resultType "task" (UnsupportedResultType).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

const summary = { client: '@modelcontextprotocol/sdk@1.32.2 experimental tasks', failures: [] };
const fail = (msg) => summary.failures.push(msg);
const text = (result) => (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

async function connect(url) {
  const client = new Client({ name: 'warden-interop-tasks', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  await client.listTools(); // caches each tool's execution.taskSupport
  return client;
}

let a, b;
try {
  const urlA = process.env.WARDEN_URL;
  const urlB = process.env.WARDEN_URL_B;
  if (!urlA || !urlB) {
    throw new Error('set WARDEN_URL and WARDEN_URL_B to the two replicas\' MCP endpoints');
  }
  a = await connect(urlA);
  b = await connect(urlB);
  summary.capabilities = a.getServerCapabilities()?.tasks ?? null;
  summary.taskSupport = Object.fromEntries((await a.listTools()).tools.map((t) => [t.name, t.execution?.taskSupport ?? null]));

  // 1. Started through A (callToolStream polls A), watched and fetched on B.
  {
    const seen = [];
    let taskId, sawOnB, resultOnB;
    for await (const msg of a.experimental.tasks.callToolStream({ name: 'slow.work', arguments: { steps: 5, stepMillis: 100 } })) {
      seen.push(msg.type);
      if (msg.type === 'taskCreated') {
        taskId = msg.task.taskId;
        sawOnB = (await b.experimental.tasks.getTask(taskId)).status;
      } else if (msg.type === 'result') {
        summary.streamResult = text(msg.result);
      } else if (msg.type === 'error') {
        fail(`callToolStream slow.work: ${msg.error?.message ?? msg.error}`);
      }
    }
    if (taskId) {
      resultOnB = await b.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    }
    summary.completed = {
      taskId,
      messages: [...new Set(seen)],
      statusOnB: sawOnB,
      resultOnB: text(resultOnB),
      relatedTask: resultOnB?._meta?.['io.modelcontextprotocol/related-task']?.taskId ?? null,
      finalOnB: taskId ? (await b.experimental.tasks.getTask(taskId)).status : null
    };
  }

  // 2. Started through A, cancelled through B: the stream on A ends with
  //    the cancellation.
  {
    let taskId, cancelOnB, streamError;
    for await (const msg of a.experimental.tasks.callToolStream({ name: 'slow.work', arguments: { steps: 600, stepMillis: 100 } })) {
      if (msg.type === 'taskCreated') {
        taskId = msg.task.taskId;
      } else if (msg.type === 'taskStatus' && msg.task.status === 'working' && !cancelOnB) {
        cancelOnB = await b.experimental.tasks.cancelTask(taskId);
      } else if (msg.type === 'error') {
        streamError = String(msg.error?.message ?? msg.error);
      } else if (msg.type === 'result') {
        fail('the cancelled task produced a result');
      }
    }
    summary.cancelled = { taskId, cancelOnB: cancelOnB?.status ?? null, streamError: streamError ?? null,
      statusOnA: taskId ? (await a.experimental.tasks.getTask(taskId)).status : null };
  }

  // 3. A tool that must run as a task: callTool refuses it client-side,
  //    callToolStream runs it.
  {
    let refused = null;
    try {
      await a.callTool({ name: 'slow.report', arguments: { steps: 1, stepMillis: 1 } });
    } catch (err) {
      refused = String(err?.message ?? err);
    }
    let result = null;
    for await (const msg of a.experimental.tasks.callToolStream({ name: 'slow.report', arguments: { steps: 2, stepMillis: 10 } })) {
      if (msg.type === 'result') result = text(msg.result);
      if (msg.type === 'error') fail(`callToolStream slow.report: ${msg.error?.message ?? msg.error}`);
    }
    summary.required = { callToolRefused: refused, streamResult: result };
  }
} catch (err) {
  fail(String(err?.stack ?? err));
} finally {
  for (const c of [a, b]) {
    try {
      await c?.close();
    } catch (err) {
      fail(`close: ${err?.message ?? err}`);
    }
  }
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
process.exitCode = summary.failures.length === 0 ? 0 : 1;
