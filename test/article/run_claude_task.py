# The article's run_claude_task, verbatim but for the server address (argv[1]).
import httpx, time
import json, sys

BASE = sys.argv[1]


def run_claude_task(prompt, tools=None, timeout=120000):
    resp = httpx.post(BASE + "/execute", json={
        "prompt": prompt,
        "allowed_tools": tools or ["Read", "Glob", "Grep"],
        "timeout": timeout
    })
    session_id = resp.json()["session_id"]
    while True:
        time.sleep(5)
        status = httpx.get(f"{BASE}/sessions/{session_id}").json()
        if status["status"] in ("completed", "failed"):
            return status


print(json.dumps(run_claude_task(sys.argv[2], timeout=int(sys.argv[3]))))
