"""Drives the Media Gateway MCP server with the official Python MCP SDK (PyPI `mcp`), for tests/mcp.rs.

    python mcp_client.py http  <url> <token> '<ops json>'
    python mcp_client.py stdio <mediagw binary> <api url> <token> '<ops json>'

Ops: {"op": "list"}, {"op": "call", "name": …, "args": {…}}, {"op": "read", "uri": …},
{"op": "prompt", "name": …, "args": {…}}. Prints one JSON list of results; an op that raises
records {"exception": "…"} and the session goes on.
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


def text_of(content):
    return "\n".join(getattr(c, "text", "") for c in content or [])


async def run_ops(session, ops):
    init = await session.initialize()
    out = [{"server": init.serverInfo.name, "protocol": str(init.protocolVersion),
            "capabilities": sorted(k for k, v in init.capabilities.model_dump().items() if v)}]
    for op in ops:
        try:
            kind = op["op"]
            if kind == "list":
                tools = (await session.list_tools()).tools
                out.append({
                    "tools": sorted(t.name for t in tools),
                    "schemas": {t.name: t.inputSchema for t in tools},
                    "resources": sorted(str(r.uri) for r in (await session.list_resources()).resources),
                    "templates": sorted(t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates),
                    "prompts": sorted(p.name for p in (await session.list_prompts()).prompts),
                })
            elif kind == "call":
                r = await session.call_tool(op["name"], op.get("args", {}))
                out.append({"is_error": bool(r.isError), "text": text_of(r.content), "structured": r.structuredContent})
            elif kind == "read":
                r = await session.read_resource(op["uri"])
                out.append({"text": "\n".join(getattr(c, "text", "") for c in r.contents)})
            elif kind == "prompt":
                r = await session.get_prompt(op["name"], arguments=op.get("args", {}))
                out.append({"text": "\n".join(m.content.text for m in r.messages)})
            else:
                out.append({"exception": f"unknown op {kind}"})
        except Exception as e:  # noqa: BLE001 - the test asserts on what failed
            out.append({"exception": f"{type(e).__name__}: {e}"})
    return out


async def main():
    mode = sys.argv[1]
    if mode == "http":
        url, token, ops = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
        async with streamablehttp_client(url, headers={"Authorization": f"Bearer {token}"}) as (read, write, _):
            async with ClientSession(read, write) as session:
                out = await run_ops(session, ops)
    else:
        binary, api, token, ops = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
        env = dict(os.environ, MEDIAGW_TOKEN=token, RUST_LOG="warn")
        params = StdioServerParameters(command=binary, args=["mcp", "--api", api], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await run_ops(session, ops)
    print(json.dumps(out))


asyncio.run(main())
