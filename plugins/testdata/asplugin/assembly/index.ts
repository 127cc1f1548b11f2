// A v1 MCP plugin (the shape of mcp.run servlets and hyper-mcp v1) written
// against the Extism AssemblyScript PDK, used by Warden's tests to show that a
// plugin built with another vendor's PDK runs unchanged.
//
// Exports: describe -> {"tools":[...]}, call -> an MCP CallToolResult.

import { Config, Host, LogLevel, Memory } from "@extism/as-pdk";
// PDK 1.0.0 declares error_set and http_request (lib/env.ts) but has no wrapper
// for them (no Http class, no error helper), so call its declarations directly.
import { error_set, free, http_request, length } from "@extism/as-pdk/lib/env";
import { JSON } from "assemblyscript-json/assembly/index";

// Part of the Extism ABI that PDK 1.0.0 does not declare.
@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;

const TOOLS =
  '{"tools":[' +
  '{"name":"reverse","description":"Reverse a string",' +
  '"inputSchema":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}},' +
  '{"name":"fetch_status","description":"GET a URL and report the HTTP status and body length",' +
  '"inputSchema":{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}},' +
  '{"name":"config","description":"Read a plugin config value",' +
  '"inputSchema":{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}},' +
  '{"name":"fail","description":"Always fail with an ABI error",' +
  '"inputSchema":{"type":"object","properties":{}}}' +
  "]}";

// Replaces AssemblyScript's default `env.abort` import (see asconfig.json):
// report the message through the ABI's error_set, then trap.
function abort(
  message: string | null,
  fileName: string | null,
  line: u32,
  column: u32,
): void {
  let msg = message === null ? "abort" : message;
  if (fileName !== null) {
    msg += " (" + fileName + ":" + line.toString() + ":" + column.toString() + ")";
  }
  setError(msg);
  unreachable();
}

function setError(msg: string): void {
  error_set(Memory.allocateString(msg).offset);
}

// Host.outputString sizes the block by UTF-16 length, which is wrong for
// non-ASCII text, so encode to UTF-8 first and use Host.output.
function outputString(s: string): void {
  Host.output(Uint8Array.wrap(String.UTF8.encode(s)));
}

function jsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc = "";
    if (c == 0x22) esc = '\\"';
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c < 0x20) esc = "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else continue;
    out += s.substring(start, i) + esc;
    start = i + 1;
  }
  return out + s.substring(start) + '"';
}

function textResult(text: string, isError: bool): string {
  let r = '{"content":[{"type":"text","text":' + jsonString(text) + "}]";
  if (isError) r += ',"isError":true';
  return r + "}";
}

function stringArg(args: JSON.Obj, key: string): string | null {
  const v = args.getString(key);
  return v === null ? null : v.valueOf();
}

// Reverse by code point so surrogate pairs stay intact.
function reverse(s: string): string {
  let out = "";
  let i = s.length;
  while (i > 0) {
    let start = i - 1;
    const c = s.charCodeAt(start);
    if (c >= 0xdc00 && c <= 0xdfff && start > 0) {
      const h = s.charCodeAt(start - 1);
      if (h >= 0xd800 && h <= 0xdbff) start--;
    }
    out += s.substring(start, i);
    i = start;
  }
  return out;
}

function fetchStatus(url: string): string {
  const req =
    '{"method":"GET","url":' + jsonString(url) + ',"headers":{}}';
  const reqMem = Memory.allocateString(req);
  const bodyOff = http_request(reqMem.offset, 0);
  reqMem.free();
  const status = http_status_code();
  let n = 0;
  if (bodyOff != 0) {
    const body = new Memory(bodyOff, length(bodyOff)).toUint8Array();
    n = body.length;
    free(bodyOff);
  }
  return "status=" + status.toString() + " bytes=" + n.toString();
}

export function describe(): i32 {
  outputString(TOOLS);
  return 0;
}

export function call(): i32 {
  const input = JSON.parse(Host.input());
  if (!input.isObj) {
    setError("call: input is not a JSON object");
    return 1;
  }
  const params = (<JSON.Obj>input).getObj("params");
  if (params === null) {
    setError("call: input has no params object");
    return 1;
  }
  const nameVal = params.getString("name");
  if (nameVal === null) {
    setError("call: params.name missing");
    return 1;
  }
  const name = nameVal.valueOf();
  let args = params.getObj("arguments");
  if (args === null) args = new JSON.Obj();

  Host.log(LogLevel.Info, "asplugin: call " + name);

  if (name == "reverse") {
    const text = stringArg(args, "text");
    if (text === null) {
      outputString(textResult("missing string argument text", true));
    } else {
      outputString(textResult(reverse(text), false));
    }
    return 0;
  }
  if (name == "fetch_status") {
    const url = stringArg(args, "url");
    if (url === null) {
      outputString(textResult("missing string argument url", true));
    } else {
      outputString(textResult(fetchStatus(url), false));
    }
    return 0;
  }
  if (name == "config") {
    const key = stringArg(args, "key");
    if (key === null) {
      outputString(textResult("missing string argument key", true));
      return 0;
    }
    const v = Config.get(key);
    outputString(textResult(v === null ? "(unset)" : v, false));
    return 0;
  }
  if (name == "fail") {
    setError("deliberate failure");
    return 1;
  }
  outputString(textResult("unknown tool " + name, true));
  return 0;
}
