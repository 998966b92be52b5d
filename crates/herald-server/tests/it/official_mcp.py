#!/usr/bin/env python3
"""The official MCP Python SDK (`mcp` on PyPI) against herald's /mcp.

    python3 official_mcp.py URL KEY

Publishes an event through the `publish` tool, waits for it with `events_wait` on a fresh
consumer, acknowledges it, and prints one JSON line with what the SDK saw (the Rust test
checks it). Exits non-zero on any error.
"""

import asyncio
import json
import sys

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, key: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with streamable_http_client(url, http_client=http) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            names = sorted(t.name for t in tools.tools)
            first = await session.call_tool("events_wait", {"consumer": "py-sdk", "timeout_ms": 0})
            published = await session.call_tool(
                "publish", {"type": "ticket.created", "payload": {"subject": "from python"}}
            )
            waited = await session.call_tool("events_wait", {"consumer": "py-sdk", "timeout_ms": 5000})
            events = waited.structured_content["events"]
            acked = await session.call_tool(
                "events_ack", {"consumer": "py-sdk", "delivery_ids": [e["delivery_id"] for e in events]}
            )
            bad = await session.call_tool("events_wait", {"consumer": "bad name!"})
            print(json.dumps({
                "server": init.server_info.name,
                "protocol": init.protocol_version,
                "tools": names,
                "first_timed_out": first.structured_content["timed_out"],
                "published_id": published.structured_content["id"],
                "waited_ids": [e["event_id"] for e in events],
                "text_matches": json.loads(waited.content[0].text) == waited.structured_content,
                "acked": acked.structured_content["acked"],
                "bad_is_error": bool(bad.is_error),
            }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
