"""The MCP hosts' config snippets for byom: this machine's paths, credentials only as placeholders."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["HostSnippet", "host_snippets", "http_host_snippets", "server_command"]


class HostSnippet(BaseModel):
    host: str
    where: str  # the file to put it in, or "shell"
    format: Literal["json", "shell"]
    text: str


def server_command() -> tuple[str, list[str]]:
    """The absolute command a host launches: the ``byom-mcp`` script beside this Python, else ``python -m``."""
    # Not resolved: a venv's python is a symlink, and resolving it would leave the venv.
    bindir = Path(os.path.abspath(sys.executable)).parent
    script = bindir / ("byom-mcp.exe" if os.name == "nt" else "byom-mcp")
    if script.exists():
        return str(script), []
    return os.path.abspath(sys.executable), ["-m", "byom", "mcp"]


def _claude_desktop_config() -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return (
            Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
            / "Claude"
            / "claude_desktop_config.json"
        )
    return home / ".config" / "Claude" / "claude_desktop_config.json"  # Linux builds of Claude Desktop


def host_snippets(command: str, args: list[str], env_names: list[str]) -> list[HostSnippet]:
    """Each host's config for byom with this machine's paths; ``env_names`` appear as placeholders only."""
    placeholders = {name: f"<your {name}>" for name in env_names}
    entry: dict[str, Any] = {"command": command, "args": args}
    if placeholders:
        entry["env"] = placeholders
    desktop = json.dumps({"mcpServers": {"byom": entry}}, indent=2)
    inputs = [
        {"type": "promptString", "id": _input_id(n), "description": n, "password": True} for n in env_names
    ]
    vscode_entry: dict[str, Any] = {"type": "stdio", "command": command, "args": args}
    if env_names:
        vscode_entry["env"] = {n: f"${{input:{_input_id(n)}}}" for n in env_names}
    vscode: dict[str, Any] = {"inputs": inputs} if inputs else {}
    vscode["servers"] = {"byom": vscode_entry}
    return [
        HostSnippet(host="Claude Desktop", where=str(_claude_desktop_config()), format="json", text=desktop),
        HostSnippet(
            host="Claude Code", where="shell", format="shell", text=_claude_code(command, args, env_names)
        ),
        HostSnippet(
            host="Cursor", where=str(Path.home() / ".cursor" / "mcp.json"), format="json", text=desktop
        ),
        HostSnippet(
            host="VS Code",
            where=str(Path(".vscode") / "mcp.json"),
            format="json",
            text=json.dumps(vscode, indent=2),
        ),
    ]


def http_host_snippets(url: str, token_file: Path | None) -> list[HostSnippet]:
    """Host configs for ``byom mcp --http`` at ``url``: each sends the bearer token it requires, read from
    ``token_file`` (generated on the server's first start), or from ``$BYOM_MCP_TOKEN`` when that is None.
    The token's value is never printed."""
    if token_file is None:
        shell_token = "$env:BYOM_MCP_TOKEN" if os.name == "nt" else "$BYOM_MCP_TOKEN"
        where = "the BYOM_MCP_TOKEN the server runs with"
    else:
        quoted = f"'{token_file}'" if os.name == "nt" else shlex.quote(str(token_file))
        shell_token = f"$(Get-Content {quoted})" if os.name == "nt" else f"$(cat {quoted})"
        where = f"the contents of {token_file}"
    claude = f'claude mcp add --transport http byom {url} --header "Authorization: Bearer {shell_token}"'
    vscode = {
        "inputs": [
            {
                "type": "promptString",
                "id": "byom-mcp-token",
                "description": f"byom's MCP token: {where}",
                "password": True,
            }
        ],
        "servers": {
            "byom": {
                "type": "http",
                "url": url,
                "headers": {"Authorization": "Bearer ${input:byom-mcp-token}"},
            }
        },
    }
    return [
        HostSnippet(host="Claude Code (byom mcp --http)", where="shell", format="shell", text=claude),
        HostSnippet(
            host="VS Code (byom mcp --http)",
            where=str(Path(".vscode") / "mcp.json"),
            format="json",
            text=json.dumps(vscode, indent=2),
        ),
    ]


def _input_id(name: str) -> str:
    return name.lower().replace("_", "-")


def _claude_code(command: str, args: list[str], env_names: list[str]) -> str:
    # The key comes from the user's own shell variable at add time: nothing secret is printed here.
    if os.name == "nt":
        envs = [f'--env "{n}=$env:{n}"' for n in env_names]
        tail = subprocess.list2cmdline([command, *args])
    else:
        envs = [f'--env {n}="${n}"' for n in env_names]
        tail = shlex.join([command, *args])
    return " ".join(["claude mcp add byom", *envs, "--", tail])
