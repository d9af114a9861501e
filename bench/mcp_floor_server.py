"""A bare MCP server with one tool shaped like foldrag's search (5 passages of 1,500 characters, no
retrieval): the SDK's own round trip, the floor under bench/mcp_overhead.py's figures."""

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel


class Out(BaseModel):
    passages: list[dict]


mcp = MCPServer(name="floor", log_level="WARNING")
TEXT = "x" * 1500


@mcp.tool()
async def search(query: str, k: int = 5) -> Out:
    return Out(passages=[{"n": i, "text": TEXT, "source": "a.md", "score": 0.5} for i in range(k)])


if __name__ == "__main__":
    mcp.run("stdio")
